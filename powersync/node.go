package powersync

import (
	"context"
	"errors"
	"fmt"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

func (r *Result) failed(kind string) {
	r.Failed++
	r.countError(kind)
}

func (r *Result) countError(kind string) {
	if r.Errors == nil {
		r.Errors = make(map[string]int)
	}
	r.Errors[kind]++
}

// skipReason says why the loop leaves n alone, or "" if it does not. holder
// is a lock holder that does not count as someone acting on the node (the
// loop itself once it has upgraded its task), or "".
func skipReason(n *store.Node, holder string) string {
	switch {
	case n.Reservation != "" && n.Reservation != holder:
		return "locked by " + n.Reservation
	case excluded[n.ProvisionState]:
		return "provision state " + n.ProvisionState
	case n.Maintenance && n.Fault != FaultPowerFailure:
		return "in maintenance"
	}
	return ""
}

// syncNode syncs one node and counts the outcome in r. A failed read
// counts toward MaxFailures only when counts says so (a cycle's, not an
// event's: see Refresh).
func (l *Loop) syncNode(ctx context.Context, id string, r *Result, counts bool) {
	t, err := l.tasks.Acquire(ctx, id, taskmanager.Shared(), taskmanager.Purpose(Purpose))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || ctx.Err() != nil {
			r.Skipped++ // deleted since the listing, or shutting down
			return
		}
		l.log.Warn("cannot load a node to sync its power state", "node", id, "err", err)
		r.failed("store")
		return
	}
	defer t.Release()
	node := t.Node()
	if why := skipReason(node, ""); why != "" {
		t.Log().Debug("power state not synced", "why", why)
		r.Skipped++
		return
	}
	recovering := node.Maintenance // with fault "power failure", per skipReason
	st, err := l.read(ctx, t)
	if l.ignored(ctx, t, err, r) {
		return
	}
	counted := false
	switch {
	case err == nil && !recovering && node.PowerState == string(st):
		l.succeed(id)
		r.InSync++
		return
	case err != nil && recovering:
		t.Log().Debug("BMC of a node in maintenance for a power failure still does not answer", "err", err)
		r.failed(drivers.ErrorKind(err))
		return
	case err != nil && !counts:
		t.Log().Info("cannot read the power state now; the cycles decide", "err", err)
		r.failed(drivers.ErrorKind(err))
		return
	case err != nil:
		if l.belowMax(t, l.fail(id), err, r) {
			return
		}
		counted = true
	}

	// A write is due: a new state to record or restore, a recovery, or
	// maintenance. Take the exclusive lock, check the reloaded node again,
	// and decide on a reading taken under the lock: the first one may
	// predate a power action that ended meanwhile, and recording it would
	// undo what that action recorded.
	if !l.upgrade(ctx, t, r) {
		return
	}
	node = t.Node()
	if why := skipReason(node, l.cfg.AgentID); why != "" || node.Maintenance != recovering {
		t.Log().Debug("power state not synced after locking", "why", why, "maintenance", node.Maintenance)
		r.Skipped++
		return
	}
	st, err = l.read(ctx, t)
	if l.ignored(ctx, t, err, r) {
		return
	}
	switch {
	case err != nil && (recovering || !counts):
		r.failed(drivers.ErrorKind(err))
	case err != nil:
		count := l.Failures(id)
		if !counted {
			count = l.fail(id)
		}
		if l.belowMax(t, count, err, r) {
			return
		}
		reason := fmt.Sprintf("power state sync: cannot read the power state in %d consecutive cycles: %v", count, err)
		l.enterMaintenance(ctx, t, drivers.NoPowerState, reason, drivers.ErrorKind(err), r)
	case recovering:
		l.recover(ctx, t, st, r)
	case node.PowerState == string(st):
		// The first reading was stale, or someone recorded it meanwhile.
		l.succeed(id)
		r.InSync++
	default:
		l.differs(ctx, t, st, r)
	}
}

// belowMax reports (logging and counting it) a failed read that leaves the
// node's consecutive failures, count, below the maximum that puts it into
// maintenance.
func (l *Loop) belowMax(t *taskmanager.Task, count int, err error, r *Result) bool {
	if count >= l.cfg.MaxFailures {
		return false
	}
	t.Log().Warn("cannot read the power state", "attempt", count, "max", l.cfg.MaxFailures, "err", err)
	r.failed(drivers.ErrorKind(err))
	return true
}

// ignored reports (and counts as skipped) a failed read that says nothing
// about the BMC: the agent is shutting down, the driver has no power
// interface, or the node's driver_info is incomplete and it has no state
// recorded yet (as Ironic, which does not sync such a node).
func (l *Loop) ignored(ctx context.Context, t *taskmanager.Task, err error, r *Result) bool {
	switch {
	case err == nil:
		return false
	case ctx.Err() != nil:
	case errors.Is(err, drivers.ErrUnsupported),
		errors.Is(err, drivers.ErrInvalidInfo) && t.Node().PowerState == "":
		t.Log().Debug("power state not synced", "err", err)
	default:
		return false
	}
	r.Skipped++
	return true
}

