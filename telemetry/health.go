package telemetry

import (
	"context"
	"errors"
	"fmt"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// FaultHealthFailure is the fault the collector records on a node it put
// into maintenance because its BMC's health rollup read Critical, and the
// only fault it takes a node out of maintenance for.
//
// In Ironic every fault (ironic/common/faults.py: "power failure", "clean
// failure", "rescue abort failure", "service failure") is the reason a node
// was moved into maintenance; a fault is never set alone, and turning
// maintenance off clears it (the API does here too). The collector follows
// that model: a Critical rollup means the BMC reports a failed component
// (Redfish Resource.Health: "A critical condition requires immediate
// attention"), so the node goes into maintenance, which stops new work from
// being scheduled on it and leaves a running instance alone, exactly as
// Ironic's power failure does. A Warning does not: it reports a degraded but
// working machine (a lost redundancy). When the rollup reads OK again, the
// collector takes the node out of maintenance, and only if the fault is
// still the one it set: a node an operator put into maintenance, or one the
// power sync did, is left as it is.
const FaultHealthFailure = "health failure"

// health acts on a good read's health rollup: Critical puts the node into
// maintenance with fault "health failure" (once per episode: an operator who
// turns maintenance off while the BMC still reads Critical is not
// overruled), OK takes it out of the maintenance the collector set.
func (c *Collector) health(ctx context.Context, t *taskmanager.Task, e *Entry) {
	n := t.Node()
	switch h := e.Telemetry.Health; {
	case h == drivers.HealthCritical && !e.critical:
		if n.Maintenance || n.Fault != "" {
			c.cache.markCritical(n.UUID, true) // already in someone's hands
			return
		}
		if !c.write(ctx, t, func(n *store.Node) bool {
			if n.Maintenance || n.Fault != "" {
				return false
			}
			reason := fmt.Sprintf("telemetry: the BMC reports health Critical (%s)", criticalParts(e.Telemetry))
			n.Maintenance, n.Fault, n.MaintenanceReason = true, FaultHealthFailure, reason
			return true
		}) {
			return
		}
		c.cache.markCritical(n.UUID, true)
		t.Log().Error("node put into maintenance", "fault", FaultHealthFailure, "health", h)
	case h == drivers.HealthCritical:
	default:
		if e.critical {
			c.cache.markCritical(n.UUID, false)
		}
		if h != drivers.HealthOK || n.Fault != FaultHealthFailure {
			return
		}
		if c.write(ctx, t, func(n *store.Node) bool {
			if n.Fault != FaultHealthFailure {
				return false
			}
			n.Maintenance, n.Fault, n.MaintenanceReason = false, "", ""
			return true
		}) {
			t.Log().Info("node health OK again; maintenance cleared", "fault", FaultHealthFailure)
		}
	}
}

// criticalParts names the resources whose health is Critical.
func criticalParts(t *drivers.Telemetry) string {
	out := ""
	for _, p := range t.Parts {
		if p.Health == drivers.HealthCritical {
			if out != "" {
				out += ", "
			}
			out += p.Resource + " " + p.ID
		}
	}
	if out == "" {
		return "rollup"
	}
	return out
}

// write applies change to the node under its exclusive lock, on the node
// reloaded under the lock; change reports whether there is anything to
// save. A node someone else holds is left for the next read.
func (c *Collector) write(ctx context.Context, t *taskmanager.Task, change func(*store.Node) bool) bool {
	if err := t.UpgradeLock(ctx, Purpose); err != nil {
		if !errors.Is(err, lock.ErrNodeLocked) && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			t.Log().Warn("cannot lock the node to record its health", "err", err)
		}
		return false
	}
	if !change(t.Node()) {
		return false
	}
	if err := t.Save(ctx); err != nil {
		if ctx.Err() == nil {
			t.Log().Warn("cannot record the node's health", "err", err)
		}
		return false
	}
	return true
}
