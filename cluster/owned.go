package cluster

import (
	"context"
	"fmt"

	"github.com/bmc-agent/bmc-agent/store"
)

// Rings gives the ring of the live agents of the group (*Member).
type Rings interface {
	Ring(ctx context.Context) (*Ring, error)
}

// NodeLister lists nodes (the store).
type NodeLister interface {
	Nodes(ctx context.Context, f store.NodeFilter) ([]*store.Node, error)
}

// Share is the part of the nodes one agent works on in a cycle of a
// periodic loop (the power sync, the telemetry collector): what the ring of
// the live agents gives it.
type Share struct {
	// Agents is the number of live agents the nodes are shared among.
	Agents int
	// Member is false when the agent is not among the live agents (a stale
	// heartbeat): it then owns nothing this cycle, so that no node is worked
	// on twice.
	Member bool
}

// Owned walks the nodes each filter selects, page nodes at a time (so that
// a fleet's rows are never all decoded at once), and calls keep for each
// one the ring of the live agents gives agent. rings may be nil: a single
// agent owns every node.
func Owned(ctx context.Context, rings Rings, agent string, nodes NodeLister, page int, filters []store.NodeFilter, keep func(*store.Node)) (Share, error) {
	var ring *Ring
	share := Share{Agents: 1, Member: true}
	if rings != nil {
		var err error
		if ring, err = rings.Ring(ctx); err != nil {
			return Share{}, fmt.Errorf("live agents: %w", err)
		}
		share.Agents = len(ring.Members())
		if !ring.Has(agent) {
			share.Member = false
			return share, nil
		}
	}
	for _, f := range filters {
		f.Limit = page
		for {
			list, err := nodes.Nodes(ctx, f)
			if err != nil {
				return Share{}, fmt.Errorf("list nodes: %w", err)
			}
			for _, n := range list {
				if ring == nil || ring.Owner(n.UUID) == agent {
					keep(n)
				}
			}
			if len(list) < page {
				break
			}
			f.Marker = list[len(list)-1].UUID
		}
	}
	return share, nil
}
