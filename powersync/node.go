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

// syncNode syncs one node and counts the outcome in r.
func (l *Loop) syncNode(ctx context.Context, id string, r *Result) {
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
	switch {
	case err == nil:
	case ctx.Err() != nil:
		r.Skipped++ // shutting down: not the BMC's fault
		return
	case errors.Is(err, drivers.ErrUnsupported),
		errors.Is(err, drivers.ErrInvalidInfo) && node.PowerState == "":
		// Nothing to sync yet, as Ironic: a node without a power
		// interface, or one whose driver_info is still incomplete.
		t.Log().Debug("power state not synced", "err", err)
		r.Skipped++
		return
	default:
		l.readFailed(ctx, t, err, recovering, r)
		return
	}
	switch {
	case recovering:
		l.recover(ctx, t, st, r)
	case node.PowerState == string(st):
		l.succeed(node.UUID)
		r.InSync++
	default:
		l.differs(ctx, t, st, r)
	}
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

// differs handles a BMC that reports another state than the recorded one.
func (l *Loop) differs(ctx context.Context, t *taskmanager.Task, st drivers.PowerState, r *Result) {
	if !l.upgrade(ctx, t, r) {
		return
	}
	node := t.Node() // reloaded: check again
	if why := skipReason(node, l.cfg.AgentID); why != "" || node.Maintenance {
		t.Log().Debug("power state not synced after locking", "why", why, "maintenance", node.Maintenance)
		r.Skipped++
		return
	}
	if node.PowerState == string(st) {
		l.succeed(node.UUID)
		r.InSync++
		return
	}
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

// readFailed counts a failed read and, at MaxFailures, puts the node into
// maintenance.
func (l *Loop) readFailed(ctx context.Context, t *taskmanager.Task, err error, recovering bool, r *Result) {
	kind := drivers.ErrorKind(err)
	if recovering {
		t.Log().Debug("BMC of a node in maintenance for a power failure still does not answer", "err", err)
		r.failed(kind)
		return
	}
	count := l.fail(t.Node().UUID)
	if count < l.cfg.MaxFailures {
		t.Log().Warn("cannot read the power state", "attempt", count, "max", l.cfg.MaxFailures, "err", err)
		r.failed(kind)
		return
	}
	reason := fmt.Sprintf("power state sync: cannot read the power state in %d consecutive cycles: %v", count, err)
	l.enterMaintenance(ctx, t, drivers.NoPowerState, reason, kind, r)
}

// enterMaintenance puts the node into maintenance with fault "power
// failure", recording st as its power state (unknown if the BMC is silent,
// as Ironic records None).
func (l *Loop) enterMaintenance(ctx context.Context, t *taskmanager.Task, st drivers.PowerState, reason, kind string, r *Result) {
	if !l.upgrade(ctx, t, r) {
		return
	}
	node := t.Node()
	if why := skipReason(node, l.cfg.AgentID); why != "" || node.Maintenance {
		r.Skipped++
		return
	}
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
// BMC answers, recording the state it reports.
func (l *Loop) recover(ctx context.Context, t *taskmanager.Task, st drivers.PowerState, r *Result) {
	if !l.upgrade(ctx, t, r) {
		return
	}
	node := t.Node()
	if why := skipReason(node, l.cfg.AgentID); why != "" || !node.Maintenance {
		r.Skipped++
		return
	}
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
