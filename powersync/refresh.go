package powersync

import (
	"context"
	"errors"
	"fmt"

	"github.com/bmc-agent/bmc-agent/cluster"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// ErrRefreshFailed is what Refresh returns when the node's BMC did not
// answer usefully or its new state could not be recorded.
var ErrRefreshFailed = errors.New("power state refresh failed")

// Refresh syncs one node now, the way a cycle syncs each node: its power
// state is read under a shared task and a change is recorded under the
// exclusive lock (or, with ForcePowerState, undone). A node the cycle
// would skip (locked, in maintenance, being enrolled) is skipped without
// error.
//
// It is what a push event (package events) calls: the BMC said something
// changed, so the agent reads it rather than wait for the next cycle.
//
// A failed read returns ErrRefreshFailed and does not count toward
// MaxFailures: the count is of consecutive failed cycles, as Ironic's
// [conductor]power_state_sync_max_retries (ironic/conf/conductor.py)
// counts the failures of do_sync_power_state, which only the periodic
// _sync_power_states calls (ironic/conductor/manager.py), so that a node goes
// into maintenance after MaxFailures intervals of silence, however many
// events its BMC sends meanwhile. A BMC that posts a burst of events while
// it resets (and answers nothing) would otherwise reach maintenance in
// seconds. A good read still ends a run of failures: the BMC answered.
func (l *Loop) Refresh(ctx context.Context, nodeID string) error {
	var r Result
	l.syncNode(ctx, nodeID, &r, false)
	if r.Failed > 0 {
		return fmt.Errorf("%w: node %s: %v", ErrRefreshFailed, nodeID, r.Errors)
	}
	return nil
}

// Owned lists the UUIDs of the nodes of the loop's group that the ring
// gives this agent now, locked or not, in maintenance or not (but not those
// being enrolled): the nodes whose BMCs this agent is responsible for,
// e.g. for event subscriptions that must outlive a deploy holding the lock.
func (l *Loop) Owned(ctx context.Context) ([]string, error) {
	var out []string
	group := l.cfg.Group
	_, err := cluster.Owned(ctx, l.owners, l.cfg.AgentID, l.nodes, listPage,
		[]store.NodeFilter{{AgentGroup: &group}}, func(n *store.Node) {
			if n.ProvisionState != taskmanager.StateEnroll {
				out = append(out, n.UUID)
			}
		})
	return out, err
}
