package ipmi_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/driverstest"
	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/internal/ipmitest"
)

// TestConformanceIPMISim runs the driver contract against OpenIPMI's
// ipmi_sim, checking the power state through the chassis script's files.
// ipmi_sim keeps the boot device but not the persistent flag, so the boot
// device is checked through the driver's getter here and through the
// script and ipmitool in TestIPMISimBootDevice.
func TestConformanceIPMISim(t *testing.T) {
	driverstest.Run(t, func(t *testing.T) driverstest.Target {
		s := ipmitest.StartSim(t)
		return driverstest.Target{
			Driver: ipmi.New(fastConfig()),
			Node:   nodeFor("conformance", s.Client),
			Power: func(t *testing.T) drivers.PowerState {
				if s.Power() {
					return drivers.PowerOn
				}
				return drivers.PowerOff
			},
			PowerTimeout: 15 * time.Second,
		}
	})
}

// TestIPMISimPower powers ipmi_sim on, off and through a reboot, and reads
// each result twice behind the driver's back: with ipmitool and from the
// chassis script, whose event log shows the power cycle.
func TestIPMISimPower(t *testing.T) {
	s := ipmitest.StartSim(t)
	d, n := ipmi.New(fastConfig()), nodeFor("n1", s.Client)
	ctx := ctxFor(t)
	for _, c := range []struct {
		action drivers.PowerAction
		want   drivers.PowerState
		events []string
	}{
		{drivers.ActionPowerOn, drivers.PowerOn, []string{"power 1"}},
		{drivers.ActionPowerOn, drivers.PowerOn, nil}, // already on: no BMC action
		{drivers.ActionReboot, drivers.PowerOn, []string{"power 0", "power 1"}},
		{drivers.ActionPowerOff, drivers.PowerOff, []string{"power 0"}},
		{drivers.ActionPowerOff, drivers.PowerOff, nil},
		{drivers.ActionReboot, drivers.PowerOn, []string{"power 1"}}, // a reboot of a node that is off powers it on
		{drivers.ActionSoftPowerOff, drivers.PowerOff, []string{"shutdown 1"}},
		{drivers.ActionSoftReboot, drivers.PowerOn, []string{"power 1"}},
	} {
		if err := s.ClearEvents(); err != nil {
			t.Fatal(err)
		}
		if err := d.SetPowerState(ctx, n, c.action, 0); err != nil {
			t.Fatalf("%s: %v", c.action, err)
		}
		if got := observedPower(t, s.Client); got != c.want {
			t.Fatalf("after %s ipmitool reads %q, want %q", c.action, got, c.want)
		}
		if got := s.Power(); got != (c.want == drivers.PowerOn) {
			t.Fatalf("after %s the chassis is on=%v", c.action, got)
		}
		if ev := s.Events(); !slices.Equal(ev, c.events) {
			t.Fatalf("after %s the chassis saw %q, want %q", c.action, ev, c.events)
		}
		if got, err := d.PowerState(ctx, n); err != nil || got != c.want {
			t.Fatalf("after %s the driver reads %q (%v)", c.action, got, err)
		}
	}
}

// TestIPMISimBootDevice sets pxe and disk, once and persistent, and checks
// the device ipmi_sim handed to the chassis script and what ipmitool reads
// back. ipmi_sim stores the device only (its answer never has the valid or
// persistent bit), so persistence cannot be observed on it: the driver
// reports it as unknown, and the simulator's IPMI face checks it.
func TestIPMISimBootDevice(t *testing.T) {
	s := ipmitest.StartSim(t)
	d, n := ipmi.New(fastConfig()), nodeFor("n1", s.Client)
	ctx := ctxFor(t)
	for _, c := range []struct {
		dev        drivers.BootDevice
		persistent bool
		script     string
		selector   int
	}{
		{drivers.BootPXE, false, "pxe", 1},
		{drivers.BootDisk, true, "default", 2},
		{drivers.BootPXE, true, "pxe", 1},
		{drivers.BootDisk, false, "default", 2},
		{drivers.BootCDROM, false, "cdrom", 5},
		{drivers.BootBIOS, true, "bios", 6},
	} {
		err := d.SetBootDevice(ctx, n, c.dev, drivers.BootOptions{Persistent: c.persistent, Mode: drivers.BootModeUEFI})
		if err != nil {
			t.Fatalf("SetBootDevice(%s, persistent=%v): %v", c.dev, c.persistent, err)
		}
		if got := s.BootDevice(); got != c.script {
			t.Fatalf("after SetBootDevice(%s) ipmi_sim chose %q, want %q", c.dev, got, c.script)
		}
		f, err := s.BootFlags(ctx)
		if err != nil || f.Selector != c.selector {
			t.Fatalf("after SetBootDevice(%s) ipmitool reads %+v (%v), want selector %d", c.dev, f, err, c.selector)
		}
		st, err := d.BootDevice(ctx, n)
		if err != nil || st.Device != c.dev || st.Persistent != nil {
			t.Fatalf("after SetBootDevice(%s) the driver reads %+v (%v), want the device and no persistence", c.dev, st, err)
		}
	}
}

