package redfish_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// TestThroughTaskManager uses the driver as the agent does: registered as
// "redfish" and reached only through tasks. A shared task reads power and
// boot device; its setters are refused before any request reaches the BMC.
// An exclusive task changes both.
func TestThroughTaskManager(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	var requests atomic.Int64
	url := front(t, sim, func(http.ResponseWriter, *http.Request) bool {
		requests.Add(1)
		return false
	})

	db, err := sqlstore.Open(bg, filepath.Join(t.TempDir(), "agent.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg, err := drivers.NewRegistry(redfish.New(fastOptions()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := reg.Close(bg); err != nil {
			t.Errorf("closing the drivers: %v", err)
		}
	})
	tm, err := taskmanager.New(taskmanager.Config{
		AgentID: "agent-a", Store: db, Drivers: reg,
		Locker:     lock.NewLocker(db, lock.Policy{Attempts: 2, Interval: 10 * time.Millisecond}, nil),
		Middleware: []drivers.Middleware{drivers.Timeout(30 * time.Second)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tm.Shutdown(bg); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	n := nodeOf(url, id, nil)
	if err := db.CreateNode(bg, &store.Node{
		Name: "n1", Driver: redfish.Name, ProvisionState: taskmanager.StateEnroll, DriverInfo: store.JSON(n.Info),
	}); err != nil {
		t.Fatal(err)
	}

	shared := []taskmanager.Option{taskmanager.Shared(), taskmanager.Purpose("read power")}
	err = tm.Do(ctx(t), "n1", shared, func(ctx context.Context, task *taskmanager.Task) error {
		h := task.Driver()
		if st, err := h.PowerState(ctx); err != nil || st != drivers.PowerOff {
			t.Errorf("shared task reads power %q, %v", st, err)
		}
		if bd, err := h.BootDevice(ctx); err != nil || bd.Device != drivers.NoBootDevice {
			t.Errorf("shared task reads boot device %+v, %v", bd, err)
		}
		seen := requests.Load()
		if err := h.SetPowerState(ctx, drivers.ActionPowerOn, time.Second); !errors.Is(err, drivers.ErrExclusiveLockRequired) {
			t.Errorf("shared task powers on: %v", err)
		}
		if err := h.SetBootDevice(ctx, drivers.BootPXE, drivers.BootOptions{}); !errors.Is(err, drivers.ErrExclusiveLockRequired) {
			t.Errorf("shared task sets the boot device: %v", err)
		}
		if err := h.InsertMedia(ctx, drivers.MediaRequest{Type: drivers.MediaCD, Image: "http://127.0.0.1/x.iso"}); !errors.Is(err, drivers.ErrExclusiveLockRequired) {
			t.Errorf("shared task inserts media: %v", err)
		}
		if got := requests.Load(); got != seen {
			t.Errorf("refused setters sent %d requests to the BMC", got-seen)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if mutations(sim, id) != 0 || simPower(sim, id) != drivers.PowerOff {
		t.Fatal("the BMC was changed through a shared task")
	}

	err = tm.Do(ctx(t), "n1", []taskmanager.Option{taskmanager.Purpose("deploy")}, func(ctx context.Context, task *taskmanager.Task) error {
		h := task.Driver()
		if err := h.SetBootDevice(ctx, drivers.BootPXE, drivers.BootOptions{}); err != nil {
			return err
		}
		return h.SetPowerState(ctx, drivers.ActionPowerOn, 5*time.Second)
	})
	if err != nil {
		t.Fatalf("exclusive task: %v", err)
	}
	if simPower(sim, id) != drivers.PowerOn {
		t.Fatal("the exclusive task did not power the node on")
	}
}
