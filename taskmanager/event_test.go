package taskmanager_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/taskmanager"
	"pgregory.net/rapid"
)

func TestStateMachineTable(t *testing.T) {
	cases := []struct{ from, event, to string }{
		{taskmanager.StateEnroll, taskmanager.EventManage, taskmanager.StateVerifying},
		{taskmanager.StateVerifying, taskmanager.EventDone, taskmanager.StateManageable},
		{taskmanager.StateManageable, taskmanager.EventInspect, taskmanager.StateInspecting},
		{taskmanager.StateInspecting, taskmanager.EventDone, taskmanager.StateManageable},
		{taskmanager.StateManageable, taskmanager.EventProvide, taskmanager.StateCleaning},
		{taskmanager.StateCleaning, taskmanager.EventDone, taskmanager.StateAvailable},
		{taskmanager.StateAvailable, taskmanager.EventDeploy, taskmanager.StateDeploying},
		{taskmanager.StateDeploying, taskmanager.EventDone, taskmanager.StateActive},
		{taskmanager.StateDeploying, taskmanager.EventFail, taskmanager.StateDeployFailed},
		{taskmanager.StateActive, taskmanager.EventDelete, taskmanager.StateDeleting},
		{taskmanager.StateDeleting, taskmanager.EventDone, taskmanager.StateCleaning},
		{taskmanager.StateDeleting, taskmanager.EventFail, taskmanager.StateError},
		{taskmanager.StateDeployWait, taskmanager.EventAbort, taskmanager.StateDeployFailed},
		{taskmanager.StateCleanWait, taskmanager.EventAbort, taskmanager.StateCleanFailed},
	}
	for _, c := range cases {
		got, err := taskmanager.NextState(c.from, c.event)
		if err != nil || got != c.to {
			t.Errorf("%s --%s--> %q, %v; want %s", c.from, c.event, got, err, c.to)
		}
	}
	for _, bad := range []struct{ from, event string }{
		{taskmanager.StateEnroll, taskmanager.EventDeploy},
		{taskmanager.StateActive, taskmanager.EventProvide},
		{taskmanager.StateDeploying, taskmanager.EventAbort},
		{taskmanager.StateAvailable, taskmanager.EventDone},
	} {
		if _, err := taskmanager.NextState(bad.from, bad.event); !errors.Is(err, taskmanager.ErrInvalidState) {
			t.Errorf("%s --%s--> allowed: %v", bad.from, bad.event, err)
		}
	}
}

// TestStateMachineProperties walks the machine at random and checks its
// invariants: every transient state can fail or finish, works towards a
// stable state, and every state stays reachable from enroll.
func TestStateMachineProperties(t *testing.T) {
	states := taskmanager.States()
	for _, s := range states {
		if taskmanager.IsStable(s) {
			continue
		}
		if !taskmanager.IsStable(taskmanager.TargetOf(s)) {
			t.Errorf("transient %q targets %q, which is not stable", s, taskmanager.TargetOf(s))
		}
		evs := taskmanager.Events(s)
		if !slices.Contains(evs, taskmanager.EventFail) {
			t.Errorf("transient %q cannot fail: %v", s, evs)
		}
		if !slices.ContainsFunc(evs, func(ev string) bool {
			return ev == taskmanager.EventDone || ev == taskmanager.EventResume || ev == taskmanager.EventManage
		}) {
			t.Errorf("transient %q cannot finish or resume: %v", s, evs)
		}
	}
	if t.Failed() {
		return
	}
	rapid.Check(t, func(rt *rapid.T) {
		state := taskmanager.StateEnroll
		for range rapid.IntRange(1, 60).Draw(rt, "steps") {
			evs := taskmanager.Events(state)
			if len(evs) == 0 {
				rt.Fatalf("dead end at %q", state)
			}
			ev := rapid.SampledFrom(evs).Draw(rt, "event")
			next, err := taskmanager.NextState(state, ev)
			if err != nil {
				rt.Fatalf("listed event %q refused in %q: %v", ev, state, err)
			}
			state = next
		}
	})
}

