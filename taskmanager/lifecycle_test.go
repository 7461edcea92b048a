package taskmanager_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/internal/faultinject"
	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// The tests of this file each put one failure or pause of the store or the
// lock backend (internal/faultinject) at the point of a task's lifecycle
// where one of issue 18's bugs was, on both databases, and check the
// lifecycle's invariants (docs/architecture.md) afterwards.

// onBackends runs test once per database; dsn returns a fresh database that
// several agents of the test may share.
func onBackends(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { test(t, filepath.Join(t.TempDir(), "agent.db")) })
	t.Run("postgres", func(t *testing.T) { test(t, pgtest.DSN(t)) })
}

// writes matches the calls that write a node's fields.
func writes(a faultinject.Action, n int) faultinject.Rule {
	var seen atomic.Int32
	return func(c faultinject.Call) (faultinject.Action, bool) {
		if c.Method != "UpdateNode" && c.Method != "UpdateNodeHeld" {
			return a, false
		}
		return a, int(seen.Add(1)) == n
	}
}

// settled checks the lifecycle's invariant on a node no task of its
// agents runs on: it is unlocked in a stable state, or it is still
// locked (left for a sweep); an operation it was left in the middle of has
// a last_error.
func settled(t *testing.T, e *env, id string) *store.Node {
	t.Helper()
	n, err := e.db.Node(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	if n.Reservation == "" && (!taskmanager.IsStable(n.ProvisionState) || n.TargetPowerState != "") {
		t.Fatalf("node %s unlocked in the middle of an operation: provision %q -> %q, target power %q, last_error %q",
			id, n.ProvisionState, n.TargetProvisionState, n.TargetPowerState, n.LastError)
	}
	return n
}

func idle(t *testing.T, e *env) {
	t.Helper()
	until(t, "the workers' end", func() bool { return e.tm.Stats().Busy == 0 })
}

// Bug 1: a provisioning worker whose save of "done" fails records the
// failure (or keeps the lock for the sweep) instead of leaving the node
// unlocked in verifying with no last_error.
func TestBug1FailedDoneSaveIsRecorded(t *testing.T) {
	onBackends(t, func(t *testing.T, dsn string) {
		e := newEnv(t, envOpts{dsn: dsn})
		n := e.node(t, "n1")
		// The first write is ProcessEvent(manage)'s, the second the
		// worker's "done".
		e.fi.On(writes(faultinject.Action{Fail: true, Err: errors.New("conflict with a concurrent writer")}, 2))
		err := e.tm.Do(bg, n.UUID, nil, func(ctx context.Context, task *taskmanager.Task) error {
			return task.ProcessEvent(ctx, taskmanager.EventManage, taskmanager.Callback(func(ctx context.Context, t *taskmanager.Task) error {
				return t.ProcessEvent(ctx, taskmanager.EventDone)
			}))
		})
		if err != nil {
			t.Fatal(err)
		}
		idle(t, e)
		got := settled(t, e, n.UUID)
		if got.Reservation != "" || got.ProvisionState != taskmanager.StateEnroll || !strings.Contains(got.LastError, "concurrent writer") {
			t.Fatalf("after a failed save of done: %q reservation %q last_error %q", got.ProvisionState, got.Reservation, got.LastError)
		}
	})
}

// Bug 2: the sweep of a leaked lock meets a task of the agent trying to
// take the same node; the lock must still be released by a sweep.
func TestBug2SweepMeetsATaskTakingTheLock(t *testing.T) {
	onBackends(t, func(t *testing.T, dsn string) {
		e := newEnv(t, envOpts{dsn: dsn, policy: lock.Policy{Attempts: 1, Interval: time.Millisecond, ReleaseTimeout: time.Millisecond}})
		n := e.node(t, "n1")
		t1, err := e.tm.Acquire(bg, n.UUID)
		if err != nil {
			t.Fatal(err)
		}
		e.fi.On(faultinject.Every("Release", faultinject.Action{Fail: true}))
		t1.Release() // the release fails: an orphan for the sweep
		e.fi.Clear()
		g := faultinject.NewGate()
		e.fi.On(faultinject.Every("ReserveNode", faultinject.Action{Gate: g}))
		acquired := make(chan error, 1)
		go func() {
			t2, err := e.tm.Acquire(bg, n.UUID)
			if err == nil {
				t2.Release()
			}
			acquired <- err
		}()
		var err2 error
		swept := false
		select {
		case <-g.Reached(): // the task is taking the lock: sweep now
			if _, err := e.tm.RecoverStale(bg, time.Minute); err != nil {
				t.Fatal(err)
			}
			swept = true
			g.Open()
			err2 = <-acquired
		case err2 = <-acquired: // refused before it reached the database
		}
		if err2 != nil && !errors.Is(err2, lock.ErrNodeLocked) {
			t.Fatalf("second acquire: %v", err2)
		}
		g.Open()
		if _, err := e.tm.RecoverStale(bg, time.Minute); err != nil {
			t.Fatal(err)
		}
		if r := e.reservation(t, n.UUID); r != "" {
			t.Fatalf("lock left held by %q after the sweeps (a sweep met the taking task: %v)", r, swept)
		}
	})
}

// Bug 3: a release whose answer was lost is retried after another task of
// the same agent took the node; the retry must not free that task's lock.
func TestBug3RetriedReleaseSparesTheNextHolder(t *testing.T) {
	onBackends(t, func(t *testing.T, dsn string) {
		e := newEnv(t, envOpts{dsn: dsn, policy: lock.Policy{Attempts: 1, Interval: time.Millisecond, ReleaseTimeout: 30 * time.Second}})
		n := e.node(t, "n1")
		t1, err := e.tm.Acquire(bg, n.UUID)
		if err != nil {
			t.Fatal(err)
		}
		g := faultinject.NewGate()
		e.fi.On(faultinject.Nth("Release", 1, faultinject.Action{Lost: true}))
		e.fi.On(faultinject.Nth("Release", 2, faultinject.Action{Gate: g}))
		released := make(chan struct{})
		go func() { t1.Release(); close(released) }()
		<-g.Reached() // the first release committed; its retry waits
		t2, err := e.tm.Acquire(bg, n.UUID, taskmanager.Purpose("second"))
		if err != nil {
			t.Fatalf("the released node cannot be taken: %v", err)
		}
		g.Open()
		<-released
		got, _ := e.db.Node(bg, n.UUID)
		if got.Reservation != "agent-a" || got.ReservationPurpose != "second" {
			t.Fatalf("the retried release freed the next task's lock: reservation %q purpose %q", got.Reservation, got.ReservationPurpose)
		}
		t2.Release()
		if r := e.reservation(t, n.UUID); r != "" {
			t.Fatalf("reservation %q", r)
		}
	})
}

// Bug 4: the stale-lock sweep records the interruption before it releases
// the lock: a sweep that cannot record it leaves the lock to the next
// sweep instead of an unlocked node in the middle of an operation.
func TestBug4StaleSweepRecordsThenReleases(t *testing.T) {
	onBackends(t, func(t *testing.T, dsn string) {
		dead := newEnv(t, envOpts{agent: "agent-dead", dsn: dsn})
		live := newEnv(t, envOpts{agent: "agent-live", dsn: dsn})
		// A node of a driver the sweeper lacks, and one whose record
		// fails once.
		foreign := &store.Node{Name: "foreign", Driver: "absent", ProvisionState: taskmanager.StateEnroll}
		if err := dead.db.CreateNode(bg, foreign); err != nil {
			t.Fatal(err)
		}
		blip := dead.node(t, "blip")
		for _, id := range []string{foreign.UUID, blip.UUID} {
			crash(t, dead, id, func(n *store.Node) { n.TargetPowerState = "power on" })
		}
		live.fi.On(writes(faultinject.Action{Fail: true}, 1))
		live.tm.RecoverStale(bg, time.Minute) // agent-dead never heartbeat
		for _, id := range []string{foreign.UUID, blip.UUID} {
			settled(t, live, id)
		}
		live.fi.Clear()
		live.tm.RecoverStale(bg, time.Minute)
		for _, id := range []string{foreign.UUID, blip.UUID} {
			got := settled(t, live, id)
			if got.Reservation != "" || !strings.Contains(got.LastError, "interrupted") {
				t.Fatalf("node %s after two sweeps: reservation %q last_error %q", got.Name, got.Reservation, got.LastError)
			}
		}
	})
}

// Bug 5: an agent's start-up recovery must not mark interrupted an
// operation another agent started on the node after sweeping its lock.
func TestBug5RecoverSparesTheNewHolder(t *testing.T) {
	onBackends(t, func(t *testing.T, dsn string) {
		a := newEnv(t, envOpts{agent: "agent-a", dsn: dsn})
		b := newEnv(t, envOpts{agent: "agent-b", dsn: dsn})
		n := a.node(t, "n1")
		crash(t, a, n.UUID, func(n *store.Node) { n.TargetPowerState = "power on" })
		g := faultinject.NewGate()
		a.fi.On(writes(faultinject.Action{Gate: g}, 1))
		recovered := make(chan error, 1)
		go func() { _, err := a.tm.Recover(bg); recovered <- err }()
		<-g.Reached() // a listed its locks and is about to record
		if _, err := b.tm.RecoverStale(bg, time.Minute); err != nil {
			t.Fatal(err)
		}
		task, err := b.tm.Acquire(bg, n.UUID, taskmanager.Purpose("power off"))
		if err != nil {
			t.Fatal(err)
		}
		task.Node().TargetPowerState, task.Node().LastError = "power off", ""
		if err := task.Save(bg); err != nil {
			t.Fatal(err)
		}
		g.Open()
		if err := <-recovered; err != nil {
			t.Logf("recover: %v", err)
		}
		got, _ := b.db.Node(bg, n.UUID)
		if got.Reservation != "agent-b" || got.TargetPowerState != "power off" || strings.Contains(got.LastError, "restarted") {
			t.Fatalf("b's operation after a's recovery: reservation %q target %q last_error %q", got.Reservation, got.TargetPowerState, got.LastError)
		}
		task.Node().PowerState, task.Node().TargetPowerState = "power off", ""
		if err := task.Settle(bg); err != nil {
			t.Fatalf("b cannot record its outcome: %v", err)
		}
		task.Release()
		settled(t, b, n.UUID)
	})
}

// Bug 7: a second Release while the spawned work runs does nothing.
func TestBug7SecondReleaseKeepsTheWorkersLock(t *testing.T) {
	e := newEnv(t, envOpts{})
	n := e.node(t, "n1")
	task, err := e.tm.Acquire(bg, n.UUID)
	if err != nil {
		t.Fatal(err)
	}
	running, finish := make(chan struct{}), make(chan struct{})
	if err := task.SpawnAfter(func(ctx context.Context, t *taskmanager.Task) error {
		close(running)
		<-finish
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	task.Release()
	<-running
	task.Release()
	if r := e.reservation(t, n.UUID); r != "agent-a" {
		t.Errorf("a second Release freed the running worker's lock: reservation %q", r)
	}
	close(finish)
	idle(t, e)
	if r := e.reservation(t, n.UUID); r != "" {
		t.Fatalf("reservation %q after the worker", r)
	}
}

// Bug 8: background work cannot spawn more: SpawnAfter fails and no
// worker slot is kept.
func TestBug8SpawnFromAWorkerIsRefused(t *testing.T) {
	e := newEnv(t, envOpts{workers: 2})
	n := e.node(t, "n1")
	task, err := e.tm.Acquire(bg, n.UUID)
	if err != nil {
		t.Fatal(err)
	}
	spawned := make(chan error, 1)
	if err := task.SpawnAfter(func(ctx context.Context, t *taskmanager.Task) error {
		spawned <- t.SpawnAfter(func(context.Context, *taskmanager.Task) error { return nil })
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	task.Release()
	if err := <-spawned; err == nil {
		t.Error("a worker spawned more work")
	}
	idle(t, e)
}

// A panic in Do's function after SpawnAfter does not start the work, and
// releases the lock (suspected in issue 18, confirmed).
func TestPanicInDoDropsTheSpawnedWork(t *testing.T) {
	e := newEnv(t, envOpts{})
	n := e.node(t, "n1")
	var ran atomic.Bool
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the caller")
			}
		}()
		e.tm.Do(bg, n.UUID, nil, func(ctx context.Context, task *taskmanager.Task) error {
			if err := task.SpawnAfter(func(context.Context, *taskmanager.Task) error { ran.Store(true); return nil }); err != nil {
				t.Fatal(err)
			}
			panic("boom")
		})
	}()
	idle(t, e)
	if ran.Load() {
		t.Error("work spawned by a panicking function ran")
	}
	if r := e.reservation(t, n.UUID); r != "" {
		t.Fatalf("reservation %q", r)
	}
}

// A lock-and-read statement that took the lock but failed to read the row
// (a malformed column) leaves the lock to the sweep (suspected in issue 18,
// confirmed).
func TestReserveThatFailsAfterTakingIsSwept(t *testing.T) {
	onBackends(t, func(t *testing.T, dsn string) {
		e := newEnv(t, envOpts{dsn: dsn})
		n := e.node(t, "n1")
		e.fi.On(faultinject.Nth("ReserveNode", 1, faultinject.Action{Lost: true, Err: errors.New("scan: malformed column")}))
		if _, err := e.tm.Acquire(bg, n.UUID); err == nil {
			t.Fatal("acquire succeeded")
		}
		if _, err := e.tm.RecoverStale(bg, time.Minute); err != nil {
			t.Fatal(err)
		}
		if r := e.reservation(t, n.UUID); r != "" {
			t.Fatalf("lock left held by %q", r)
		}
	})
}

// Fencing (issue 11): a task whose lock another agent swept and took can
// no longer mutate the BMC (refused before any I/O), write the node or
// release the new holder's lock; the agent's next task on the node works.
func TestFencedTaskStops(t *testing.T) {
	onBackends(t, func(t *testing.T, dsn string) {
		a := newEnv(t, envOpts{agent: "agent-a", dsn: dsn})
		b := newEnv(t, envOpts{agent: "agent-b", dsn: dsn})
		n := a.node(t, "n1")
		stalled, err := a.tm.Acquire(bg, n.UUID, taskmanager.Purpose("deploy"))
		if err != nil {
			t.Fatal(err)
		}
		// agent-a never heartbeat: b takes it for dead.
		if _, err := b.tm.RecoverStale(bg, time.Minute); err != nil {
			t.Fatal(err)
		}
		live, err := b.tm.Acquire(bg, n.UUID, taskmanager.Purpose("power off"))
		if err != nil {
			t.Fatal(err)
		}
		if live.LockLease().Token <= stalled.LockLease().Token {
			t.Fatalf("tokens %v then %v", stalled.LockLease(), live.LockLease())
		}
		err = stalled.Driver().SetPowerState(bg, drivers.ActionPowerOn, 0)
		var fe *lock.FencedError
		if !errors.As(err, &fe) || !errors.Is(err, lock.ErrFenced) || fe.Now.Holder != "agent-b" {
			t.Fatalf("mutation by the fenced task: %v", err)
		}
		if calls := a.fake.Calls(n.UUID); calls != 0 {
			t.Fatalf("the fenced mutation reached the BMC: %d calls", calls)
		}
		if _, err := stalled.Driver().PowerState(bg); err != nil {
			t.Fatalf("a read is not fenced: %v", err)
		}
		stalled.Node().LastError = "stale write"
		if err := stalled.Save(bg); !errors.Is(err, lock.ErrFenced) {
			t.Fatalf("save by the fenced task: %v", err)
		}
		if err := stalled.Settle(bg); !errors.Is(err, lock.ErrFenced) {
			t.Fatalf("settle by the fenced task: %v", err)
		}
		stalled.Release()
		got, _ := b.db.Node(bg, n.UUID)
		if got.Reservation != "agent-b" || got.LastError == "stale write" {
			t.Fatalf("after the fenced task: reservation %q last_error %q", got.Reservation, got.LastError)
		}
		if err := live.Driver().SetPowerState(bg, drivers.ActionPowerOff, 0); err != nil {
			t.Fatalf("the holder's mutation: %v", err)
		}
		live.Release()
		if _, err := a.tm.RecoverStale(bg, time.Minute); err != nil {
			t.Fatal(err)
		}
		again, err := a.tm.Acquire(bg, n.UUID)
		if err != nil {
			t.Fatalf("agent-a after being fenced: %v", err)
		}
		if err := again.Driver().SetPowerState(bg, drivers.ActionPowerOn, 0); err != nil {
			t.Fatal(err)
		}
		again.Release()
		settled(t, a, n.UUID)
	})
}

// A write under the lock whose answer was lost (found by
// TestLifecycleChaos): the task keeps the lock, and the sweep records the
// operation it may have started as interrupted.
func TestSaveWithoutAnswerKeepsTheLock(t *testing.T) {
	onBackends(t, func(t *testing.T, dsn string) {
		e := newEnv(t, envOpts{dsn: dsn})
		n := e.node(t, "n1")
		e.fi.On(writes(faultinject.Action{Lost: true}, 1))
		err := e.tm.Do(bg, n.UUID, nil, func(ctx context.Context, task *taskmanager.Task) error {
			task.Node().TargetPowerState = "power on"
			return task.Save(ctx)
		})
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("save whose answer was lost: %v", err)
		}
		if got := settled(t, e, n.UUID); got.Reservation != "agent-a" || got.TargetPowerState != "power on" {
			t.Fatalf("after the lost save: reservation %q target %q", got.Reservation, got.TargetPowerState)
		}
		if _, err := e.tm.RecoverStale(bg, time.Minute); err != nil {
			t.Fatal(err)
		}
		got := settled(t, e, n.UUID)
		if got.Reservation != "" || !strings.Contains(got.LastError, "interrupted") {
			t.Fatalf("after the sweep: reservation %q last_error %q", got.Reservation, got.LastError)
		}
	})
}
