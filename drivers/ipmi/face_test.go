package ipmi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/driverstest"
	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/internal/ipmitest"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/ipmisim"
)

// simFleet starts the project's simulator with its IPMI face (no Redfish
// listener: the state is read from the simulator directly).
func simFleet(t testing.TB, systems int, cfg simulator.Config) (*simulator.Simulator, *ipmisim.Face) {
	t.Helper()
	cfg.Systems = systems
	sim, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	face := ipmisim.New(sim, ipmisim.Config{})
	if err := face.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		face.Close()
		sim.Close()
	})
	return sim, face
}

func faceClient(face *ipmisim.Face, id string) ipmitest.Client {
	return ipmitest.Client{Host: "127.0.0.1", Port: face.Port(id), Username: "admin", Password: "password"}
}

// TestConformanceSimulator runs the driver contract against the
// simulator's IPMI face, checking power and boot override in the
// simulator's own state.
func TestConformanceSimulator(t *testing.T) {
	driverstest.Run(t, func(t *testing.T) driverstest.Target {
		sim, face := simFleet(t, 1, simulator.Config{})
		id := sim.SystemIDs()[0]
		sys := sim.System(id)
		return driverstest.Target{
			Driver: ipmi.New(fastConfig()),
			Node:   nodeFor(id, faceClient(face, id)),
			Power: func(t *testing.T) drivers.PowerState {
				if sys.PowerState() == simulator.PowerOn {
					return drivers.PowerOn
				}
				return drivers.PowerOff
			},
			BootDevice: func(t *testing.T) (drivers.BootDevice, bool) {
				o := sys.BootOverride()
				dev := map[simulator.BootSource]drivers.BootDevice{simulator.BootPxe: drivers.BootPXE, simulator.BootHdd: drivers.BootDisk}[o.Target]
				return dev, o.Enabled == simulator.BootContinuous
			},
			PowerTimeout: 15 * time.Second,
		}
	})
}

// settled waits until the system has no power transition pending: the
// cause the assertions after a reboot need, rather than a pause that a
// loaded machine may outlast.
func settled(t *testing.T, sys *simulator.System) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if _, pending := sys.Transition(); !pending {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the system's power transition never completed")
		}
	}
}

// TestSimulatorObserved sets power and boot device through the driver and
// reads each result with ipmitool and from the simulator's state, with a
// power delay so that the driver's wait is exercised.
func TestSimulatorObserved(t *testing.T) {
	sim, face := simFleet(t, 1, simulator.Config{PowerDelay: 200 * time.Millisecond})
	id := sim.SystemIDs()[0]
	sys := sim.System(id)
	c := faceClient(face, id)
	d, n := ipmi.New(fastConfig()), nodeFor(id, c)
	ctx := ctxFor(t)
	for _, st := range []struct {
		action drivers.PowerAction
		want   drivers.PowerState
		boots  int
	}{
		{drivers.ActionPowerOn, drivers.PowerOn, 1},
		{drivers.ActionReboot, drivers.PowerOn, 2},
		{drivers.ActionPowerOff, drivers.PowerOff, 2},
		{drivers.ActionReboot, drivers.PowerOn, 3},
		{drivers.ActionSoftReboot, drivers.PowerOn, 4},
		{drivers.ActionSoftPowerOff, drivers.PowerOff, 4},
	} {
		if err := d.SetPowerState(ctx, n, st.action, 0); err != nil {
			t.Fatalf("%s: %v", st.action, err)
		}
		if _, pending := sys.Transition(); pending && st.action != drivers.ActionReboot {
			t.Fatalf("%s returned with a transition pending", st.action)
		}
		settled(t, sys) // a reboot's transition completes before the boots are counted
		if got := observedPower(t, c); got != st.want {
			t.Fatalf("after %s ipmitool reads %q", st.action, got)
		}
		if b := sys.BootedFrom().Count; b != st.boots {
			t.Fatalf("after %s the system booted %d times, want %d", st.action, b, st.boots)
		}
	}
	for _, bc := range []struct {
		dev        drivers.BootDevice
		persistent bool
		uefi       bool
		src        simulator.BootSource
		sel        int
	}{
		{drivers.BootPXE, false, true, simulator.BootPxe, 1},
		{drivers.BootDisk, true, false, simulator.BootHdd, 2},
		{drivers.BootPXE, true, true, simulator.BootPxe, 1},
		{drivers.BootDisk, false, true, simulator.BootHdd, 2},
		{drivers.BootCDROM, false, false, simulator.BootCd, 5},
	} {
		mode := drivers.BootModeBIOS
		if bc.uefi {
			mode = drivers.BootModeUEFI
		}
		if err := d.SetBootDevice(ctx, n, bc.dev, drivers.BootOptions{Persistent: bc.persistent, Mode: mode}); err != nil {
			t.Fatal(err)
		}
		o := sys.BootOverride()
		if o.Target != bc.src || (o.Enabled == simulator.BootContinuous) != bc.persistent || (o.Mode == simulator.BootModeUEFI) != bc.uefi {
			t.Fatalf("after SetBootDevice(%s, persistent=%v, uefi=%v) the system has %+v", bc.dev, bc.persistent, bc.uefi, o)
		}
		f, err := c.BootFlags(ctx)
		if err != nil || f != (ipmitest.BootFlags{Valid: true, Persistent: bc.persistent, EFI: bc.uefi, Selector: bc.sel}) {
			t.Fatalf("after SetBootDevice(%s) ipmitool reads %+v (%v)", bc.dev, f, err)
		}
		st, err := d.BootDevice(ctx, n)
		if err != nil || st.Device != bc.dev || st.Persistent == nil || *st.Persistent != bc.persistent {
			t.Fatalf("after SetBootDevice(%s) the driver reads %+v (%v)", bc.dev, st, err)
		}
	}
	// A one-time override is consumed by the next boot.
	if err := d.SetPowerState(ctx, n, drivers.ActionReboot, 0); err != nil {
		t.Fatal(err)
	}
	settled(t, sys)
	if st, err := d.BootDevice(ctx, n); err != nil || st.Device != drivers.NoBootDevice {
		t.Fatalf("after a boot the one-time override reads %+v (%v)", st, err)
	}
	if err := d.InjectNMI(ctx, n); err != nil || sys.NMIs() != 1 {
		t.Fatalf("NMI: %v, the system counted %d", err, sys.NMIs())
	}
	if o := sys.Overlaps(); o != 0 {
		t.Fatalf("%d overlapping mutations", o)
	}
}

