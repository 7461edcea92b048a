package api

import (
	"context"
	"time"

	"github.com/bmc-agent/bmc-agent/cluster"
	"github.com/bmc-agent/bmc-agent/store"
)

// owners finds the agent that owns a node now: the ring's choice among the
// live agents of the node's group (cluster.Ring, the ring the power sync
// follows). It reads the agents once per request and builds each group's
// ring on first use.
type owners struct {
	ctx     context.Context
	db      store.Store
	timeout time.Duration
	agents  []store.Agent
	read    bool
	rings   map[string]*cluster.Ring
}

// conductor is a node's "conductor" field (1.49): the agent that owns the
// node, or null when no live agent of its group is known or the agents
// cannot be read, as Ironic answers null when get_conductor_for raises
// NoValidHost or TemporaryFailure (ironic/api/controllers/v1/node.py,
// node_convert_with_links: "Currently there is no conductor servicing
// node").
func (c *view) conductor(n *store.Node) any {
	o := c.owners
	if o == nil {
		return nil
	}
	if !o.read {
		o.read = true
		all, err := o.db.Agents(o.ctx, o.timeout)
		if err == nil {
			o.agents = all
		}
		o.rings = map[string]*cluster.Ring{}
	}
	r, ok := o.rings[n.AgentGroup]
	if !ok {
		var ids []string
		for _, a := range o.agents {
			if a.Alive && a.Group == n.AgentGroup {
				ids = append(ids, a.ID)
			}
		}
		r = cluster.NewRing(ids, 0)
		o.rings[n.AgentGroup] = r
	}
	return nullable(r.Owner(n.UUID))
}