func TestProcessEvent(t *testing.T) {
	e := newEnv(t, envOpts{})
	n := e.node(t, "")
	ctx := context.Background()

	// Invalid event.
	err := e.tm.Do(ctx, n.UUID, nil, func(ctx context.Context, task *taskmanager.Task) error {
		return task.ProcessEvent(ctx, taskmanager.EventDeploy)
	})
	var ise *taskmanager.InvalidStateError
	if !errors.As(err, &ise) || ise.State != taskmanager.StateEnroll || ise.Node != n.UUID {
		t.Fatalf("deploy from enroll: %v", err)
	}

	// A callback that succeeds moves the node on with "done".
	err = e.tm.Do(ctx, n.UUID, nil, func(ctx context.Context, task *taskmanager.Task) error {
		return task.ProcessEvent(ctx, taskmanager.EventManage, taskmanager.Callback(func(ctx context.Context, t *taskmanager.Task) error {
			if err := t.Driver().Validate(drivers.PowerInterface); err != nil {
				return err
			}
			return t.ProcessEvent(ctx, taskmanager.EventDone)
		}))
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		got, _ := e.db.Node(ctx, n.UUID)
		return got.ProvisionState == taskmanager.StateManageable && got.Reservation == ""
	})
	got, _ := e.db.Node(ctx, n.UUID)
	if got.TargetProvisionState != "" || got.ProvisionUpdatedAt == nil {
		t.Fatalf("manageable node: target %q updated %v", got.TargetProvisionState, got.ProvisionUpdatedAt)
	}

	// The shared task may not change the state.
	err = e.tm.Do(ctx, n.UUID, []taskmanager.Option{taskmanager.Shared()}, func(ctx context.Context, task *taskmanager.Task) error {
		return task.ProcessEvent(ctx, taskmanager.EventProvide)
	})
	if !errors.Is(err, drivers.ErrExclusiveLockRequired) {
		t.Fatalf("ProcessEvent on a shared task: %v", err)
	}

	// Provide -> cleaning -> available, then deploy with a failing callback.
	for _, ev := range []string{taskmanager.EventProvide, taskmanager.EventDone} {
		if err := e.tm.Do(ctx, n.UUID, nil, func(ctx context.Context, task *taskmanager.Task) error {
			return task.ProcessEvent(ctx, ev)
		}); err != nil {
			t.Fatal(err)
		}
	}
	err = e.tm.Do(ctx, n.UUID, nil, func(ctx context.Context, task *taskmanager.Task) error {
		if task.Node().ProvisionState != taskmanager.StateAvailable {
			t.Fatalf("state %q", task.Node().ProvisionState)
		}
		return task.ProcessEvent(ctx, taskmanager.EventDeploy, taskmanager.Callback(func(ctx context.Context, t *taskmanager.Task) error {
			return errors.New("image not found")
		}))
	})
	if err != nil {
		t.Fatal(err)
	}
	// The worker records the failure, then releases the lock.
	waitFor(t, func() bool {
		got, _ := e.db.Node(ctx, n.UUID)
		return got.ProvisionState == taskmanager.StateDeployFailed && got.Reservation == ""
	})
	got, _ = e.db.Node(ctx, n.UUID)
	if got.LastError != "image not found" || got.Reservation != "" {
		t.Fatalf("after a failed deploy: last_error %q reservation %q", got.LastError, got.Reservation)
	}

	// Panics count as failures too.
	err = e.tm.Do(ctx, n.UUID, nil, func(ctx context.Context, task *taskmanager.Task) error {
		return task.ProcessEvent(ctx, taskmanager.EventDeploy, taskmanager.Callback(func(ctx context.Context, t *taskmanager.Task) error {
			if t.Node().TargetProvisionState != taskmanager.StateActive {
				return errors.New("target not recorded")
			}
			panic("nil map")
		}))
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		got, _ := e.db.Node(ctx, n.UUID)
		return got.ProvisionState == taskmanager.StateDeployFailed && strings.Contains(got.LastError, "panic") && got.Reservation == ""
	})
}

func TestProcessEventNoFreeWorker(t *testing.T) {
	e := newEnv(t, envOpts{workers: 1})
	blocker, n := e.node(t, ""), e.node(t, "")
	ctx := context.Background()
	block := make(chan struct{})
	defer close(block)
	if err := e.tm.Do(ctx, blocker.UUID, nil, func(ctx context.Context, task *taskmanager.Task) error {
		return task.SpawnAfter(func(context.Context, *taskmanager.Task) error { <-block; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	err := e.tm.Do(ctx, n.UUID, nil, func(ctx context.Context, task *taskmanager.Task) error {
		return task.ProcessEvent(ctx, taskmanager.EventManage, taskmanager.Callback(func(context.Context, *taskmanager.Task) error { return nil }))
	})
	if !errors.Is(err, taskmanager.ErrNoFreeWorker) {
		t.Fatalf("ProcessEvent with no free worker: %v", err)
	}
	got, _ := e.db.Node(ctx, n.UUID)
	if got.ProvisionState != taskmanager.StateEnroll || got.TargetProvisionState != "" ||
		!strings.Contains(got.LastError, "no free worker") || got.Reservation != "" {
		t.Fatalf("after the spawn failed: %q -> %q, last_error %q, reservation %q",
			got.ProvisionState, got.TargetProvisionState, got.LastError, got.Reservation)
	}
}
