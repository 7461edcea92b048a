package taskmanager_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/internal/faultinject"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// flaky is the store and lock backend as the task manager sees them while
// the database goes away and comes back: when down, every call fails with
// store.ErrUnavailable and changes nothing; with loseAnswers, ReserveNode
// takes the lock but its answer is lost.
type flaky struct {
	*faultinject.Store
	mu          sync.Mutex
	down        bool
	loseAnswers bool
	failed      map[string]int // failed calls by method
}

func newFlaky(db *sqlstore.DB) *flaky {
	f := &flaky{Store: faultinject.Wrap(db), failed: map[string]int{}}
	f.On(f.rule)
	return f
}

func (f *flaky) rule(c faultinject.Call) (faultinject.Action, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.down:
		f.failed[c.Method]++
		return faultinject.Action{Fail: true, Err: fmt.Errorf("%w: dial tcp 127.0.0.1:5432: connect: connection refused", store.ErrUnavailable)}, true
	case f.loseAnswers && c.Method == "ReserveNode":
		return faultinject.Action{Lost: true, Err: fmt.Errorf("reserve node: %w: unexpected EOF", store.ErrUnavailable)}, true
	}
	return faultinject.Action{}, false
}

func (f *flaky) set(down, loseAnswers bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down, f.loseAnswers = down, loseAnswers
}

func (f *flaky) failures(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed[method]
}

type outageEnv struct {
	*env
	f *flaky
}

// newOutageEnv is an agent whose database can go away: settle is how long
// an outcome is retried, release how long a release is.
func newOutageEnv(t *testing.T, settle, release time.Duration) *outageEnv {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "agent.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := newFlaky(db)
	fd := fake.New()
	reg, err := drivers.NewRegistry(fd)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := taskmanager.New(taskmanager.Config{
		AgentID: "agent-a", Store: f, Drivers: reg, SettleTimeout: settle,
		Locker: lock.NewLocker(f, lock.Policy{Attempts: 1, Interval: 10 * time.Millisecond, ReleaseTimeout: release}, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.set(false, false)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tm.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		db.Close()
	})
	return &outageEnv{env: &env{db: db, fi: f.Store, tm: tm, fake: fd}, f: f}
}

// until polls cond (reading the database directly, not through flaky).
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
	}
}

