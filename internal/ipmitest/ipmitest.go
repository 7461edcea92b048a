// Package ipmitest gives tests real IPMI-over-LAN peers and an independent way
// to read them.
//
// StartSim starts OpenIPMI's ipmi_sim on a free 127.0.0.1 UDP port with a
// generated lan.conf, emulator command file and chassis_control script: a
// small /bin/sh program that keeps the machine's power state and boot device
// in files, so that power and boot changes are observable behind the BMC's
// back (Sim.Power, Sim.BootDevice, Sim.Events). The simulator is stopped and
// its files removed when the test ends, and it is killed if the test binary
// dies (Pdeathsig). A machine without ipmi_sim fails the test: nothing is
// skipped.
//
// Client runs the real ipmitool against any peer, with the password passed
// through the environment (-E), never on the command line: it is the
// independent observer of the IPMI driver's tests and the baseline of its
// benchmark.
package ipmitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Client runs ipmitool against one BMC. The zero CipherSuite means 3, which
// both ipmi_sim and the project's simulator speak (ipmi_sim answers nothing
// else without a ten-second wait).
type Client struct {
	Host     string
	Port     int
	Username string
	Password string
	// CipherSuite is passed as -C (default 3).
	CipherSuite int
	// Ipmitool is the program to run (default: "ipmitool" on PATH).
	Ipmitool string
}

// Args returns the command line Run uses before the command itself. The
// password is not part of it.
func (c Client) Args() []string {
	cs := c.CipherSuite
	if cs == 0 {
		cs = 3
	}
	return []string{"-I", "lanplus", "-C", strconv.Itoa(cs), "-N", "1", "-R", "2",
		"-H", c.Host, "-p", strconv.Itoa(c.Port), "-U", c.Username, "-E"}
}

