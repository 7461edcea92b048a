// Package driverstest is the conformance suite of the driver contract: every
// driver runs it against a real peer (the fake against its own state, the
// Redfish driver against the simulator, the IPMI driver against ipmi_sim and
// the simulator's IPMI face), checking what the driver did through an
// independent observer of the machine rather than through the driver itself.
package driverstest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Target is one driver pointed at one machine.
type Target struct {
	Driver drivers.Driver
	Node   drivers.Node
	// Power reads the machine's power state behind the driver's back.
	Power func(t *testing.T) drivers.PowerState
	// BootDevice reads the machine's boot override behind the driver's
	// back: the device and whether it persists. Nil if there is no way to.
	BootDevice func(t *testing.T) (drivers.BootDevice, bool)
	// Media reads whether an image is inserted, and which, behind the
	// driver's back. Nil for drivers without virtual media.
	Media func(t *testing.T) (image string, inserted bool)
	// PowerTimeout is what SetPowerState may wait; default 30s.
	PowerTimeout time.Duration
}

// Opener returns a fresh target (a machine in its initial state) per test.
type Opener func(t *testing.T) Target

// Run runs the suite. Capabilities the driver does not implement are checked
// to be absent from what it claims in Validate; the tests of the ones it
// implements always run.
func Run(t *testing.T, open Opener) {
	t.Run("Validate", func(t *testing.T) {
		tg := open(t)
		for _, iface := range drivers.Interfaces {
			err := tg.Driver.Validate(iface, tg.Node)
			if drivers.Supports(tg.Driver, iface) {
				if err != nil {
					t.Errorf("Validate(%s) on a good node: %v", iface, err)
				}
			}
		}
		bad := drivers.Node{UUID: tg.Node.UUID, Info: drivers.Info{}}
		if drivers.Supports(tg.Driver, drivers.PowerInterface) && tg.Driver.Name() != "fake" {
			if err := tg.Driver.Validate(drivers.PowerInterface, bad); !errors.Is(err, drivers.ErrInvalidInfo) {
				t.Errorf("Validate(power) with empty driver_info: %v, want ErrInvalidInfo", err)
			}
		}
	})
	if !drivers.Supports(open(t).Driver, drivers.PowerInterface) {
		t.Fatal("every driver must implement the power interface")
	}
	t.Run("Power", func(t *testing.T) { testPower(t, open(t)) })
	t.Run("BootDevice", func(t *testing.T) {
		tg := open(t)
		if _, ok := tg.Driver.(drivers.BootDeviceSetter); !ok {
			t.Logf("%s has no boot device setter", tg.Driver.Name())
			return
		}
		testBootDevice(t, tg)
	})
	t.Run("Media", func(t *testing.T) {
		tg := open(t)
		if _, ok := tg.Driver.(drivers.MediaInserter); !ok {
			h := drivers.NewHandle(tg.Driver, exclusive{tg.Node})
			err := h.InsertMedia(context.Background(), drivers.MediaRequest{Type: drivers.MediaCD, Image: "http://127.0.0.1/x.iso"})
			var ue *drivers.UnsupportedError
			if !errors.As(err, &ue) || ue.Driver != tg.Driver.Name() {
				t.Fatalf("InsertMedia on a driver without virtual media: %v, want an UnsupportedError naming the driver", err)
			}
			return
		}
		testMedia(t, tg)
	})
}

type exclusive struct{ n drivers.Node }

func (e exclusive) DriverNode() drivers.Node { return e.n }
func (exclusive) Exclusive() bool            { return true }
func (exclusive) Released() bool             { return false }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func timeout(tg Target) time.Duration {
	if tg.PowerTimeout > 0 {
		return tg.PowerTimeout
	}
	return 30 * time.Second
}

func testPower(t *testing.T, tg Target) {
	g := tg.Driver.(drivers.PowerGetter)
	s, ok := tg.Driver.(drivers.PowerSetter)
	if !ok {
		t.Fatal("a driver with a power getter must have a power setter")
	}
	actions, err := g.SupportedPowerActions(ctx(t), tg.Node)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []drivers.PowerAction{drivers.ActionPowerOn, drivers.ActionPowerOff, drivers.ActionReboot} {
		if !slices.Contains(actions, a) {
			t.Errorf("supported actions %v lack %q", actions, a)
		}
	}
	steps := []struct {
		action drivers.PowerAction
		want   drivers.PowerState
	}{
		{drivers.ActionPowerOff, drivers.PowerOff},
		{drivers.ActionPowerOff, drivers.PowerOff}, // idempotent
		{drivers.ActionPowerOn, drivers.PowerOn},
		{drivers.ActionPowerOn, drivers.PowerOn},
		{drivers.ActionReboot, drivers.PowerOn},
		{drivers.ActionPowerOff, drivers.PowerOff},
	}
	for _, st := range steps {
		if err := s.SetPowerState(ctx(t), tg.Node, st.action, timeout(tg)); err != nil {
			t.Fatalf("SetPowerState(%s): %v", st.action, err)
		}
		if got := tg.Power(t); got != st.want {
			t.Fatalf("after %s the machine is %q, want %q", st.action, got, st.want)
		}
		if got, err := g.PowerState(ctx(t), tg.Node); err != nil || got != st.want {
			t.Fatalf("after %s the driver reads %q (%v), want %q", st.action, got, err, st.want)
		}
	}
}