// TestSimulatorFaults checks the typed errors and the retries against the
// face's fault injection.
func TestSimulatorFaults(t *testing.T) {
	sim, face := simFleet(t, 1, simulator.Config{})
	id := sim.SystemIDs()[0]
	sys := sim.System(id)
	ctx := ctxFor(t)
	n := nodeFor(id, faceClient(face, id))

	cfg := fastConfig()
	cfg.Retries = 2
	d := ipmi.New(cfg)
	if err := sys.SetFault(simulator.Fault{RefuseLogin: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PowerState(ctx, n); !errors.Is(err, drivers.ErrBMCAuth) {
		t.Fatalf("refused login: %v, want ErrBMCAuth", err)
	}
	if err := sys.SetFault(simulator.Fault{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	before := len(sys.RequestLog())
	if err := d.SetPowerState(ctx, n, drivers.ActionPowerOn, 0); !errors.Is(err, drivers.ErrBMCFailed) {
		t.Fatalf("a BMC always busy: %v, want ErrBMCFailed after retries", err)
	}
	if sys.PowerState() != simulator.PowerOff || len(sys.RequestLog()) != before {
		t.Fatal("a BMC that answered busy acted")
	}
	// A fifth of the commands busy: the retries get through (a power on
	// is three ipmitool runs in bmclib; 11 tries all failing: 0.04%).
	if err := sys.SetFault(simulator.Fault{ErrorRate: 0.2}); err != nil {
		t.Fatal(err)
	}
	cfg.Retries = 10
	if err := ipmi.New(cfg).SetPowerState(ctx, n, drivers.ActionPowerOn, 0); err != nil {
		t.Fatalf("20%% busy with 10 retries: %v", err)
	}
	if err := sys.SetFault(simulator.Fault{Unreachable: true}); err != nil {
		t.Fatal(err)
	}
	cfg.CommandTimeout = time.Second
	_, err := ipmi.New(cfg).PowerState(ctx, n)
	if !errors.Is(err, drivers.ErrBMCTimeout) && !errors.Is(err, drivers.ErrBMCUnreachable) {
		t.Fatalf("unreachable: %v", err)
	}
}

// TestAcrossFacesWithDriver changes power over IPMI with the driver and
// reads it over Redfish (HTTP), then changes it over Redfish and reads it
// with the driver.
func TestAcrossFacesWithDriver(t *testing.T) {
	sim, face := simFleet(t, 1, simulator.Config{})
	if err := sim.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	id := sim.SystemIDs()[0]
	d, n := ipmi.New(fastConfig()), nodeFor(id, faceClient(face, id))
	ctx := ctxFor(t)
	if err := d.SetPowerState(ctx, n, drivers.ActionPowerOn, 0); err != nil {
		t.Fatal(err)
	}
	if got := redfishPower(t, sim.SystemURL(id)); got != "On" {
		t.Fatalf("after an IPMI power on Redfish reads %q", got)
	}
	redfishReset(t, sim.SystemURL(id), "ForceOff")
	if got, err := d.PowerState(ctx, n); err != nil || got != drivers.PowerOff {
		t.Fatalf("after a Redfish ForceOff the IPMI driver reads %q (%v)", got, err)
	}
}
