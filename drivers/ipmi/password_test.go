package ipmi_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/internal/ipmitest"
)

// TestPasswordNeverOnACommandLine runs every driver method against ipmi_sim
// through an ipmitool wrapper that records the command line of each
// ipmitool process the driver starts, while another goroutine scans
// /proc/*/cmdline of every process on the machine. The password appears in
// neither, nor in the driver's debug logs or errors; the wrapper also checks
// that the password did reach ipmitool, through its environment.
func TestPasswordNeverOnACommandLine(t *testing.T) {
	s := ipmitest.StartSim(t)
	real, err := exec.LookPath("ipmitool")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	argvLog := filepath.Join(dir, "argv")
	shim := filepath.Join(dir, "ipmitool")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %s\n[ -n \"$IPMITOOL_PASSWORD\" ] && echo password-in-env >> %s\nexec %s \"$@\"\n", argvLog, argvLog, real)
	if err := os.WriteFile(shim, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	cfg := fastConfig()
	cfg.Ipmitool = shim
	cfg.Logger = slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := ipmi.New(cfg)
	n := nodeFor("n1", s.Client)

	// Scan the process table while the driver works.
	scanCtx, stopScan := context.WithCancel(context.Background())
	var (
		scanned  []string
		scanDone = make(chan struct{})
	)
	go func() {
		defer close(scanDone)
		for scanCtx.Err() == nil {
			scanned = append(scanned, processesMatching("ipmitool")...)
		}
	}()

	ctx := ctxFor(t)
	var errs []error
	call := func(err error) { errs = append(errs, err) }
	call(d.SetPowerState(ctx, n, drivers.ActionPowerOn, 0))
	_, err = d.PowerState(ctx, n)
	call(err)
	call(d.SetBootDevice(ctx, n, drivers.BootPXE, drivers.BootOptions{Persistent: true, Mode: drivers.BootModeUEFI}))
	_, err = d.BootDevice(ctx, n)
	call(err)
	call(d.SetPowerState(ctx, n, drivers.ActionReboot, 0))
	call(d.SetPowerState(ctx, n, drivers.ActionPowerOff, 0))
	call(d.Check(ctx, n))
	_, err = d.Telemetry(ctx, n) // SDR dump, a refused DCMI read, the read
	call(err)
	t.Cleanup(func() { d.Close(context.Background()) })
	nmiErr := d.InjectNMI(ctx, n) // ipmi_sim refuses it: an error path
	wrong := nodeFor("n1", s.Client)
	const wrongPassword = "Wr0ng-but-s3cret"
	wrong.Info[ipmi.InfoPassword] = wrongPassword
	_, authErr := d.PowerState(ctx, wrong)
	stopScan()
	<-scanDone

	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, secret := range []string{s.Password, wrongPassword} {
		for _, err := range []error{nmiErr, authErr} {
			if err == nil || strings.Contains(err.Error(), secret) {
				t.Fatalf("error %v: want an error without the password", err)
			}
		}
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the driver's logs show a password:\n%s", logs.String())
		}
		for _, c := range scanned {
			if strings.Contains(c, secret) {
				t.Fatalf("a process command line shows a password: %q", c)
			}
		}
	}
	b, err := os.ReadFile(argvLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var runs, withEnv int
	for _, l := range lines {
		switch {
		case l == "password-in-env":
			withEnv++
		case strings.Contains(l, s.Password) || strings.Contains(l, wrongPassword):
			t.Fatalf("ipmitool ran with the password on its command line: %q", l)
		case !strings.Contains(l, "-E"):
			t.Fatalf("ipmitool ran without -E: %q", l)
		default:
			runs++
		}
	}
	if runs < 10 || withEnv != runs {
		t.Fatalf("%d ipmitool runs recorded, %d with the password in the environment", runs, withEnv)
	}
	if len(scanned) == 0 {
		t.Fatal("the process scan never saw an ipmitool process")
	}
	t.Logf("%d ipmitool runs recorded; %d command lines seen in /proc", runs, len(scanned))
}

// processesMatching returns the command lines in /proc that contain word.
func processesMatching(word string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(word)) {
			continue
		}
		out = append(out, string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
	}
	return out
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
