package ipmi_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// TestThroughTaskManager registers the driver as "ipmi" and uses it
// through TaskManager tasks on a SQLite store, against the simulator's IPMI
// face: an exclusive task changes power and boot device, a shared task
// reads but cannot change anything (no IPMI mutation reaches the BMC), and
// virtual media is refused naming the driver.
func TestThroughTaskManager(t *testing.T) {
	sim, face := simFleet(t, 1, simulator.Config{})
	id := sim.SystemIDs()[0]
	sys := sim.System(id)
	ctx := ctxFor(t)

	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "agent.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := drivers.NewRegistry(ipmi.New(fastConfig()))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := taskmanager.New(taskmanager.Config{
		AgentID: "agent-a", Store: db, Drivers: reg,
		Locker: lock.NewLocker(db, lock.Policy{Attempts: 2, Interval: 10 * time.Millisecond}, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tm.Shutdown(sctx); err != nil {
			t.Error(err)
		}
		db.Close()
	})
	info := nodeFor(id, faceClient(face, id)).Info
	n := &store.Node{Name: "ipmi-node", Driver: "ipmi", ProvisionState: taskmanager.StateEnroll, DriverInfo: store.JSON(info)}
	if err := db.CreateNode(ctx, n); err != nil {
		t.Fatal(err)
	}

	err = tm.Do(ctx, "ipmi-node", []taskmanager.Option{taskmanager.Purpose("power on")}, func(ctx context.Context, task *taskmanager.Task) error {
		h := task.Driver()
		if h.Name() != "ipmi" {
			t.Fatalf("driver %q", h.Name())
		}
		if err := h.Validate(drivers.PowerInterface); err != nil {
			return err
		}
		if err := h.SetBootDevice(ctx, drivers.BootPXE, drivers.BootOptions{Persistent: true, Mode: drivers.BootModeUEFI}); err != nil {
			return err
		}
		return h.SetPowerState(ctx, drivers.ActionPowerOn, 10*time.Second)
	})
	if err != nil {
		t.Fatal(err)
	}
	if sys.PowerState() != simulator.PowerOn || sys.BootedFrom().Device != simulator.BootPxe {
		t.Fatalf("after the exclusive task: %+v", sys.Status())
	}

	mutations := len(sys.RequestLog())
	err = tm.Do(ctx, "ipmi-node", []taskmanager.Option{taskmanager.Shared(), taskmanager.Purpose("read power")}, func(ctx context.Context, task *taskmanager.Task) error {
		h := task.Driver()
		if st, err := h.PowerState(ctx); err != nil || st != drivers.PowerOn {
			t.Errorf("shared read: %q (%v)", st, err)
		}
		if bd, err := h.BootDevice(ctx); err != nil || bd.Device != drivers.BootPXE {
			t.Errorf("shared boot device read: %+v (%v)", bd, err)
		}
		for name, call := range map[string]func() error{
			"SetPowerState": func() error { return h.SetPowerState(ctx, drivers.ActionPowerOff, 0) },
			"SetBootDevice": func() error { return h.SetBootDevice(ctx, drivers.BootDisk, drivers.BootOptions{}) },
			"InjectNMI":     func() error { return h.InjectNMI(ctx) },
		} {
			if err := call(); !errors.Is(err, drivers.ErrExclusiveLockRequired) {
				t.Errorf("%s on a shared task: %v, want ErrExclusiveLockRequired", name, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(sys.RequestLog()); got != mutations || sys.PowerState() != simulator.PowerOn {
		t.Fatalf("a shared task reached the BMC: %d mutations logged, was %d", got, mutations)
	}

	err = tm.Do(ctx, "ipmi-node", []taskmanager.Option{taskmanager.Purpose("insert media")}, func(ctx context.Context, task *taskmanager.Task) error {
		return task.Driver().InsertMedia(ctx, drivers.MediaRequest{Type: drivers.MediaCD, Image: "http://127.0.0.1/x.iso"})
	})
	var ue *drivers.UnsupportedError
	if !errors.As(err, &ue) || ue.Driver != "ipmi" {
		t.Fatalf("virtual media: %v, want an UnsupportedError naming ipmi", err)
	}
}
