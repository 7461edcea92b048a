package ipmitest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/internal/ipmitest"
)

// TestSim starts ipmi_sim and checks, through ipmitool, that the chassis
// script makes power and boot changes observable, then that Stop ends the
// process and removes its files.
func TestSim(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := ipmitest.StartSim(t)
	if on, err := s.PowerOn(ctx); err != nil || on {
		t.Fatalf("a new simulator reads on=%v (%v), want off", on, err)
	}
	if _, err := s.Run(ctx, "chassis", "power", "on"); err != nil {
		t.Fatal(err)
	}
	if !s.Power() {
		t.Fatal("power on did not reach the chassis script")
	}
	if on, err := s.PowerOn(ctx); err != nil || !on {
		t.Fatalf("after power on ipmitool reads on=%v (%v)", on, err)
	}
	if _, err := s.Run(ctx, "chassis", "bootdev", "pxe"); err != nil {
		t.Fatal(err)
	}
	if got := s.BootDevice(); got != "pxe" {
		t.Fatalf("boot device %q, want pxe", got)
	}
	if f, err := s.BootFlags(ctx); err != nil || f.Selector != 1 {
		t.Fatalf("boot flags %+v (%v), want selector 1 (PXE)", f, err)
	}
	if err := s.SetPower(false); err != nil {
		t.Fatal(err)
	}
	if on, err := s.PowerOn(ctx); err != nil || on {
		t.Fatalf("after an out-of-band power off ipmitool reads on=%v (%v)", on, err)
	}
	if ev := s.Events(); !slices.Equal(ev, []string{"power 1", "boot pxe"}) {
		t.Fatalf("events %q", ev)
	}
	wrong := s.Client
	wrong.Password = "not-" + s.Password
	if _, err := wrong.PowerOn(ctx); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	pid := s.Pid()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("ipmi_sim (pid %d) still runs after Stop", pid)
	}
}

// TestSimDiesWithTestBinary runs this test binary again as a helper that
// starts ipmi_sim and exits without any cleanup, as a crashed test would,
// and checks that the simulator does not survive it.
func TestSimDiesWithTestBinary(t *testing.T) {
	if os.Getenv("BMC_AGENT_IPMITEST_HELPER") == "1" {
		s := ipmitest.StartSim(t)
		fmt.Println("pid", s.Pid())
		fmt.Println("dir", s.Dir())
		os.Exit(3) // no t.Cleanup runs
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSimDiesWithTestBinary$")
	cmd.Env = append(os.Environ(), "BMC_AGENT_IPMITEST_HELPER=1")
	out, _ := cmd.CombinedOutput()
	var (
		pid int
		dir string
	)
	for _, line := range strings.Split(string(out), "\n") {
		fmt.Sscanf(line, "pid %d", &pid)
		fmt.Sscanf(line, "dir %s", &dir)
	}
	if strings.HasPrefix(filepath.Base(dir), "bmc-agent-ipmisim-") {
		defer os.RemoveAll(dir) // the crashed helper could not
	}
	if pid == 0 {
		t.Fatalf("helper printed no pid: %s", out)
	}
	deadline := time.Now().Add(time.Minute)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("ipmi_sim (pid %d) outlived the test binary that started it", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}
