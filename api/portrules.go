package api

import (
	"net/http"

	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// portConnectivityStates are the provision states in which a port's
// connectivity attributes may change without maintenance (Ironic's
// allowed_update_states: enroll, inspecting, inspect wait, manageable).
var portConnectivityStates = []string{taskmanager.StateEnroll, taskmanager.StateInspecting, "inspect wait", taskmanager.StateManageable}

// portChangeAllowed applies Ironic's rules for a port update
// (ironic/conductor/manager.py, ConductorManager.update_port), each an
// InvalidState, 409:
//   - the hardware address of a port of an active node changes only in
//     maintenance;
//   - pxe_enabled, local_link_connection and physical_network (Ironic's
//     connectivity attributes, with portgroup_id, which the agent does not
//     have) change only while the node is in enroll, inspecting, inspect
//     wait or manageable, or in maintenance.
func portChangeAllowed(n *store.Node, cur, next *store.Port) error {
	if n.ProvisionState == taskmanager.StateActive && next.Address != cur.Address && !n.Maintenance {
		return newError(http.StatusConflict, "Cannot update hardware address for port %s as node %s is active or has instance UUID assigned", cur.UUID, n.UUID)
	}
	changed := next.PXEEnabled != cur.PXEEnabled || next.PhysicalNetwork != cur.PhysicalNetwork ||
		!jsonEqual(emptyIfNil(next.LocalLinkConnection), emptyIfNil(cur.LocalLinkConnection))
	if changed && !n.Maintenance && !contains(portConnectivityStates, n.ProvisionState) {
		return newError(http.StatusConflict, "Port %s can not have any connectivity attributes (pxe_enabled, local_link_connection, physical_network, portgroup_id) updated unless node %s is in a enroll, inspecting, inspect wait, manageable state or in maintenance mode. The current state is %s.",
			cur.UUID, n.UUID, n.ProvisionState)
	}
	return nil
}
