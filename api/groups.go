package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// groupBound are the node routes whose requests act on the node through
// its driver (its BMC, or work that will reach it). Such a request is
// served only by an agent of the node's conductor_group: groups are how
// operators pin nodes to the agents that can reach their BMC network, as
// Ironic's hash ring maps a node only to conductors of its group
// (ironic/conductor/rpcapi.py, get_conductor_for). Edits that only touch
// the database (PATCH, DELETE, maintenance, ports, states/raid, which only
// records target_raid_config, and inventory, which reads the stored one)
// are accepted by any agent, so a node can be moved to a group that has live agents from any
// of them.
var groupBound = []string{
	"/v1/nodes/{node}/states/power",
	"/v1/nodes/{node}/states/provision",
	"/v1/nodes/{node}/states/boot_mode",
	"/v1/nodes/{node}/states/secure_boot",
	"/v1/nodes/{node}/management/boot_device",
	"/v1/nodes/{node}/management/boot_device/supported",
	"/v1/nodes/{node}/management/inject_nmi",
	"/v1/nodes/{node}/vmedia",
	"/v1/nodes/{node}/validate",
	"/v1/nodes/{node}/firmware", // read from the BMC (listFirmware)
}

// groupGuard wraps the handlers of a group-bound route: a request for a
// node of another conductor group than this agent's is refused before
// anything is locked or called, and not forwarded (see docs/api.md).
func (a *API) groupGuard(pattern string, methods map[string]handler) map[string]handler {
	if !slices.Contains(groupBound, pattern) {
		return methods
	}
	out := make(map[string]handler, len(methods))
	for m, h := range methods {
		out[m] = func(w http.ResponseWriter, r *http.Request) error {
			if err := a.checkGroup(r); err != nil {
				return err
			}
			return h(w, r)
		}
	}
	return out
}

// checkGroup refuses a request for a node of another group with the answer
// Ironic gives when no conductor of the node's group can take it
// (NoValidHost, turned into 400 by its node controllers:
// ironic/api/controllers/v1/node.py, _get_rpc_node_and_topic), followed
// by what this agent knows: its own group and the live agents of the
// node's. The node is read once more by the handler, under its lock; a
// concurrent move of the node to another group is the only window, and the
// move itself takes the lock.
func (a *API) checkGroup(r *http.Request) error {
	n, err := a.db.Node(r.Context(), r.PathValue("node"))
	if isNotFound(err) {
		return nil // the handler answers 404
	}
	if err != nil {
		return err
	}
	if n.AgentGroup == a.cfg.Group {
		return nil
	}
	msg := fmt.Sprintf("No valid host was found. Reason: No conductor service registered which supports driver %s for conductor group \"%s\". "+
		"Ensure the driver is valid and enabled. (This agent serves conductor group %q and does not act on node %s of group %q",
		n.Driver, n.AgentGroup, a.cfg.Group, n.UUID, n.AgentGroup)
	if live := a.liveAgentsOf(r, n.AgentGroup); len(live) > 0 {
		msg += "; agents of that group: " + strings.Join(live, ", ")
	}
	return &Error{Status: http.StatusBadRequest, Message: msg + ".)"}
}

// liveAgentsOf names the live agents of group, best effort.
func (a *API) liveAgentsOf(r *http.Request, group string) []string {
	all, err := a.db.Agents(r.Context(), a.cfg.HeartbeatTimeout)
	if err != nil {
		return nil
	}
	var out []string
	for _, ag := range all {
		if ag.Alive && ag.Group == group {
			out = append(out, ag.ID)
		}
	}
	return out
}