// startPowerOn locks n, records a target power state and spawns work that
// takes the database down, powers the node on and records the outcome with
// Settle; settled receives Settle's error.
func (e *outageEnv) startPowerOn(t *testing.T, n *store.Node) <-chan error {
	t.Helper()
	settled := make(chan error, 1)
	task, err := e.tm.Acquire(bg, n.UUID, taskmanager.Purpose("power on"))
	if err != nil {
		t.Fatal(err)
	}
	task.Node().TargetPowerState = "power on"
	if err := task.Save(bg); err != nil {
		t.Fatal(err)
	}
	if err := task.SpawnAfter(func(ctx context.Context, t *taskmanager.Task) error {
		if err := t.Driver().SetPowerState(ctx, drivers.ActionPowerOn, 0); err != nil {
			return err
		}
		e.f.set(true, false)
		t.Node().PowerState, t.Node().TargetPowerState = "power on", ""
		settled <- t.Settle(ctx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	task.Release()
	return settled
}

// The database goes away as a worker is about to record its outcome and
// comes back within the settle time: the outcome is recorded, the lock
// released, nothing is left for the sweep.
func TestOutcomeRecordedWhenTheDatabaseReturns(t *testing.T) {
	e := newOutageEnv(t, 30*time.Second, 30*time.Second)
	n := e.node(t, "n1")
	settled := e.startPowerOn(t, n)
	until(t, "a failed attempt to record the outcome", func() bool { return e.f.failures("UpdateNodeHeld") > 0 })
	e.f.set(false, false)
	if err := <-settled; err != nil {
		t.Fatalf("Settle: %v", err)
	}
	until(t, "the lock's release", func() bool { return e.reservation(t, n.UUID) == "" })
	got, _ := e.db.Node(bg, n.UUID)
	if got.PowerState != "power on" || got.TargetPowerState != "" || got.LastError != "" {
		t.Fatalf("node after the outage: power %q target %q last_error %q", got.PowerState, got.TargetPowerState, got.LastError)
	}
	if released, err := e.tm.RecoverStale(bg, time.Minute); err != nil || len(released) != 0 {
		t.Fatalf("the sweep found work: %v %v", released, err)
	}
}

// The database stays away longer than the settle time: the node keeps its
// lock (rather than being left unlocked with a target state no worker
// pursues) until the database answers, when the sweep records the
// operation as interrupted and releases the lock.
func TestOutcomeLostKeepsTheLockUntilTheSweep(t *testing.T) {
	e := newOutageEnv(t, 100*time.Millisecond, 30*time.Second)
	n := e.node(t, "n1")
	if err := <-e.startPowerOn(t, n); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Settle with the database away: %v", err)
	}
	until(t, "the worker's end", func() bool { return e.tm.Stats().Busy == 0 })
	got, _ := e.db.Node(bg, n.UUID)
	if got.Reservation != "agent-a" || got.TargetPowerState != "power on" {
		t.Fatalf("node whose outcome was lost: reservation %q target %q", got.Reservation, got.TargetPowerState)
	}
	if _, err := e.tm.RecoverStale(bg, time.Minute); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("sweep with the database away: %v", err)
	}
	e.f.set(false, false)
	released, err := e.tm.RecoverStale(bg, time.Minute)
	if err != nil || len(released) != 1 || released[0] != n.UUID {
		t.Fatalf("sweep: released %v, %v", released, err)
	}
	got, _ = e.db.Node(bg, n.UUID)
	if got.Reservation != "" || got.TargetPowerState != "" ||
		!strings.Contains(got.LastError, `power state change to "power on" was interrupted`) || !strings.Contains(got.LastError, "database") {
		t.Fatalf("after the sweep: reservation %q target %q last_error %q", got.Reservation, got.TargetPowerState, got.LastError)
	}
	task, err := e.tm.Acquire(bg, n.UUID)
	if err != nil {
		t.Fatalf("the swept node cannot be locked: %v", err)
	}
	task.Release()
}

// A release that cannot reach the database is retried: the database comes
// back within the release timeout and the lock is released then.
func TestReleaseRetriedUntilTheDatabaseReturns(t *testing.T) {
	e := newOutageEnv(t, time.Second, 30*time.Second)
	n := e.node(t, "n1")
	task, err := e.tm.Acquire(bg, n.UUID)
	if err != nil {
		t.Fatal(err)
	}
	e.f.set(true, false)
	done := make(chan struct{})
	go func() { task.Release(); close(done) }()
	until(t, "a failed release", func() bool { return e.f.failures("Release") > 0 })
	if e.reservation(t, n.UUID) != "agent-a" {
		t.Fatal("released while the database was away")
	}
	e.f.set(false, false)
	<-done
	if r := e.reservation(t, n.UUID); r != "" {
		t.Fatalf("reservation %q after the database came back", r)
	}
	if released, err := e.tm.RecoverStale(bg, time.Minute); err != nil || len(released) != 0 {
		t.Fatalf("the sweep found work: %v %v", released, err)
	}
}

// A release that fails for longer than the release timeout leaves the lock
// to the sweep, which releases it once the database answers; the agent's
// next task on the node releases it first, itself, rather than finding the
// node locked by its own agent.
func TestFailedReleaseSwept(t *testing.T) {
	for _, next := range []string{"sweep", "task"} {
		t.Run(next, func(t *testing.T) {
			e := newOutageEnv(t, time.Second, 100*time.Millisecond)
			n := e.node(t, "n1")
			task, err := e.tm.Acquire(bg, n.UUID)
			if err != nil {
				t.Fatal(err)
			}
			e.f.set(true, false)
			task.Release()
			e.f.set(false, false)
			if r := e.reservation(t, n.UUID); r != "agent-a" {
				t.Fatalf("reservation %q", r)
			}
			if next == "task" {
				again, err := e.tm.Acquire(bg, n.UUID)
				if err != nil {
					t.Fatalf("acquire of a node whose release failed: %v", err)
				}
				again.Release()
			} else if released, err := e.tm.RecoverStale(bg, time.Minute); err != nil || len(released) != 1 {
				t.Fatalf("sweep: %v %v", released, err)
			}
			got, _ := e.db.Node(bg, n.UUID)
			if got.Reservation != "" || got.LastError != "" {
				t.Fatalf("after the %s: reservation %q last_error %q (nothing was interrupted)", next, got.Reservation, got.LastError)
			}
			if released, err := e.tm.RecoverStale(bg, time.Minute); err != nil || len(released) != 0 {
				t.Fatalf("the sweep found work: %v %v", released, err)
			}
		})
	}
}

// A lock taken by a statement whose answer was lost is found and released
// by the sweep; a lock that a task of the agent holds is never swept.
func TestSweepOfLocksTakenUnknowingly(t *testing.T) {
	e := newOutageEnv(t, time.Second, time.Second)
	lost, held := e.node(t, "lost"), e.node(t, "held")
	e.f.set(false, true)
	if _, err := e.tm.Acquire(bg, lost.UUID); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("acquire whose answer was lost: %v", err)
	}
	e.f.set(true, false)
	if _, err := e.tm.Acquire(bg, held.UUID); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("acquire with the database away: %v", err)
	}
	e.f.set(false, false)
	if e.reservation(t, lost.UUID) != "agent-a" || e.reservation(t, held.UUID) != "" {
		t.Fatal("unexpected reservations")
	}
	// A task takes the second node for real before the sweep runs.
	task, err := e.tm.Acquire(bg, held.UUID, taskmanager.Purpose("power on"))
	if err != nil {
		t.Fatal(err)
	}
	released, err := e.tm.RecoverStale(bg, time.Minute)
	if err != nil || len(released) != 1 || released[0] != lost.UUID {
		t.Fatalf("sweep: %v %v", released, err)
	}
	if e.reservation(t, held.UUID) != "agent-a" {
		t.Fatal("the sweep released a lock a task holds")
	}
	task.Release()
	if e.reservation(t, held.UUID) != "" || e.reservation(t, lost.UUID) != "" {
		t.Fatal("locks left")
	}
}
