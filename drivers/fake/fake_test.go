package fake_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
)

func node(info drivers.Info) drivers.Node { return drivers.Node{UUID: "n1", Info: info} }

func TestFakeState(t *testing.T) {
	ctx := context.Background()
	f := fake.New()
	n := node(nil)
	if st, _ := f.PowerState(ctx, n); st != drivers.PowerOff {
		t.Fatalf("new node is %q", st)
	}
	if err := f.SetBootDevice(ctx, n, drivers.BootPXE, drivers.BootOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetPowerState(ctx, n, drivers.ActionPowerOn, 0); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.PowerState(ctx, n); st != drivers.PowerOn {
		t.Fatalf("after power on: %q", st)
	}
	if bd, _ := f.BootDevice(ctx, n); bd.Device != drivers.NoBootDevice {
		t.Fatalf("a one-time boot device survived the boot: %q", bd.Device)
	}
	if err := f.SetBootDevice(ctx, n, drivers.BootDisk, drivers.BootOptions{Persistent: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetPowerState(ctx, n, drivers.ActionReboot, 0); err != nil {
		t.Fatal(err)
	}
	if bd, _ := f.BootDevice(ctx, n); bd.Device != drivers.BootDisk || !*bd.Persistent {
		t.Fatalf("persistent boot device after reboot: %+v", bd)
	}
	req := drivers.MediaRequest{Type: drivers.MediaCD, Image: "http://127.0.0.1/a.iso"}
	if err := f.InsertMedia(ctx, n, req); err != nil {
		t.Fatal(err)
	}
	req.Image = "http://127.0.0.1/b.iso"
	if err := f.InsertMedia(ctx, n, req); !errors.Is(err, drivers.ErrBMCRejected) {
		t.Fatalf("insert into an occupied device: %v", err)
	}
	req.EjectFirst = true
	if err := f.InsertMedia(ctx, n, req); err != nil {
		t.Fatal(err)
	}
	media, _ := f.Media(ctx, n)
	if media[0].Image != "http://127.0.0.1/b.iso" || !media[0].Inserted || media[1].Inserted {
		t.Fatalf("media: %+v", media)
	}
	if err := f.EjectMedia(ctx, n, drivers.AnyMedia); err != nil {
		t.Fatal(err)
	}
	if media, _ := f.Media(ctx, n); media[0].Inserted {
		t.Fatal("eject all left media inserted")
	}
	if err := f.SetPowerState(ctx, n, drivers.ActionSoftPowerOff, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.InjectNMI(ctx, n); !errors.Is(err, drivers.ErrBMCRejected) {
		t.Fatalf("NMI to a node that is off: %v", err)
	}
}

func TestFakeFaults(t *testing.T) {
	ctx := context.Background()
	f := fake.New()
	f.Inject("n1", fake.Fault{Err: drivers.ErrBMCUnreachable})
	_, err := f.PowerState(ctx, node(nil))
	var de *drivers.DriverError
	if !errors.As(err, &de) || !errors.Is(err, drivers.ErrBMCUnreachable) {
		t.Fatalf("injected error: %v", err)
	}
	f.Inject("n1", fake.Fault{})
	if _, err := f.PowerState(ctx, node(nil)); err != nil {
		t.Fatalf("cleared fault: %v", err)
	}
	if _, err := f.PowerState(ctx, node(drivers.Info{fake.InfoError: "fan on fire"})); !errors.Is(err, drivers.ErrBMCFailed) {
		t.Fatalf("fake_error: %v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := f.PowerState(cctx, node(drivers.Info{fake.InfoDelay: "5s"})); !errors.Is(err, drivers.ErrBMCTimeout) {
		t.Fatalf("fake_delay past the deadline: %v", err)
	}
	if err := f.Validate(drivers.PowerInterface, node(drivers.Info{fake.InfoDelay: "soon"})); !errors.Is(err, drivers.ErrInvalidInfo) {
		t.Fatalf("bad fake_delay: %v", err)
	}
	if f.Calls("n1") != 4 {
		t.Fatalf("calls %d, want 4", f.Calls("n1"))
	}
}