// Run runs `ipmitool ARGS... command...` and returns its combined output.
func (c Client) Run(ctx context.Context, command ...string) (string, error) {
	prog := c.Ipmitool
	if prog == "" {
		prog = "ipmitool"
	}
	cmd := exec.CommandContext(ctx, prog, append(c.Args(), command...)...)
	cmd.Env = []string{"IPMITOOL_PASSWORD=" + c.Password, "PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ipmitool %s: %w: %s", strings.Join(command, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// PowerOn reads the chassis power state with `chassis power status`.
func (c Client) PowerOn(ctx context.Context) (bool, error) {
	out, err := c.Run(ctx, "chassis", "power", "status")
	if err != nil {
		return false, err
	}
	switch {
	case strings.Contains(out, "Chassis Power is on"):
		return true, nil
	case strings.Contains(out, "Chassis Power is off"):
		return false, nil
	}
	return false, fmt.Errorf("ipmitool: unexpected power status %q", out)
}

// BootFlags is what `chassis bootparam get 5` reports.
type BootFlags struct {
	Valid, Persistent, EFI bool
	// Selector is the boot device selector (bits 5:2 of data byte 2):
	// 1 PXE, 2 disk, 3 disk safe mode, 5 CD/DVD, 6 BIOS setup, 15 floppy.
	Selector int
}

// BootFlags reads boot option parameter 5 with ipmitool.
func (c Client) BootFlags(ctx context.Context) (BootFlags, error) {
	out, err := c.Run(ctx, "chassis", "bootparam", "get", "5")
	if err != nil {
		return BootFlags{}, err
	}
	_, data, ok := strings.Cut(out, "Boot parameter data: ")
	if !ok || len(data) < 4 {
		return BootFlags{}, fmt.Errorf("ipmitool: no boot parameter data in %q", out)
	}
	b0, err0 := strconv.ParseUint(data[0:2], 16, 8)
	b1, err1 := strconv.ParseUint(data[2:4], 16, 8)
	if err0 != nil || err1 != nil {
		return BootFlags{}, fmt.Errorf("ipmitool: bad boot parameter data in %q", out)
	}
	return BootFlags{
		Valid: b0&0x80 != 0, Persistent: b0&0x40 != 0, EFI: b0&0x20 != 0,
		Selector: int(b1>>2) & 0x0f,
	}, nil
}

// Sim is a running ipmi_sim.
type Sim struct {
	// Client reaches the simulator with its admin user.
	Client
	dir string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// The credentials of the simulated BMC's administrator.
const (
	SimUser     = "admin"
	SimPassword = "ipmi-sim-secret"
)

// chassisScript is the chassis_control program: ipmi_sim runs it as
// `script STATEDIR get power boot` (it prints power:0|1 and boot:<name>) and
// `script STATEDIR set power 1 ...`. It keeps power and boot device in files
// and appends every change to STATEDIR/events, one a line, so tests can see
// a power cycle (power 0 then power 1), a hard reset, a soft shutdown and the
// device chosen. Only shell builtins are used, so PATH does not matter.
const chassisScript = `#!/bin/sh
d="$1"; shift
op="$1"; shift
if [ "$op" = get ]; then
	for k in "$@"; do
		case "$k" in
		power) v=0; [ -f "$d/power" ] && read -r v < "$d/power"; echo "power:$v";;
		boot) v=default; [ -f "$d/boot" ] && read -r v < "$d/boot"; echo "boot:$v";;
		esac
	done
	exit 0
fi
while [ $# -ge 2 ]; do
	case "$1" in
	power) echo "$2" > "$d/power"; echo "power $2" >> "$d/events";;
	boot) echo "$2" > "$d/boot"; echo "boot $2" >> "$d/events";;
	reset) echo "reset $2" >> "$d/events";;
	shutdown)
		echo "shutdown $2" >> "$d/events"
		[ -f "$d/os-ignores-shutdown" ] || echo 0 > "$d/power";;
	*) echo "$1 $2" >> "$d/events";;
	esac
	shift 2
done
exit 0
`

// StartSim starts ipmi_sim for the test and stops it when the test ends.
func StartSim(t testing.TB) *Sim {
	t.Helper()
	s, err := startSim()
	if err != nil {
		t.Fatalf("ipmitest: ipmi_sim is required for this test: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("ipmitest: %v", err)
		}
	})
	return s
}

func startSim() (*Sim, error) {
	bin, err := exec.LookPath("ipmi_sim")
	if err != nil {
		return nil, fmt.Errorf("%w (install Debian's openipmi package)", err)
	}
	if _, err := exec.LookPath("ipmitool"); err != nil {
		return nil, fmt.Errorf("%w (install Debian's ipmitool package)", err)
	}
	dir, err := os.MkdirTemp("", "bmc-agent-ipmisim-")
	if err != nil {
		return nil, err
	}
	s := &Sim{dir: dir, Client: Client{Host: "127.0.0.1", Username: SimUser, Password: SimPassword}}
	for _, sub := range []string{"state", "chassis"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	script := filepath.Join(dir, "chassis.sh")
	emu := filepath.Join(dir, "cmds.emu")
	if err := os.WriteFile(script, []byte(chassisScript), 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// An MC at 0x20 with device SDRs off, IPMI 2.0, chassis device support.
	if err := os.WriteFile(emu, []byte("mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var lastErr error
	for range 5 {
		port, err := freeUDPPort()
		if err != nil {
			lastErr = err
			continue
		}
		s.Port = port
		conf := filepath.Join(dir, "lan.conf")
		if err := os.WriteFile(conf, []byte(lanConf(port, script, filepath.Join(dir, "chassis"))), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if lastErr = s.start(bin, conf, emu); lastErr == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// lanConf is ipmi_sim's configuration: one LAN channel on 127.0.0.1:port,
// the admin user, and the chassis_control script.
func lanConf(port int, script, stateDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name \"bmcagent\"\nset_working_mc 0x20\n  startlan 1\n    addr 127.0.0.1 %d\n    priv_limit admin\n", port)
	for _, p := range []string{"callback", "user", "operator", "admin"} {
		fmt.Fprintf(&b, "    allowed_auths_%s none md2 md5 straight\n", p)
	}
	b.WriteString("    guid a123456789abcdefa123456789abcdef\n  endlan\n")
	fmt.Fprintf(&b, "  chassis_control \"%s %s\"\n", script, stateDir)
	fmt.Fprintf(&b, "  user 2 true \"%s\" \"%s\" admin 10 none md2 md5 straight\n", SimUser, SimPassword)
	return b.String()
}

// start runs ipmi_sim and waits until it answers ipmitool, or fails.
func (s *Sim) start(bin, conf, emu string) error {
	cmd := exec.Command(bin, "-n", "-c", conf, "-f", emu, "-s", filepath.Join(s.dir, "state"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The simulator dies with the test binary, even if the binary crashes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := s.PowerOn(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("ipmi_sim exited: %s", bytes.TrimSpace(out.Bytes()))
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("ipmi_sim did not answer on port %d: %w", s.Port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Sim) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Stop kills the simulator and removes its files. It is safe to call twice.
func (s *Sim) Stop() error {
	s.kill()
	if s.dir == "" {
		return nil
	}
	err := os.RemoveAll(s.dir)
	s.dir = ""
	return err
}

// Pid returns the simulator's process id (0 once stopped).
func (s *Sim) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Dir is the directory of the simulator's configuration and state; Stop
// removes it.
func (s *Sim) Dir() string { return s.dir }

func (s *Sim) file(name string) string { return filepath.Join(s.dir, "chassis", name) }

// Power reads the machine's power state from the chassis script's files,
// behind the BMC's back.
func (s *Sim) Power() bool {
	b, _ := os.ReadFile(s.file("power"))
	return strings.TrimSpace(string(b)) == "1"
}

// SetPower changes the machine's power state behind the BMC's back.
func (s *Sim) SetPower(on bool) error {
	v := "0\n"
	if on {
		v = "1\n"
	}
	return os.WriteFile(s.file("power"), []byte(v), 0o600)
}

// BootDevice reads the boot device ipmi_sim last handed to the chassis
// script: "pxe", "default" (the disk), "cdrom", "bios", ...; "" if none.
func (s *Sim) BootDevice() string {
	b, _ := os.ReadFile(s.file("boot"))
	return strings.TrimSpace(string(b))
}

// Events returns the changes the chassis script saw, oldest first:
// "power 1", "power 0", "reset 1", "shutdown 1", "boot pxe", ...
func (s *Sim) Events() []string {
	b, _ := os.ReadFile(s.file("events"))
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// ClearEvents forgets the events seen so far.
func (s *Sim) ClearEvents() error {
	err := os.Remove(s.file("events"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// SetOSIgnoresShutdown makes the simulated OS ignore soft shutdown requests.
func (s *Sim) SetOSIgnoresShutdown(ignore bool) error {
	if ignore {
		return os.WriteFile(s.file("os-ignores-shutdown"), nil, 0o600)
	}
	err := os.Remove(s.file("os-ignores-shutdown"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// freeUDPPort asks the kernel for a free UDP port on 127.0.0.1. Another
// process may take it before it is used; StartSim retries then.
func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that nothing listens on at the
// time of the call: a stand-in for an unreachable BMC.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	p, err := freeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
