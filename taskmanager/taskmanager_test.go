package taskmanager_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/internal/faultinject"
	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m))
}

type env struct {
	db *sqlstore.DB
	// fi is the store and lock backend the task manager uses: db behind
	// a fault injector with no rules until a test adds some.
	fi   *faultinject.Store
	tm   *taskmanager.Manager
	fake *fake.Driver
}

type envOpts struct {
	agent   string
	workers int
	policy  lock.Policy
	dsn     string
	lease   taskmanager.Lease
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	if o.agent == "" {
		o.agent = "agent-a"
	}
	if o.dsn == "" {
		o.dsn = filepath.Join(t.TempDir(), "agent.db")
	}
	if o.policy.Attempts == 0 {
		o.policy = lock.Policy{Attempts: 2, Interval: 10 * time.Millisecond}
	}
	db, err := sqlstore.Open(context.Background(), o.dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := fake.New()
	reg, err := drivers.NewRegistry(f)
	if err != nil {
		t.Fatal(err)
	}
	fi := faultinject.Wrap(db)
	tm, err := taskmanager.New(taskmanager.Config{
		AgentID: o.agent, Store: fi, Locker: lock.NewLocker(fi, o.policy, nil), Drivers: reg, Workers: o.workers,
		Lease: o.lease,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fi.Clear()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tm.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		db.Close()
	})
	return &env{db: db, fi: fi, tm: tm, fake: f}
}

func (e *env) node(t *testing.T, name string) *store.Node {
	t.Helper()
	n := &store.Node{Name: name, Driver: "fake", ProvisionState: taskmanager.StateEnroll, DriverInfo: store.JSON{"password": "pw"}}
	if err := e.db.CreateNode(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) reservation(t *testing.T, id string) string {
	t.Helper()
	n, err := e.db.Node(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n.Reservation
}

var bg = context.Background()

func TestAcquireExclusive(t *testing.T) {
	e := newEnv(t, envOpts{})
	n := e.node(t, "n1")
	if err := e.db.CreatePort(bg, &store.Port{NodeUUID: n.UUID, Address: "52:54:00:00:00:01"}); err != nil {
		t.Fatal(err)
	}
	task, err := e.tm.Acquire(bg, "n1", taskmanager.Purpose("power on"))
	if err != nil {
		t.Fatal(err)
	}
	ports, err := task.Ports(bg)
	if err != nil {
		t.Fatal(err)
	}
	if task.Shared() || task.Node().UUID != n.UUID || len(ports) != 1 || task.Driver().Name() != "fake" {
		t.Fatalf("task: shared=%v node=%s ports=%d", task.Shared(), task.Node().UUID, len(ports))
	}
	if c, err := task.VolumeConnectors(bg); err != nil || len(c) != 0 {
		t.Fatalf("connectors: %v %v", c, err)
	}
	if v, err := task.VolumeTargets(bg); err != nil || len(v) != 0 {
		t.Fatalf("targets: %v %v", v, err)
	}
	got, _ := e.db.Node(bg, n.UUID)
	if got.Reservation != "agent-a" || got.ReservationPurpose != "power on" {
		t.Fatalf("reservation %q purpose %q", got.Reservation, got.ReservationPurpose)
	}
	if err := task.Driver().SetPowerState(bg, drivers.ActionPowerOn, 0); err != nil {
		t.Fatal(err)
	}
	task.Release()
	task.Release() // idempotent
	if r := e.reservation(t, n.UUID); r != "" {
		t.Fatalf("after release: held by %q", r)
	}
	if _, err := task.Driver().PowerState(bg); !errors.Is(err, taskmanager.ErrReleased) {
		t.Fatalf("driver after release: %v, want ErrReleased", err)
	}
	if err := task.Save(bg); !errors.Is(err, taskmanager.ErrReleased) {
		t.Fatalf("save after release: %v, want ErrReleased", err)
	}
	if p, _, _ := e.fake.State(n.UUID); p != drivers.PowerOn {
		t.Fatalf("power %q", p)
	}
}

func TestAcquireErrors(t *testing.T) {
	e := newEnv(t, envOpts{})
	if _, err := e.tm.Acquire(bg, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing by name: %v", err)
	}
	if _, err := e.tm.Acquire(bg, "6f1b1c5e-0000-4000-8000-000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing by uuid: %v", err)
	}
	n := e.node(t, "")
	if _, err := e.tm.Acquire(bg, n.UUID, taskmanager.DriverName("nope")); !errors.Is(err, drivers.ErrUnknownDriver) {
		t.Fatalf("unknown driver: %v", err)
	}
	if r := e.reservation(t, n.UUID); r != "" {
		t.Fatalf("a failed acquire left the lock held by %q", r)
	}
}

func TestContention(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "shared.db")
	a := newEnv(t, envOpts{agent: "agent-a", dsn: dsn})
	b := newEnv(t, envOpts{agent: "agent-b", dsn: dsn})
	n := a.node(t, "busy")
	held, err := a.tm.Acquire(bg, "busy", taskmanager.Purpose("deploying"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.tm.Acquire(bg, "busy", taskmanager.Purpose("power off"))
	var le *lock.LockedError
	if !errors.As(err, &le) || le.Holder != "agent-a" || le.Purpose != "deploying" {
		t.Fatalf("second agent: %v, want LockedError naming agent-a and deploying", err)
	}
	// A shared task needs no lock.
	sh, err := b.tm.Acquire(bg, n.UUID, taskmanager.Shared())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sh.Driver().PowerState(bg); err != nil {
		t.Fatal(err)
	}
	sh.Release()
	if r := a.reservation(t, n.UUID); r != "agent-a" {
		t.Fatalf("releasing a shared task released the lock: %q", r)
	}
	held.Release()
	got, err := b.tm.Acquire(bg, "busy")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	got.Release()
}

// setters calls every mutating method of the Handle; the test checks it
// covers drivers.Methods.
var setters = map[string]func(h *drivers.Handle) error{
	"SetPowerState": func(h *drivers.Handle) error { return h.SetPowerState(bg, drivers.ActionPowerOn, 0) },
	"SetBootDevice": func(h *drivers.Handle) error {
		return h.SetBootDevice(bg, drivers.BootPXE, drivers.BootOptions{Persistent: true})
	},
	"SetBootMode": func(h *drivers.Handle) error { return h.SetBootMode(bg, drivers.BootModeBIOS) },
	"InjectNMI":   func(h *drivers.Handle) error { return h.InjectNMI(bg) },
	"InsertMedia": func(h *drivers.Handle) error {
		return h.InsertMedia(bg, drivers.MediaRequest{Type: drivers.MediaCD, Image: "http://127.0.0.1/x.iso"})
	},
	"EjectMedia": func(h *drivers.Handle) error { return h.EjectMedia(bg, drivers.AnyMedia) },
}

var readers = map[string]func(h *drivers.Handle) error{
	"PowerState":            func(h *drivers.Handle) error { _, err := h.PowerState(bg); return err },
	"SupportedPowerActions": func(h *drivers.Handle) error { _, err := h.SupportedPowerActions(bg); return err },
	"Telemetry":             func(h *drivers.Handle) error { _, err := h.Telemetry(bg); return err },
	"BootDevice":            func(h *drivers.Handle) error { _, err := h.BootDevice(bg); return err },
	"SupportedBootDevices":  func(h *drivers.Handle) error { _, err := h.SupportedBootDevices(bg); return err },
	"BootMode":              func(h *drivers.Handle) error { _, err := h.BootMode(bg); return err },
	"Media":                 func(h *drivers.Handle) error { _, err := h.Media(bg); return err },
	"Firmware":              func(h *drivers.Handle) error { _, err := h.Firmware(bg); return err },
	"Check":                 func(h *drivers.Handle) error { return h.Check(bg) },
	"Inspect":               func(h *drivers.Handle) error { _, err := h.Inspect(bg); return err },
	"Subscriptions":         func(h *drivers.Handle) error { _, err := h.Subscriptions(bg); return err },
	"Subscription": func(h *drivers.Handle) error {
		if _, err := h.Subscription(bg, "fake:none"); !errors.Is(err, drivers.ErrNoSubscription) {
			return err
		}
		return nil
	},
	"Subscribe": func(h *drivers.Handle) error {
		_, err := h.Subscribe(bg, drivers.SubscriptionRequest{Destination: "http://127.0.0.1:1/events"})
		return err
	},
	"Unsubscribe": func(h *drivers.Handle) error { return h.Unsubscribe(bg, "fake:none") },
}

// TestSharedTaskGuard proves the guard over every method of the contract:
// each mutating method refuses a shared task before reaching the driver,
// each read works on it, and after UpgradeLock the setters work.
func TestSharedTaskGuard(t *testing.T) {
	for _, m := range drivers.Methods {
		table := readers
		if m.Mutates {
			table = setters
		}
		if _, ok := table[m.Name]; !ok {
			t.Fatalf("method %s (mutates=%v) is missing from the test table", m, m.Mutates)
		}
	}
	if len(setters)+len(readers) != len(drivers.Methods) {
		t.Fatalf("test tables name %d methods, the contract has %d", len(setters)+len(readers), len(drivers.Methods))
	}
	e := newEnv(t, envOpts{})
	n := e.node(t, "")
	e.fake.SetPower(n.UUID, drivers.PowerOn) // so that NMI is accepted
	task, err := e.tm.Acquire(bg, n.UUID, taskmanager.Shared())
	if err != nil {
		t.Fatal(err)
	}
	defer task.Release()
	for name, call := range setters {
		before := e.fake.Calls(n.UUID)
		err := call(task.Driver())
		if !errors.Is(err, drivers.ErrExclusiveLockRequired) {
			t.Errorf("%s on a shared task: %v, want ErrExclusiveLockRequired", name, err)
		}
		if after := e.fake.Calls(n.UUID); after != before {
			t.Errorf("%s on a shared task reached the driver", name)
		}
	}
	for name, call := range readers {
		if err := call(task.Driver()); err != nil {
			t.Errorf("%s on a shared task: %v", name, err)
		}
	}
	if err := task.UpgradeLock(bg, "maintenance work"); err != nil {
		t.Fatal(err)
	}
	if r := e.reservation(t, n.UUID); r != "agent-a" {
		t.Fatalf("after UpgradeLock the node is held by %q", r)
	}
	for name, call := range setters {
		if err := call(task.Driver()); err != nil {
			t.Errorf("%s after UpgradeLock: %v", name, err)
		}
	}
}

func TestUpgradeLockReloads(t *testing.T) {
	e := newEnv(t, envOpts{})
	n := e.node(t, "")
	task, err := e.tm.Acquire(bg, n.UUID, taskmanager.Shared())
	if err != nil {
		t.Fatal(err)
	}
	defer task.Release()
	other, _ := e.db.Node(bg, n.UUID)
	other.LastError = "written meanwhile"
	if err := e.db.UpdateNode(bg, other); err != nil {
		t.Fatal(err)
	}
	if err := task.UpgradeLock(bg, "fix"); err != nil {
		t.Fatal(err)
	}
	if task.Node().LastError != "written meanwhile" || task.Purpose() != "fix" {
		t.Fatalf("after UpgradeLock: last_error %q purpose %q", task.Node().LastError, task.Purpose())
	}
	// The reloaded copy saves without a conflict.
	task.Node().LastError = ""
	if err := task.Save(bg); err != nil {
		t.Fatal(err)
	}
}

func TestUnsupported(t *testing.T) {
	e := newEnv(t, envOpts{})
	n := e.node(t, "")
	reg, _ := drivers.NewRegistry(powerOnly{})
	tm, err := taskmanager.New(taskmanager.Config{AgentID: "x", Store: e.db, Locker: lock.NewLocker(e.db, lock.Policy{}, nil), Drivers: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Shutdown(bg)
	task, err := tm.Acquire(bg, n.UUID, taskmanager.DriverName("power-only"))
	if err != nil {
		t.Fatal(err)
	}
	defer task.Release()
	err = task.Driver().InsertMedia(bg, drivers.MediaRequest{Type: drivers.MediaCD, Image: "http://x/y.iso"})
	var ue *drivers.UnsupportedError
	if !errors.As(err, &ue) || ue.Driver != "power-only" || ue.Interface != drivers.VMediaInterface {
		t.Fatalf("InsertMedia on a driver without it: %v", err)
	}
	if err := task.Driver().Validate(drivers.VMediaInterface); !errors.Is(err, drivers.ErrUnsupported) {
		t.Fatalf("Validate(vmedia): %v", err)
	}
	if st, err := task.Driver().PowerState(bg); err != nil || st != drivers.PowerOff {
		t.Fatalf("PowerState: %v %v", st, err)
	}
}

type powerOnly struct{}

func (powerOnly) Name() string                                   { return "power-only" }
func (powerOnly) Validate(drivers.Interface, drivers.Node) error { return nil }
func (powerOnly) PowerState(context.Context, drivers.Node) (drivers.PowerState, error) {
	return drivers.PowerOff, nil
}
func (powerOnly) SupportedPowerActions(context.Context, drivers.Node) ([]drivers.PowerAction, error) {
	return nil, nil
}

func TestSpawnAfterHoldsLockUntilWorkEnds(t *testing.T) {
	for _, outcome := range []string{"success", "error", "panic"} {
		t.Run(outcome, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			n := e.node(t, "")
			task, err := e.tm.Acquire(bg, n.UUID)
			if err != nil {
				t.Fatal(err)
			}
			started, finish, ended := make(chan struct{}), make(chan struct{}), make(chan struct{})
			var sawExclusive atomic.Bool
			err = task.SpawnAfter(func(ctx context.Context, t *taskmanager.Task) error {
				defer close(ended)
				close(started)
				sawExclusive.Store(t.Exclusive())
				<-finish
				switch outcome {
				case "error":
					return errors.New("BMC said no")
				case "panic":
					panic("driver bug")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-started:
				t.Fatal("work started before Release")
			case <-time.After(20 * time.Millisecond):
			}
			task.Release()
			<-started
			if r := e.reservation(t, n.UUID); r != "agent-a" {
				t.Fatalf("lock not held while the work runs: %q", r)
			}
			if st := e.tm.Stats(); st.Busy != 1 {
				t.Fatalf("busy workers %d, want 1", st.Busy)
			}
			close(finish)
			<-ended
			waitFor(t, func() bool { return e.reservation(t, n.UUID) == "" && e.tm.Stats().Busy == 0 })
			if !sawExclusive.Load() {
				t.Fatal("the work did not see an exclusive task")
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a bound for a hung test, not a margin
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSpawnNoFreeWorker(t *testing.T) {
	e := newEnv(t, envOpts{workers: 1})
	busy, idle := e.node(t, ""), e.node(t, "")
	block := make(chan struct{})
	t1, err := e.tm.Acquire(bg, busy.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if err := t1.SpawnAfter(func(context.Context, *taskmanager.Task) error { <-block; return nil }); err != nil {
		t.Fatal(err)
	}
	t1.Release()

	t2, err := e.tm.Acquire(bg, idle.UUID)
	if err != nil {
		t.Fatal(err)
	}
	var hookSawLock string
	var hookErr error
	t2.SetSpawnErrorHook(func(task *taskmanager.Task, err error) {
		hookSawLock, hookErr = e.reservation(t, idle.UUID), err
	})
	ran := false
	err = t2.SpawnAfter(func(context.Context, *taskmanager.Task) error { ran = true; return nil })
	if !errors.Is(err, taskmanager.ErrNoFreeWorker) {
		t.Fatalf("SpawnAfter with the pool full: %v, want ErrNoFreeWorker", err)
	}
	if !errors.Is(hookErr, taskmanager.ErrNoFreeWorker) || hookSawLock != "agent-a" {
		t.Fatalf("hook: err %v, saw lock %q (want it run with the lock held)", hookErr, hookSawLock)
	}
	if r := e.reservation(t, idle.UUID); r != "" {
		t.Fatalf("lock still held by %q after NoFreeWorker", r)
	}
	t2.Release() // harmless
	if ran {
		t.Fatal("refused work ran")
	}
	if st := e.tm.Stats(); st.Rejected != 1 || st.Busy != 1 {
		t.Fatalf("stats %+v", st)
	}
	close(block)
	waitFor(t, func() bool { return e.tm.Stats().Busy == 0 })
}

func TestDoCancelsSpawnOnError(t *testing.T) {
	e := newEnv(t, envOpts{workers: 1})
	n := e.node(t, "")
	ran := false
	err := e.tm.Do(bg, n.UUID, nil, func(ctx context.Context, task *taskmanager.Task) error {
		if err := task.SpawnAfter(func(context.Context, *taskmanager.Task) error { ran = true; return nil }); err != nil {
			return err
		}
		return errors.New("validation failed after spawning")
	})
	if err == nil || ran {
		t.Fatalf("Do: err %v, spawned work ran %v", err, ran)
	}
	if st := e.tm.Stats(); st.Busy != 0 {
		t.Fatalf("the reserved worker was not returned: %+v", st)
	}
	if r := e.reservation(t, n.UUID); r != "" {
		t.Fatalf("lock held by %q", r)
	}
}

func TestShutdown(t *testing.T) {
	e := newEnv(t, envOpts{})
	n := e.node(t, "")
	task, _ := e.tm.Acquire(bg, n.UUID)
	cancelled := make(chan error, 1)
	if err := task.SpawnAfter(func(ctx context.Context, _ *taskmanager.Task) error {
		<-ctx.Done()
		cancelled <- ctx.Err()
		return ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	task.Release()
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	if err := e.tm.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with work that outlives the deadline: %v", err)
	}
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("work context: %v", err)
	}
	if r := e.reservation(t, n.UUID); r != "" {
		t.Fatalf("lock held by %q after shutdown", r)
	}
	task2, _ := e.tm.Acquire(bg, n.UUID)
	if err := task2.SpawnAfter(func(context.Context, *taskmanager.Task) error { return nil }); !errors.Is(err, taskmanager.ErrNoFreeWorker) {
		t.Fatalf("spawn after shutdown: %v", err)
	}
}

func TestNodeOnlyWithoutTheDriver(t *testing.T) {
	e := newEnv(t, envOpts{})
	n := e.node(t, "")
	task, err := e.tm.Acquire(bg, n.UUID, taskmanager.DriverName("nope"), taskmanager.NodeOnly())
	if err != nil {
		t.Fatalf("NodeOnly task on a node whose driver is missing: %v", err)
	}
	defer task.Release()
	if r := e.reservation(t, n.UUID); r != "agent-a" {
		t.Fatalf("lock held by %q", r)
	}
	if _, err := task.Driver().PowerState(bg); !errors.Is(err, drivers.ErrUnsupported) {
		t.Fatalf("driver call on a NodeOnly task without its driver: %v", err)
	}
	task.Node().Description = "edited"
	if err := task.Save(bg); err != nil {
		t.Fatal(err)
	}
}
