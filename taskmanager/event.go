package taskmanager

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/store"
)

// EventOption qualifies ProcessEvent.
type EventOption func(*eventOptions)

type eventOptions struct {
	callback    Work
	onSpawnErr  func(t *Task, err error, prevState, prevTarget string)
	targetState string
}

// Callback spawns fn (as SpawnAfter does) to do the work the event starts.
// If fn fails or panics, the node takes the event "fail" where the state
// machine allows it, and its last_error records why.
func Callback(fn Work) EventOption { return func(o *eventOptions) { o.callback = fn } }

// OnSpawnError replaces the handler that runs when the callback cannot be
// spawned. The default restores the previous provision state and target and
// records the error in last_error.
func OnSpawnError(h func(t *Task, err error, prevState, prevTarget string)) EventOption {
	return func(o *eventOptions) { o.onSpawnErr = h }
}

// TargetState sets the target provision state instead of the machine's
// default for the new state (e.g. manual cleaning works towards manageable).
func TargetState(s string) EventOption { return func(o *eventOptions) { o.targetState = s } }

// ProcessEvent moves the node through the provision state machine: it checks
// that event is allowed in the node's state (else an *InvalidStateError),
// records the new state and target, and spawns the callback if one is given
// (failing with ErrNoFreeWorker, the state left as it was, if none is free).
// It needs an exclusive task.
func (t *Task) ProcessEvent(ctx context.Context, event string, opts ...EventOption) error {
	if t.Released() {
		return ErrReleased
	}
	if t.Shared() {
		return fmt.Errorf("provision event %q: %w", event, drivers.ErrExclusiveLockRequired)
	}
	o := eventOptions{onSpawnErr: restoreOnSpawnError}
	for _, opt := range opts {
		opt(&o)
	}
	n := t.Node()
	next, err := NextState(n.ProvisionState, event)
	if err != nil {
		return &InvalidStateError{Node: n.UUID, State: n.ProvisionState, Event: event}
	}
	prevState, prevTarget, prevUpdated := n.ProvisionState, n.TargetProvisionState, n.ProvisionUpdatedAt
	prevFailed := t.workFailed
	if o.callback != nil {
		t.SetSpawnErrorHook(func(t *Task, err error) { o.onSpawnErr(t, err, prevState, prevTarget) })
		if err := t.SpawnAfter(o.callback); err != nil {
			return err
		}
		t.workFailed = failProvision
	}
	target := o.targetState
	if target == "" {
		target = TargetOf(next)
	}
	now := time.Now().UTC()
	n.ProvisionState, n.TargetProvisionState, n.ProvisionUpdatedAt = next, target, &now
	if err := t.Save(ctx); err != nil {
		n.ProvisionState, n.TargetProvisionState, n.ProvisionUpdatedAt = prevState, prevTarget, prevUpdated
		if o.callback != nil {
			// Undo only what this call set up: an event processed by
			// the spawned work itself (its "done") keeps the work's
			// failure handler, which records this error.
			t.cancelSpawn()
			t.workFailed = prevFailed
		}
		return err
	}
	t.Log().Info("provision state changed", "event", event, "from", prevState, "to", next, "target", target)
	return nil
}

// restoreOnSpawnError is the default spawn error handler of ProcessEvent.
func restoreOnSpawnError(t *Task, err error, prevState, prevTarget string) {
	n := t.Node()
	n.ProvisionState, n.TargetProvisionState = prevState, prevTarget
	n.LastError = err.Error()
	if err := t.Settle(context.Background()); err != nil {
		t.Log().Error("cannot record the spawn failure", "err", err)
	}
}

// failProvision records a failed callback: the node takes "fail" where it
// can, and last_error says why.
func failProvision(t *Task, cause error) {
	ctx := context.Background()
	save := func() error {
		n := t.Node()
		from := n.ProvisionState
		n.LastError = cause.Error()
		if next, err := NextState(n.ProvisionState, EventFail); err == nil {
			now := time.Now().UTC()
			n.ProvisionState, n.TargetProvisionState, n.ProvisionUpdatedAt = next, TargetOf(next), &now
		}
		if err := t.Settle(ctx); err != nil {
			return err
		}
		t.Log().Info("provision state changed", "event", EventFail, "from", from, "to", n.ProvisionState, "last_error", n.LastError)
		return nil
	}
	err := save()
	if errors.Is(err, store.ErrConflict) {
		// The work may have saved the node and left a stale copy: reload
		// and try once more.
		if rerr := t.Refresh(ctx); rerr == nil {
			err = save()
		}
	}
	if err != nil {
		t.Log().Error("cannot record the failure of background work", "cause", cause, "err", err)
	}
}
