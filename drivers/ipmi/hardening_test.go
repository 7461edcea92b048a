package ipmi_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// fakeIpmitool writes an ipmitool stand-in: a shell script that appends its
// arguments to calls.log in dir, then runs body (sh) with "$*" holding them.
func fakeIpmitool(t *testing.T, body string) (path, dir string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "ipmitool")
	script := "#!/bin/sh\necho \"$*\" >> " + filepath.Join(dir, "calls.log") + "\n" + body + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

// calls returns the argument lines fakeIpmitool recorded.
func calls(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "calls.log"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "_"))
}

func fakeNode(cipher string) drivers.Node {
	info := drivers.Info{ipmi.InfoAddress: "127.0.0.1", ipmi.InfoPort: float64(9), ipmi.InfoUsername: "admin", ipmi.InfoPassword: "pw-s3cret"}
	if cipher != "" {
		info[ipmi.InfoCipherSuite] = cipher
	}
	return drivers.Node{UUID: "fake", Info: info}
}

// TestHungIpmitoolKilledWithGroup: an ipmitool that hangs (here with a
// child of its own) is killed, child included, after the command timeout.
func TestHungIpmitoolKilledWithGroup(t *testing.T) {
	path, dir := fakeIpmitool(t, `sleep 300 & echo $! > `+"$(dirname $0)"+`/child.pid; wait`)
	cfg := fastConfig()
	cfg.Ipmitool, cfg.CommandTimeout, cfg.Retries = path, 200*time.Millisecond, -1
	d := ipmi.New(cfg)
	_, err := d.PowerState(ctxFor(t), fakeNode("3"))
	// Nothing listens at the node's address, so the probe after the
	// timeout finds the BMC silent: unreachable.
	if !errors.Is(err, drivers.ErrBMCUnreachable) || !strings.Contains(err.Error(), "no answer in time") {
		t.Fatalf("hung ipmitool: %v, want no answer in time from an unreachable BMC", err)
	}
	b, rerr := os.ReadFile(filepath.Join(dir, "child.pid"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	for c := ctxFor(t); c.Err() == nil; time.Sleep(10 * time.Millisecond) {
		// Gone, or a zombie waiting for init: either way killed.
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			return
		}
		if syscall.Kill(pid, 0) != nil {
			return
		}
	}
	t.Fatalf("ipmitool's child %d outlived the timeout", pid)
}

// TestCipherSuite17First: without a pinned suite the driver tries 17, falls
// back to 3 where the BMC cannot set up a session with 17, and keeps 3 for
// the BMC's later commands.
func TestCipherSuite17First(t *testing.T) {
	path, dir := fakeIpmitool(t, `case "$*" in *"-C 17"*) echo "Error: Unable to establish IPMI v2 / RMCP+ session" >&2; exit 1;; esac
echo "Chassis Power is on"`)
	cfg := fastConfig()
	cfg.Ipmitool = path
	d := ipmi.New(cfg)
	for range 2 {
		if st, err := d.PowerState(ctxFor(t), fakeNode("")); err != nil || st != drivers.PowerOn {
			t.Fatalf("power state %s, %v", st, err)
		}
	}
	var suites []string
	for _, c := range calls(t, dir) {
		_, after, _ := strings.Cut(c, "-C_")
		suites = append(suites, strings.SplitN(after, "_", 2)[0])
	}
	if strings.Join(suites, ",") != "17,3,3" {
		t.Fatalf("cipher suites tried: %v, want 17,3 then 3", suites)
	}
}

// TestBusyRetried: "Node busy" and "BMC initialization in progress" are
// retried; the command then succeeds.
func TestBusyRetried(t *testing.T) {
	for _, msg := range []string{"Node busy", "BMC initialization in progress"} {
		path, dir := fakeIpmitool(t, `n=$(wc -l < $(dirname $0)/calls.log)
if [ "$n" -lt 3 ]; then echo "Error: Unable to get Chassis Power Status: `+msg+`" >&2; exit 1; fi
echo "Chassis Power is off"`)
		cfg := fastConfig()
		cfg.Ipmitool = path
		d := ipmi.New(cfg)
		if st, err := d.PowerState(ctxFor(t), fakeNode("3")); err != nil || st != drivers.PowerOff {
			t.Fatalf("%s: power state %s, %v", msg, st, err)
		}
		if n := len(calls(t, dir)); n != 3 || d.Stats().Runs != 3 {
			t.Fatalf("%s: %d calls, %d runs counted; want 3", msg, n, d.Stats().Runs)
		}
	}
}

// TestBootSilentlyIgnored: a BMC that answers success to a boot device
// change but keeps the old device is an error.
func TestBootSilentlyIgnored(t *testing.T) {
	path, _ := fakeIpmitool(t, `case "$*" in *bootparam*) echo "Boot parameter data: 8008000000";; *) echo "Set Boot Device to pxe";; esac`)
	cfg := fastConfig()
	cfg.Ipmitool = path
	d := ipmi.New(cfg)
	err := d.SetBootDevice(ctxFor(t), fakeNode("3"), drivers.BootPXE, drivers.BootOptions{})
	if !errors.Is(err, drivers.ErrBMCFailed) || !strings.Contains(err.Error(), "reads disk") {
		t.Fatalf("ignored boot change: %v", err)
	}
}

// TestRunsPerOperation measures what each operation costs in ipmitool runs
// against the simulator's IPMI face: the state is read once before acting,
// a node already there gets no action, a boot change is read back.
func TestRunsPerOperation(t *testing.T) {
	sim, face := simFleet(t, 1, simulator.Config{})
	id := sim.SystemIDs()[0]
	if err := sim.System(id).SetPowerState(simulator.PowerOff); err != nil {
		t.Fatal(err)
	}
	d, n := ipmi.New(fastConfig()), nodeFor(id, faceClient(face, id))
	ctx := ctxFor(t)
	cost := func(name string, want uint64, op func() error) {
		t.Helper()
		before := d.Stats().Runs
		if err := op(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := d.Stats().Runs - before; got != want {
			t.Errorf("%s: %d ipmitool runs, want %d", name, got, want)
		}
	}
	cost("power state", 1, func() error { _, err := d.PowerState(ctx, n); return err })
	cost("power on from off", 3, func() error { return d.SetPowerState(ctx, n, drivers.ActionPowerOn, 0) })
	cost("power on when on", 1, func() error { return d.SetPowerState(ctx, n, drivers.ActionPowerOn, 0) })
	cost("reboot", 3, func() error { return d.SetPowerState(ctx, n, drivers.ActionReboot, 0) })
	cost("boot device", 2, func() error {
		return d.SetBootDevice(ctx, n, drivers.BootPXE, drivers.BootOptions{Persistent: true})
	})
}