func testBootDevice(t *testing.T, tg Target) {
	s := tg.Driver.(drivers.BootDeviceSetter)
	g, hasGetter := tg.Driver.(drivers.BootDeviceGetter)
	if hasGetter {
		devs, err := g.SupportedBootDevices(ctx(t), tg.Node)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []drivers.BootDevice{drivers.BootPXE, drivers.BootDisk} {
			if !slices.Contains(devs, d) {
				t.Errorf("supported boot devices %v lack %q", devs, d)
			}
		}
	}
	for _, c := range []struct {
		dev        drivers.BootDevice
		persistent bool
	}{{drivers.BootPXE, false}, {drivers.BootDisk, true}, {drivers.BootPXE, true}, {drivers.BootDisk, false}} {
		if err := s.SetBootDevice(ctx(t), tg.Node, c.dev, drivers.BootOptions{Persistent: c.persistent}); err != nil {
			t.Fatalf("SetBootDevice(%s, persistent=%v): %v", c.dev, c.persistent, err)
		}
		if tg.BootDevice != nil {
			dev, persistent := tg.BootDevice(t)
			if dev != c.dev || persistent != c.persistent {
				t.Fatalf("after SetBootDevice(%s, persistent=%v) the machine has %s, persistent=%v", c.dev, c.persistent, dev, persistent)
			}
		}
		if hasGetter {
			st, err := g.BootDevice(ctx(t), tg.Node)
			if err != nil || st.Device != c.dev || (st.Persistent != nil && *st.Persistent != c.persistent) {
				t.Fatalf("after SetBootDevice(%s, persistent=%v) the driver reads %+v (%v)", c.dev, c.persistent, st, err)
			}
		}
	}
}

func testMedia(t *testing.T, tg Target) {
	ins := tg.Driver.(drivers.MediaInserter)
	ej, ok := tg.Driver.(drivers.MediaEjecter)
	if !ok {
		t.Fatal("a driver that inserts media must eject it")
	}
	g, ok := tg.Driver.(drivers.MediaGetter)
	if !ok {
		t.Fatal("a driver that inserts media must list it")
	}
	const image = "http://127.0.0.1:8080/boot.iso"
	if err := ej.EjectMedia(ctx(t), tg.Node, drivers.AnyMedia); err != nil {
		t.Fatalf("eject all from empty devices: %v", err)
	}
	if err := ins.InsertMedia(ctx(t), tg.Node, drivers.MediaRequest{Type: drivers.MediaCD, Image: image}); err != nil {
		t.Fatal(err)
	}
	if tg.Media != nil {
		if img, in := tg.Media(t); !in || img != image {
			t.Fatalf("after insert the machine holds %q (inserted=%v)", img, in)
		}
	}
	list, err := g.Media(ctx(t), tg.Node)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(list, func(m drivers.Media) bool { return m.Inserted && m.Image == image }) {
		t.Fatalf("the driver does not list the inserted image: %+v", list)
	}
	err = ins.InsertMedia(ctx(t), tg.Node, drivers.MediaRequest{Type: drivers.MediaCD, Image: image + "2"})
	if !errors.Is(err, drivers.ErrBMCRejected) {
		t.Fatalf("insert into an occupied device: %v, want ErrBMCRejected", err)
	}
	if err := ins.InsertMedia(ctx(t), tg.Node, drivers.MediaRequest{Type: drivers.MediaCD, Image: image + "2", EjectFirst: true}); err != nil {
		t.Fatalf("insert with EjectFirst: %v", err)
	}
	if err := ej.EjectMedia(ctx(t), tg.Node, drivers.MediaCD); err != nil {
		t.Fatal(err)
	}
	if tg.Media != nil {
		if _, in := tg.Media(t); in {
			t.Fatal("after eject the machine still holds an image")
		}
	}
}
