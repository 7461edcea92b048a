package api

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// nodeFields is the JSON form of a node. Fields of Ironic's the agent has no
// use for are shown with their unset value (see MaxVersion).
func (a *API) nodeFields() []field[store.Node] {
	type N = store.Node
	null := func(*N, *view) any { return nil }
	empty := func(*N, *view) any { return map[string]any{} }
	iface := func(name string) func(*N, *view) any {
		kind := strings.TrimSuffix(name, "_interface")
		return func(n *N, _ *view) any { return a.nodeInterface(n, kind) }
	}
	links := func(sub string) func(*N, *view) any {
		return func(n *N, c *view) any { return selfLinks(c.base, "nodes/"+n.UUID+sub) }
	}
	return []field[N]{
		{"uuid", 1, true, func(n *N, _ *view) any { return n.UUID }},
		{"name", vNodeName, true, func(n *N, _ *view) any { return nullable(n.Name) }},
		{"instance_uuid", 1, true, null},
		{"power_state", 1, true, func(n *N, _ *view) any { return nullable(n.PowerState) }},
		{"provision_state", 1, true, func(n *N, _ *view) any { return n.ProvisionState }},
		{"maintenance", 1, true, func(n *N, _ *view) any { return n.Maintenance }},
		{"links", 1, true, func(n *N, c *view) any { return selfLinks(c.base, "nodes/"+n.UUID) }},
		{"driver", 1, false, func(n *N, _ *view) any { return n.Driver }},
		{"driver_info", 1, false, func(n *N, _ *view) any { return emptyIfNil(drivers.Info(n.DriverInfo).Redacted()) }},
		{"driver_internal_info", vDriverInternal, false, empty},
		{"properties", 1, false, func(n *N, _ *view) any { return emptyIfNil(n.Properties) }},
		{"instance_info", 1, false, func(n *N, _ *view) any { return drivers.Mask(emptyIfNil(n.InstanceInfo)) }},
		{"extra", 1, false, func(n *N, _ *view) any { return emptyIfNil(n.Extra) }},
		{"chassis_uuid", 1, false, null},
		{"console_enabled", 1, false, func(*N, *view) any { return false }},
		{"target_power_state", 1, false, func(n *N, _ *view) any { return nullable(n.TargetPowerState) }},
		{"target_provision_state", 1, false, func(n *N, _ *view) any { return nullable(n.TargetProvisionState) }},
		{"provision_updated_at", 1, false, func(n *N, _ *view) any { return jsonTimePtr(n.ProvisionUpdatedAt) }},
		{"last_error", 1, false, func(n *N, _ *view) any { return nullable(n.LastError) }},
		{"maintenance_reason", 1, false, func(n *N, _ *view) any { return nullable(n.MaintenanceReason) }},
		{"reservation", 1, false, func(n *N, _ *view) any { return nullable(n.Reservation) }},
		{"created_at", 1, false, func(n *N, _ *view) any { return jsonTime(n.CreatedAt) }},
		{"updated_at", 1, false, func(n *N, _ *view) any { return jsonTime(n.UpdatedAt) }},
		{"ports", 1, false, links("/ports")},
		{"states", vStatesLinks, false, links("/states")},
		{"inspection_started_at", vInspectStates, false, func(n *N, _ *view) any { return jsonTimePtr(n.InspectionStartedAt) }},
		{"inspection_finished_at", vInspectStates, false, func(n *N, _ *view) any { return jsonTimePtr(n.InspectionFinishedAt) }},
		{"clean_step", vCleanStep, false, empty},
		{"raid_config", vRAIDConfig, false, empty},
		{"target_raid_config", vRAIDConfig, false, func(n *N, _ *view) any { return emptyIfNil(n.TargetRAIDConfig) }},
		{"network_interface", vNetworkInterface, false, iface("network_interface")},
		{"resource_class", vResourceClass, false, func(n *N, _ *view) any { return nullable(n.ResourceClass) }},
		{"boot_interface", vDynamicInterfaces, false, iface("boot_interface")},
		{"console_interface", vDynamicInterfaces, false, iface("console_interface")},
		{"deploy_interface", vDynamicInterfaces, false, iface("deploy_interface")},
		{"inspect_interface", vDynamicInterfaces, false, iface("inspect_interface")},
		{"management_interface", vDynamicInterfaces, false, iface("management_interface")},
		{"power_interface", vDynamicInterfaces, false, iface("power_interface")},
		{"raid_interface", vDynamicInterfaces, false, iface("raid_interface")},
		{"vendor_interface", vDynamicInterfaces, false, iface("vendor_interface")},
		{"volume", vVolume, false, links("/volume")},
		{"storage_interface", vStorageInterface, false, iface("storage_interface")},
		{"traits", vTraits, false, func(*N, *view) any { return []string{} }},
		{"rescue_interface", vRescueInterface, false, iface("rescue_interface")},
		{"bios_interface", vBIOSInterface, false, iface("bios_interface")},
		{"fault", vFault, false, func(n *N, _ *view) any { return nullable(n.Fault) }},
		{"deploy_step", vDeployStep, false, empty},
		{"conductor_group", vConductorGroup, false, func(n *N, _ *view) any { return n.AgentGroup }},
		{"automated_clean", vAutomatedClean, false, null},
		{"protected", vProtected, false, func(*N, *view) any { return false }},
		{"protected_reason", vProtected, false, null},
		{"conductor", vConductors, false, func(n *N, c *view) any { return c.conductor(n) }},
		{"owner", vOwner, false, null},
		{"description", vDescription, false, func(n *N, _ *view) any { return nullable(n.Description) }},
		{"allocation_uuid", vAllocationUUID, false, null},
		{"retired", vRetired, false, func(*N, *view) any { return false }},
		{"retired_reason", vRetired, false, null},
		{"lessee", vLessee, false, null},
		{"network_data", vNetworkData, false, empty},
		{"boot_mode", vBootModeFields, false, func(n *N, _ *view) any { return nullable(n.BootMode) }},
		{"secure_boot", vBootModeFields, false, null},
		{"shard", vShard, false, null},
		{"parent_node", vParentNode, false, null},
		{"firmware_interface", vFirmwareInterface, false, iface("firmware_interface")},
		{"service_step", vServiceStep, false, empty},
	}
}

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9\-._~]+$`)
	groupRE = regexp.MustCompile(`^[A-Za-z0-9_\-.]*$`)
)

// nodeInputs are the fields a client may set on a node, at creation or by
// PATCH (the maintenance fields only by PATCH). driver comes first: the
// interface names are checked against it.
func (a *API) nodeInputs(patch bool) []input[store.Node] {
	type N = store.Node
	str := func(name string, since, max int, set func(*N, string) error) input[N] {
		return input[N]{name, since, func(n *N, raw json.RawMessage) error {
			s, err := decodeString(raw, name)
			if err != nil {
				return err
			}
			if len(s) > max {
				return badRequest("The field %q is longer than %d characters", name, max)
			}
			return set(n, s)
		}}
	}
	obj := func(name string, set func(*N, map[string]any)) input[N] {
		return input[N]{name, 1, func(n *N, raw json.RawMessage) error {
			m, err := decodeMap(raw, name)
			if err == nil {
				set(n, m)
			}
			return err
		}}
	}
	in := []input[N]{
		str("driver", 1, 255, func(n *N, s string) error {
			if s == "" {
				return badRequest("The field \"driver\" is mandatory")
			}
			if _, err := a.cfg.Drivers.Driver(s); err != nil {
				return &Error{Status: http.StatusBadRequest, Message: sentence("Cannot use driver: " + err.Error()), Err: err}
			}
			n.Driver = s
			return nil
		}),
		str("name", vNodeName, 255, func(n *N, s string) error {
			if s != "" && (!nameRE.MatchString(s) || store.IsUUID(s)) {
				return badRequest("Invalid node name %q: a name uses letters, digits and -._~ only and cannot look like a UUID", truncate(s, 64))
			}
			n.Name = s
			return nil
		}),
		obj("driver_info", func(n *N, m map[string]any) { n.DriverInfo = m }),
		obj("properties", func(n *N, m map[string]any) { n.Properties = m }),
		obj("instance_info", func(n *N, m map[string]any) { n.InstanceInfo = m }),
		obj("extra", func(n *N, m map[string]any) { n.Extra = m }),
		str("resource_class", vResourceClass, 80, func(n *N, s string) error { n.ResourceClass = s; return nil }),
		str("conductor_group", vConductorGroup, 255, func(n *N, s string) error {
			if !groupRE.MatchString(s) {
				return badRequest("Invalid conductor_group %q: it uses letters, digits and _-. only", truncate(s, 64))
			}
			n.AgentGroup = strings.ToLower(s)
			return nil
		}),
		str("description", vDescription, 4096, func(n *N, s string) error { n.Description = s; return nil }),
		unsupported[N]("chassis_uuid", 1, nil),
		unsupported[N]("instance_uuid", 1, nil),
		unsupported[N]("automated_clean", vAutomatedClean, nil),
		unsupported[N]("owner", vOwner, nil),
		unsupported[N]("lessee", vLessee, nil),
		unsupported[N]("network_data", vNetworkData, map[string]any{}),
		unsupported[N]("shard", vShard, nil),
		unsupported[N]("parent_node", vParentNode, nil),
	}
	for _, f := range ifaceFields {
		in = append(in, a.ifaceInput(f))
	}
	if patch {
		return append(in,
			input[N]{"maintenance", 1, func(n *N, raw json.RawMessage) (err error) {
				n.Maintenance, err = decodeBool(raw, "maintenance")
				return err
			}},
			str("maintenance_reason", 1, 4096, func(n *N, s string) error { n.MaintenanceReason = s; return nil }),
			unsupported[N]("protected", vProtected, false),
			unsupported[N]("protected_reason", vProtected, nil),
			unsupported[N]("retired", vRetired, false),
			unsupported[N]("retired_reason", vRetired, nil),
		)
	}
	return append(in, input[N]{"uuid", 1, func(n *N, raw json.RawMessage) error {
		s, err := decodeString(raw, "uuid")
		if err != nil {
			return err
		}
		if s != "" && !store.IsUUID(s) {
			return badRequest("Invalid UUID %q for the field \"uuid\"", truncate(s, 64))
		}
		n.UUID = strings.ToLower(s)
		return nil
	}})
}

// nodeInternal are the fields of a node a client sees but cannot set.
var nodeInternal = map[string]bool{
	"uuid": true, "power_state": true, "target_power_state": true, "provision_state": true,
	"target_provision_state": true, "provision_updated_at": true, "last_error": true, "reservation": true,
	"created_at": true, "updated_at": true, "links": true, "ports": true, "states": true, "volume": true,
	"driver_internal_info": true, "clean_step": true, "deploy_step": true, "service_step": true,
	"raid_config": true, "target_raid_config": true, "console_enabled": true, "inspection_started_at": true,
	"inspection_finished_at": true, "fault": true, "conductor": true, "allocation_uuid": true,
	"boot_mode": true, "secure_boot": true, "traits": true, "maintenance": true, "maintenance_reason": true,
	"protected": true, "protected_reason": true, "retired": true, "retired_reason": true,
}

// nodeFilters are the node collection's filters and their microversions.
var nodeFilters = map[string]int{
	"driver": vDriverFilter, "provision_state": vProvisionFilter, "maintenance": 1,
	"conductor_group": vConductorGroup, "associated": 1, "instance_uuid": 1,
	"fault": vFault, "resource_class": vResourceClass, "conductor": vConductors,
}

func (a *API) listNodes(detail bool) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		l, err := parseListing(r, a.cfg.MaxLimit, listOptions[store.Node]{fields: a.nodes, filters: nodeFilters, detail: detail})
		if err != nil {
			return err
		}
		f := store.NodeFilter{Page: l.page, Driver: l.filters["driver"], ProvisionState: l.filters["provision_state"]}
		if s, ok := l.filters["maintenance"]; ok {
			b, ok := parseBool(s)
			if !ok {
				return badRequest("Invalid value for maintenance: %q is not a boolean", truncate(s, 32))
			}
			f.Maintenance = &b
		}
		if s, ok := l.filters["conductor_group"]; ok {
			g := strings.ToLower(s)
			f.AgentGroup = &g
		}
		// The agent keeps no instance_uuid: no node is associated.
		none := l.filters["instance_uuid"] != ""
		if s, ok := l.filters["associated"]; ok {
			b, ok := parseBool(s)
			if !ok {
				return badRequest("Invalid value for associated: %q is not a boolean", truncate(s, 32))
			}
			none = none || b
		}
		for _, k := range []string{"fault", "resource_class"} {
			if _, ok := l.filters[k]; ok {
				return badRequest("Filtering nodes by %s is not supported by bmc-agent", k)
			}
		}
		if none {
			return writeJSON(w, http.StatusOK, collection(r, a.view(r), "nodes", []*store.Node(nil), nodeUUID, l, a.nodes))
		}
		return a.streamNodes(w, r, f, l)
	}
}

func nodeUUID(n *store.Node) string { return n.UUID }

// showNode answers with one node, honouring ?fields.
func (a *API) showNode(w http.ResponseWriter, r *http.Request, status int, n *store.Node) error {
	return show(w, r, a.view(r), status, n, a.nodes)
}

func (a *API) getNode(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, "fields"); err != nil {
		return err
	}
	n, err := a.db.Node(r.Context(), r.PathValue("node"))
	if err != nil {
		return err
	}
	return a.showNode(w, r, http.StatusOK, n)
}

// onlyQuery refuses query parameters other than the allowed ones.
func onlyQuery(r *http.Request, allowed ...string) error {
	for k := range r.URL.Query() {
		if !contains(allowed, k) {
			return badRequest("Unknown argument: %q", truncate(k, 64))
		}
	}
	return nil
}

func (a *API) createNode(w http.ResponseWriter, r *http.Request) error {
	v := versionOf(r)
	o, err := readObject(r)
	if err != nil {
		return err
	}
	n, err := a.decodeNewNode(o, v)
	if err != nil {
		return err
	}
	if err := a.db.CreateNode(r.Context(), n); err != nil {
		return err
	}
	w.Header().Set("Location", a.baseURL(r)+"/v1/nodes/"+n.UUID)
	return a.showNode(w, r, http.StatusCreated, n)
}

// decodeNewNode turns a creation request into a node in its first state:
// enroll, or available for a client older than 1.11, as in Ironic.
func (a *API) decodeNewNode(o object, v Version) (*store.Node, error) {
	n := &store.Node{ProvisionState: taskmanager.StateEnroll}
	if !v.atLeast(vEnrollState) {
		n.ProvisionState = taskmanager.StateAvailable
	}
	if _, ok := o["driver"]; !ok {
		return nil, badRequest("The field \"driver\" is mandatory")
	}
	if err := applyInputs(n, o, a.nodeInputsCreate, nodeInternal, "node", v); err != nil {
		return nil, err
	}
	if err := checkDriverInfo(n.DriverInfo, nil, false); err != nil {
		return nil, err
	}
	if err := checkInstanceInfo(n.InstanceInfo, nil); err != nil {
		return nil, err
	}
	a.fillInterfaces(n)
	now := time.Now().UTC()
	n.ProvisionUpdatedAt = &now
	return n, nil
}

func (a *API) patchNode(w http.ResponseWriter, r *http.Request) error {
	v := versionOf(r)
	if err := onlyQuery(r, "reset_interfaces"); err != nil {
		return err
	}
	reset, err := resetInterfaces(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var saved *store.Node
	err = a.tm.Do(r.Context(), r.PathValue("node"), lockOnly("node update"),
		func(ctx context.Context, t *taskmanager.Task) error {
			next, err := a.patchedNodeReset(t.Node(), body, v, reset)
			if err != nil {
				return err
			}
			*t.Node() = *next
			if err := t.Save(ctx); err != nil {
				return err
			}
			saved = t.Node()
			return nil
		})
	if err != nil {
		return err
	}
	return a.showNode(w, r, http.StatusOK, saved)
}

// patchedNode applies a JSON Patch to a copy of cur: the patch sees the
// fields a client may set (driver_info with its secrets), a member it
// removes returns to its unset value, and the result is checked as a
// creation is.
func (a *API) patchedNode(cur *store.Node, body []byte, v Version) (*store.Node, error) {
	return a.patchedNodeReset(cur, body, v, false)
}

// patchedNodeReset is patchedNode with Ironic's reset_interfaces (1.45): a
// new driver's node returns to the driver's default interfaces instead of
// keeping the ones a client chose.
func (a *API) patchedNodeReset(cur *store.Node, body []byte, v Version, reset bool) (*store.Node, error) {
	rules := rulesFor("node", v, a.nodeInputsPatch, nodeInternal)
	ops, err := parsePatch(body, rules)
	if err != nil {
		return nil, err
	}
	c := &view{v: v, api: a}
	doc := make(map[string]any, len(a.nodeInputsPatch))
	for _, in := range a.nodeInputsPatch {
		if !v.atLeast(in.since) {
			continue
		}
		if f, ok := findField(a.nodes, in.name); ok {
			doc[in.name] = f.get(cur, c)
		}
	}
	patched, err := applyPatch(doc, ops)
	if err != nil {
		return nil, err
	}
	// Interface names the patch left as they were stay with the driver
	// and follow it to its defaults if it changes; only a client's own
	// value is checked against the driver.
	var unchanged []string
	for _, f := range ifaceFields {
		k := f.kind + "_interface"
		if !v.atLeast(f.since) {
			unchanged = append(unchanged, k)
			continue
		}
		var got any
		if raw, ok := patched[k]; ok && json.Unmarshal(raw, &got) == nil && jsonEqual(got, a.nodeInterface(cur, f.kind)) {
			delete(patched, k)
			unchanged = append(unchanged, k)
		}
	}
	next := *cur
	next.Name, next.Driver, next.ResourceClass, next.AgentGroup, next.Description = "", "", "", "", ""
	next.DriverInfo, next.Properties, next.InstanceInfo, next.Extra = nil, nil, nil, nil
	next.Maintenance, next.MaintenanceReason = false, ""
	next.Interfaces = nil
	if _, ok := patched["driver"]; !ok {
		return nil, badRequest("The field \"driver\" is mandatory and cannot be removed")
	}
	if err := applyInputs(&next, patched, a.nodeInputsPatch, nodeInternal, "node", v); err != nil {
		return nil, err
	}
	moved := endpointChanged(cur.Driver, next.Driver, cur.DriverInfo, next.DriverInfo)
	if err := checkDriverInfo(next.DriverInfo, cur.DriverInfo, moved); err != nil {
		return nil, err
	}
	if err := checkInstanceInfo(next.InstanceInfo, cur.InstanceInfo); err != nil {
		return nil, err
	}
	if err := a.checkInterfaceChange(cur, &next, unchanged, reset); err != nil {
		return nil, err
	}
	// Fields newer than the requested version were not in the patch's
	// document: they keep their values.
	if !v.atLeast(vNodeName) {
		next.Name = cur.Name
	}
	if !v.atLeast(vResourceClass) {
		next.ResourceClass = cur.ResourceClass
	}
	if !v.atLeast(vConductorGroup) {
		next.AgentGroup = cur.AgentGroup
	}
	if !v.atLeast(vDescription) {
		next.Description = cur.Description
	}
	if !next.Maintenance {
		next.MaintenanceReason = ""
	}
	return &next, nil
}

// deleteAllowed are the provision states a node may be deleted in (any
// state while in maintenance), as in Ironic.
var deleteAllowed = []string{taskmanager.StateEnroll, taskmanager.StateManageable, taskmanager.StateAvailable}

func (a *API) deleteNode(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r); err != nil {
		return err
	}
	// Take the lock to wait out (or report) an operation in progress and to
	// read the state no one is changing. The store deletes only unlocked
	// nodes, so the delete follows the release: a node that went from an
	// allowed state to a forbidden one in between would have had to run a
	// whole operation in that instant, and one still running holds the lock.
	var id string
	err := a.tm.Do(r.Context(), r.PathValue("node"), lockOnly("node delete"),
		func(ctx context.Context, t *taskmanager.Task) error {
			n := t.Node()
			if !n.Maintenance && !contains(deleteAllowed, n.ProvisionState) {
				return &Error{Status: http.StatusConflict, Message: sentence("Can not delete node " + n.UUID +
					" while it is in provision state \"" + n.ProvisionState + "\"; move it to manageable or available first, or set maintenance"),
					Err: taskmanager.ErrInvalidState}
			}
			id = n.UUID
			return nil
		})
	if err != nil {
		return err
	}
	if err := a.db.DeleteNode(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// nodeStates is GET /v1/nodes/{node}/states, the state summary.
func (a *API) nodeStates(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r); err != nil {
		return err
	}
	n, err := a.db.Node(r.Context(), r.PathValue("node"))
	if err != nil {
		return err
	}
	want := []string{"power_state", "target_power_state", "provision_state", "target_provision_state",
		"provision_updated_at", "last_error", "console_enabled", "raid_config", "target_raid_config", "boot_mode", "secure_boot"}
	return writeJSON(w, http.StatusOK, render(n, a.nodes, a.view(r), want, false))
}