// read asks the BMC for the node's power state under the call timeout. A
// state that is neither on nor off is a failure, as in Ironic.
func (l *Loop) read(ctx context.Context, t *taskmanager.Task) (drivers.PowerState, error) {
	cctx, cancel := context.WithTimeout(ctx, l.cfg.CallTimeout)
	defer cancel()
	st, err := t.Driver().PowerState(cctx)
	if err != nil {
		return "", err
	}
	if st != drivers.PowerOn && st != drivers.PowerOff {
		return st, fmt.Errorf("BMC reported power state %q: %w", st, drivers.ErrBMCFailed)
	}
	return st, nil
}

// differs handles a BMC that reports another state than the recorded one,
// under the exclusive lock.
func (l *Loop) differs(ctx context.Context, t *taskmanager.Task, st drivers.PowerState, r *Result) {
	node := t.Node()
	old := node.PowerState
	action, restorable := restoreAction(old)
	if old == "" || !l.cfg.ForcePowerState || !restorable {
		node.PowerState = string(st)
		if !l.save(ctx, t, r) {
			return
		}
		l.succeed(node.UUID)
		if old == "" {
			t.Log().Info("power state recorded", "from", old, "to", st)
		} else {
			t.Log().Warn("power state changed out of band; recorded the BMC's", "from", old, "to", st)
		}
		r.Changed++
		return
	}

	count := l.fail(node.UUID)
	if count >= l.cfg.MaxFailures {
		reason := fmt.Sprintf("power state sync: the BMC reported %q instead of the recorded %q in %d consecutive cycles, restoring it did not last",
			st, old, count)
		l.enterMaintenance(ctx, t, st, reason, "out_of_sync", r)
		return
	}
	t.Log().Warn("power state changed out of band; restoring the recorded state",
		"bmc_state", st, "recorded", old, "attempt", count, "max", l.cfg.MaxFailures)
	pctx, cancel := context.WithTimeout(ctx, l.cfg.PowerTimeout)
	defer cancel()
	if err := t.Driver().SetPowerState(pctx, action, l.cfg.PowerTimeout); err != nil {
		if ctx.Err() != nil {
			r.Skipped++
			return
		}
		t.Log().Error("cannot restore the recorded power state", "to", old, "err", err, "attempt", count)
		r.failed(drivers.ErrorKind(err))
		return
	}
	t.Log().Info("power state restored on the BMC", "from", st, "to", old)
	r.Forced++
}

// restoreAction is the power action that brings a node to the recorded
// state, if there is one.
func restoreAction(recorded string) (drivers.PowerAction, bool) {
	switch drivers.PowerState(recorded) {
	case drivers.PowerOn:
		return drivers.ActionPowerOn, true
	case drivers.PowerOff:
		return drivers.ActionPowerOff, true
	}
	return "", false
}

// enterMaintenance puts the node into maintenance with fault "power
// failure", under the exclusive lock, recording st as its power state
// (unknown if the BMC is silent, as Ironic records None).
func (l *Loop) enterMaintenance(ctx context.Context, t *taskmanager.Task, st drivers.PowerState, reason, kind string, r *Result) {
	node := t.Node()
	old := node.PowerState
	node.PowerState = string(st)
	node.Maintenance = true
	node.Fault = FaultPowerFailure
	node.MaintenanceReason = reason
	node.LastError = reason
	if !l.save(ctx, t, r) {
		return
	}
	// A fresh count for when maintenance ends (by recovery or by hand).
	l.succeed(node.UUID)
	t.Log().Error("node put into maintenance", "fault", FaultPowerFailure, "reason", reason, "from", old, "to", st)
	r.Maintenance++
	r.countError(kind)
}

// recover takes a node out of maintenance for a power failure now that its
// BMC answers, recording the state it reports, under the exclusive lock.
func (l *Loop) recover(ctx context.Context, t *taskmanager.Task, st drivers.PowerState, r *Result) {
	node := t.Node()
	old := node.PowerState
	node.PowerState = string(st)
	node.Maintenance = false
	node.Fault = ""
	node.MaintenanceReason = ""
	if !l.save(ctx, t, r) {
		return
	}
	l.succeed(node.UUID)
	t.Log().Info("node recovered from a power failure; maintenance cleared", "from", old, "to", st)
	r.Recovered++
}

// upgrade takes the node's exclusive lock for a write. A node someone else
// holds is skipped this cycle.
func (l *Loop) upgrade(ctx context.Context, t *taskmanager.Task, r *Result) bool {
	err := t.UpgradeLock(ctx, Purpose)
	switch {
	case err == nil:
		return true
	case errors.Is(err, lock.ErrNodeLocked), errors.Is(err, store.ErrNotFound), ctx.Err() != nil:
		t.Log().Debug("power state not synced: cannot lock the node", "err", err)
		r.Skipped++
	default:
		t.Log().Warn("cannot lock the node to record its power state", "err", err)
		r.failed("store")
	}
	return false
}

// save writes the node back. A conflict means someone wrote it without
// the lock meanwhile; the next cycle looks again.
func (l *Loop) save(ctx context.Context, t *taskmanager.Task, r *Result) bool {
	err := t.Save(ctx)
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrConflict), ctx.Err() != nil:
		t.Log().Debug("power state not recorded: the node changed meanwhile", "err", err)
		r.Skipped++
	default:
		t.Log().Warn("cannot record the power state", "err", err)
		r.failed("store")
	}
	return false
}