// TestIPMISimErrors checks the typed errors: a wrong password is
// ErrBMCAuth (and the error does not hold the password), an NMI ipmi_sim
// refuses is ErrBMCRejected, a soft power off the OS ignores times out
// naming the state it stayed in.
func TestIPMISimErrors(t *testing.T) {
	s := ipmitest.StartSim(t)
	d := ipmi.New(fastConfig())
	ctx := ctxFor(t)

	bad := nodeFor("n1", s.Client)
	const wrong = "wrong-Pa55word"
	bad.Info[ipmi.InfoPassword] = wrong
	_, err := d.PowerState(ctx, bad)
	var de *drivers.DriverError
	if !errors.Is(err, drivers.ErrBMCAuth) || !errors.As(err, &de) || de.Driver != "ipmi" {
		t.Fatalf("wrong password: %v, want a DriverError that is ErrBMCAuth", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Fatalf("the error shows the password: %v", err)
	}
	unknown := nodeFor("n1", s.Client)
	unknown.Info[ipmi.InfoUsername] = "nobody"
	if _, err := d.PowerState(ctx, unknown); !errors.Is(err, drivers.ErrBMCAuth) {
		t.Fatalf("unknown user: %v, want ErrBMCAuth", err)
	}

	n := nodeFor("n1", s.Client)
	if err := d.SetPowerState(ctx, n, drivers.ActionPowerOn, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.InjectNMI(ctx, n); !errors.Is(err, drivers.ErrBMCRejected) {
		t.Fatalf("NMI on ipmi_sim (which refuses it): %v, want ErrBMCRejected", err)
	}
	if err := s.SetOSIgnoresShutdown(true); err != nil {
		t.Fatal(err)
	}
	err = d.SetPowerState(ctx, n, drivers.ActionSoftPowerOff, 300*time.Millisecond)
	var pt *drivers.PowerTimeoutError
	if !errors.As(err, &pt) || !errors.Is(err, drivers.ErrBMCTimeout) || pt.LastSeen != drivers.PowerOn || pt.Target != drivers.PowerOff {
		t.Fatalf("soft power off the OS ignores: %v, want a PowerTimeoutError with last state on", err)
	}
	if !s.Power() {
		t.Fatal("the chassis went off although its OS ignores soft shutdown")
	}
}

// TestUnreachable points the driver at a loopback port nothing listens on:
// the call fails with a timeout or unreachable error, cut off by the
// configured command timeout rather than by ipmitool's own retransmissions.
func TestUnreachable(t *testing.T) {
	cfg := fastConfig()
	cfg.CommandTimeout = time.Second
	d := ipmi.New(cfg)
	n := nodeFor("n1", ipmitest.Client{Host: "127.0.0.1", Port: ipmitest.FreeUDPPort(t), Username: "admin", Password: "pw"})
	start := time.Now()
	_, err := d.PowerState(ctxFor(t), n)
	took := time.Since(start)
	t.Logf("unreachable BMC: %v after %s", err, took.Round(time.Millisecond))
	// The cause, not a time: the agent's command timeout ended the call
	// ("no answer in time"; ipmitool giving up on its own after its
	// retransmissions would be another error), and the login-free probe
	// that follows a timeout found nothing there: ErrBMCUnreachable.
	if !errors.Is(err, drivers.ErrBMCUnreachable) || !strings.Contains(err.Error(), "no answer in time") {
		t.Fatalf("unreachable BMC: %v, want ErrBMCUnreachable after the command timeout", err)
	}
}
