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
// error. A failed read counts toward MaxFailures like a cycle's.
//
// It is what a push event (package events) calls: the BMC said something
// changed, so the agent reads it rather than wait for the next cycle.
func (l *Loop) Refresh(ctx context.Context, nodeID string) error {
	var r Result
	l.syncNode(ctx, nodeID, &r)
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
