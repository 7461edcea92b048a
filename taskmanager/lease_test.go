package taskmanager_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/internal/faultinject"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// testLease is a lease the test holds and loses at will.
type testLease struct {
	mu     sync.Mutex
	err    error
	ctx    context.Context
	cancel context.CancelCauseFunc
}

var errStalled = errors.New("agent a stalled")

func newTestLease() *testLease {
	l := &testLease{}
	l.regain()
	return l
}

func (l *testLease) Held() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *testLease) Context() context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ctx
}

func (l *testLease) lose() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = errStalled
	l.cancel(errStalled)
}

func (l *testLease) regain() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = nil
	l.ctx, l.cancel = context.WithCancelCause(context.Background())
}

// Without its lease the agent takes no task, its spawned work is cancelled
// (cause: the lost lease) and a mutating driver call of a task it already
// holds is refused before it reaches the driver, while reads go on; with
// the lease back, new tasks work and the old one stays fenced.
func TestLease(t *testing.T) {
	lease := newTestLease()
	e := newEnv(t, envOpts{lease: lease})
	slow := &store.Node{Name: "slow", Driver: "fake", ProvisionState: taskmanager.StateEnroll, DriverInfo: store.JSON{"fake_delay": "10m"}}
	if err := e.db.CreateNode(bg, slow); err != nil {
		t.Fatal(err)
	}
	quick := e.node(t, "quick")

	// Spawned work on a BMC call that hangs.
	task, err := e.tm.Acquire(bg, "slow", taskmanager.Purpose("power on"))
	if err != nil {
		t.Fatal(err)
	}
	workErr := make(chan error, 1)
	if err := task.SpawnAfter(func(ctx context.Context, t *taskmanager.Task) error {
		err := t.Driver().SetPowerState(ctx, drivers.ActionPowerOn, 0)
		if err == nil {
			workErr <- errors.New("the BMC call succeeded")
			return err
		}
		// The call's own context and the work's both end with the
		// lease, in either order: wait for the work's.
		select {
		case <-ctx.Done():
			workErr <- context.Cause(ctx)
		case <-time.After(time.Minute):
			workErr <- fmt.Errorf("the BMC call ended with %v, the work's context did not", err)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	task.Release()
	until(t, "the BMC call started", func() bool { return e.fake.Calls(slow.UUID) > 0 })

	held, err := e.tm.Acquire(bg, "quick", taskmanager.Purpose("boot device"))
	if err != nil {
		t.Fatal(err)
	}
	if err := held.Held(bg); err != nil {
		t.Fatalf("Held of a task under the lease: %v", err)
	}
	lease.lose()
	if cause := <-workErr; !errors.Is(cause, taskmanager.ErrLeaseLost) || !errors.Is(cause, errStalled) {
		t.Fatalf("spawned work's context ended with %v, want the lost lease", cause)
	}
	until(t, "the slow node unlocked", func() bool { return e.reservation(t, slow.UUID) == "" })

	calls := e.fake.Calls(quick.UUID)
	err = held.Driver().SetBootDevice(bg, drivers.BootPXE, drivers.BootOptions{})
	if !errors.Is(err, taskmanager.ErrLeaseLost) {
		t.Fatalf("mutating call without the lease: %v", err)
	}
	t.Logf("refused: %v", err)
	if _, err := held.Driver().PowerState(bg); err != nil {
		t.Fatalf("a read without the lease: %v", err)
	}
	if got := e.fake.Calls(quick.UUID); got != calls+1 {
		t.Fatalf("the driver saw %d calls, want only the read", got-calls)
	}
	if _, err := e.tm.Acquire(bg, "slow"); !errors.Is(err, taskmanager.ErrLeaseLost) {
		t.Fatalf("Acquire without the lease: %v", err)
	}
	if _, err := e.tm.Acquire(bg, "slow", taskmanager.Shared()); !errors.Is(err, taskmanager.ErrLeaseLost) {
		t.Fatalf("shared Acquire without the lease: %v", err)
	}

	// With the lease back, a task taken under the lost one stays fenced:
	// the others may have taken its lock meanwhile.
	lease.regain()
	if err := held.Driver().SetBootDevice(bg, drivers.BootPXE, drivers.BootOptions{}); !errors.Is(err, taskmanager.ErrLeaseLost) || !errors.Is(err, errStalled) {
		t.Fatalf("mutating call of a task of the lost lease, with the lease back: %v", err)
	}
	if err := held.Save(bg); !errors.Is(err, taskmanager.ErrLeaseLost) || !errors.Is(err, errStalled) {
		t.Fatalf("Save of a task of the lost lease, with the lease back: %v", err)
	}
	// Nor may it write beside its node (an inspection's inventory, ports).
	if err := held.Held(bg); !errors.Is(err, taskmanager.ErrLeaseLost) || !errors.Is(err, errStalled) {
		t.Fatalf("Held of a task of the lost lease, with the lease back: %v", err)
	}
	if got := e.fake.Calls(quick.UUID); got != calls+1 {
		t.Fatalf("the driver saw %d calls, want only the read", got-calls)
	}
	held.Release()
	err = e.tm.Do(bg, "quick", []taskmanager.Option{taskmanager.Purpose("power on")}, func(ctx context.Context, t *taskmanager.Task) error {
		return t.Driver().SetPowerState(ctx, drivers.ActionPowerOn, 0)
	})
	if err != nil {
		t.Fatalf("Do with the lease back: %v", err)
	}
}

// While the database cannot answer the fencing check, the lease stands in
// for it: a task of a held lease makes its mutating call, one whose lease
// ended is refused, and without a Lease configured the call is refused.
func TestFenceFallsBackOnLease(t *testing.T) {
	down := faultinject.Action{Fail: true, Err: fmt.Errorf("verify: %w", store.ErrUnavailable)}
	setBoot := func(e *env, task *taskmanager.Task) error {
		return task.Driver().SetBootDevice(bg, drivers.BootPXE, drivers.BootOptions{})
	}
	t.Run("lease held", func(t *testing.T) {
		lease := newTestLease()
		e := newEnv(t, envOpts{lease: lease})
		n := e.node(t, "n")
		task, err := e.tm.Acquire(bg, "n", taskmanager.Purpose("boot device"))
		if err != nil {
			t.Fatal(err)
		}
		defer task.Release()
		e.fi.On(faultinject.Every("Verify", down))
		if err := setBoot(e, task); err != nil {
			t.Fatalf("mutating call with the database down and the lease held: %v", err)
		}
		if e.fi.Calls("Verify") == 0 || e.fake.Calls(n.UUID) != 1 {
			t.Fatalf("verify calls %d, driver calls %d", e.fi.Calls("Verify"), e.fake.Calls(n.UUID))
		}
		lease.lose()
		if err := setBoot(e, task); !errors.Is(err, taskmanager.ErrLeaseLost) {
			t.Fatalf("mutating call with the database down and the lease lost: %v", err)
		}
		if e.fake.Calls(n.UUID) != 1 {
			t.Fatalf("the driver saw %d calls, want 1", e.fake.Calls(n.UUID))
		}
	})
	t.Run("no lease", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		n := e.node(t, "n")
		task, err := e.tm.Acquire(bg, "n", taskmanager.Purpose("boot device"))
		if err != nil {
			t.Fatal(err)
		}
		defer task.Release()
		e.fi.On(faultinject.Every("Verify", down))
		if err := setBoot(e, task); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("mutating call with the database down and no lease: %v", err)
		}
		if e.fake.Calls(n.UUID) != 0 {
			t.Fatalf("the driver saw %d calls, want none", e.fake.Calls(n.UUID))
		}
	})
}
