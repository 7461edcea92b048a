package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/store"
)

// ifaceField is one of Ironic's dynamic interface fields of a node.
type ifaceField struct {
	// kind is Ironic's interface type ("boot"); the node field is
	// kind+"_interface".
	kind  string
	since int
}

// ifaceFields are Ironic's interface fields, in the order of Ironic's
// driver_factory._INTERFACE_LOADERS.
var ifaceFields = []ifaceField{
	{"bios", vBIOSInterface}, {"boot", vDynamicInterfaces}, {"console", vDynamicInterfaces},
	{"deploy", vDynamicInterfaces}, {"firmware", vFirmwareInterface}, {"inspect", vDynamicInterfaces},
	{"management", vDynamicInterfaces}, {"network", vNetworkInterface}, {"power", vDynamicInterfaces},
	{"raid", vDynamicInterfaces}, {"rescue", vRescueInterface}, {"storage", vStorageInterface},
	{"vendor", vDynamicInterfaces},
}

// ifaceChoice is what a driver offers for one interface type: the default
// a node gets, and every name a client may set (Ironic's enabled
// interfaces the hardware type supports), the default first.
type ifaceChoice struct {
	def     string
	enabled []string
}

// hardwareClass is the class name Ironic's messages give a hardware type.
var hardwareClass = map[string]string{
	"ipmi": "IPMIHardware", "redfish": "RedfishHardware", fake.HardwareName: "FakeHardware",
}

// ifaceTable is the interfaces of a driver, by interface type. It is
// computed from the driver's capabilities:
//
//   - power, management and inspect are the driver's own (named after it);
//     fake-hardware's are "fake", as in Ironic.
//   - boot is <driver>-virtual-media for a driver with virtual media (the
//     agent's deploy boots the ISO from the virtual CD). A driver without
//     it (ipmi) has Ironic's defaults for it, ipxe and pxe: the agent boots
//     no ramdisk for such a node, and records the choice for the clients
//     and scripts that set it (gophercloud's fixtures create ipmi nodes with
//     boot_interface ipxe).
//   - deploy is ramdisk, the agent's deploy (fake for fake-hardware).
//   - raid is no-raid or agent: the agent records target_raid_config (PUT
//     .../states/raid) and applies none, since it runs no clean steps.
//   - firmware is redfish for a driver that reads a firmware inventory,
//     no-firmware otherwise.
//   - the others are Ironic's no-op ones (no-console, noop, ...).
//
// A driver's table is computed once and cached.
func (a *API) ifaceTable(driver string) map[string]ifaceChoice {
	if m, ok := a.ifaces.Load(driver); ok {
		return m.(map[string]ifaceChoice)
	}
	one := func(name string) ifaceChoice { return ifaceChoice{name, []string{name}} }
	t := map[string]ifaceChoice{
		"bios": one("no-bios"), "console": one("no-console"), "deploy": one("ramdisk"),
		"firmware": one("no-firmware"), "network": one("noop"), "raid": {"no-raid", []string{"no-raid", "agent"}},
		"rescue": one("no-rescue"), "storage": one("noop"), "vendor": one("no-vendor"),
	}
	d, err := a.cfg.Drivers.Driver(driver)
	if err != nil {
		return t
	}
	own := driver
	if driver == fake.HardwareName {
		own = "fake"
		t["deploy"] = one("fake")
		t["raid"] = ifaceChoice{"fake", []string{"fake", "no-raid", "agent"}}
	}
	if drivers.Supports(d, drivers.PowerInterface) {
		t["power"], t["inspect"] = one(own), one(own)
	}
	if drivers.Supports(d, drivers.ManagementInterface) {
		t["management"] = one(own)
	}
	switch {
	case driver == fake.HardwareName:
		t["boot"] = one("fake")
	case drivers.Supports(d, drivers.VMediaInterface):
		t["boot"] = one(driver + "-virtual-media")
	default:
		t["boot"] = ifaceChoice{"ipxe", []string{"ipxe", "pxe"}}
	}
	if drivers.MethodFirmware.Implemented(d) {
		t["firmware"] = ifaceChoice{own, []string{own, "no-firmware"}}
	}
	a.ifaces.Store(driver, t)
	return t
}

// nodeInterface is the implementation of interface kind a node uses: the
// one a client chose, or its driver's default.
func (a *API) nodeInterface(n *store.Node, kind string) any {
	if s, ok := n.Interfaces[kind+"_interface"].(string); ok && s != "" {
		return s
	}
	if c, ok := a.ifaceTable(n.Driver)[kind]; ok {
		return c.def
	}
	return nil
}

// ifaceInput is the input of an interface field: null returns the node to
// its driver's default; a name the driver does not offer is refused with
// Ironic's own answer (ironic/common/driver_factory.py, get_interface): a
// name no driver of this agent enables is InterfaceNotFoundInEntrypoint, one
// that another driver enables is IncompatibleInterface (both
// InvalidParameterValue, 400).
func (a *API) ifaceInput(f ifaceField) input[store.Node] {
	name := f.kind + "_interface"
	return input[store.Node]{name, f.since, func(n *store.Node, raw json.RawMessage) error {
		if isNull(raw) {
			delete(n.Interfaces, name)
			return nil
		}
		s, err := decodeString(raw, name)
		if err != nil {
			return err
		}
		if !slices.Contains(a.ifaceTable(n.Driver)[f.kind].enabled, s) {
			return a.ifaceError(n.Driver, f.kind, s)
		}
		if n.Interfaces == nil {
			n.Interfaces = store.JSON{}
		}
		n.Interfaces[name] = s
		return nil
	}}
}

// ifaceError is Ironic's answer for an interface the node's driver does not
// offer.
func (a *API) ifaceError(driver, kind, impl string) error {
	var valid []string
	for _, d := range a.cfg.Drivers.Names() {
		for _, e := range a.ifaceTable(d)[kind].enabled {
			if !slices.Contains(valid, e) {
				valid = append(valid, e)
			}
		}
	}
	slices.Sort(valid)
	if !slices.Contains(valid, impl) {
		// driver_factory.get_interface: factory.get_driver raised KeyError.
		quoted := make([]string, len(valid))
		for i, v := range valid {
			quoted[i] = "'" + v + "'"
		}
		return newError(http.StatusBadRequest, "Could not find the following interface in the 'ironic.hardware.interfaces.%s' entrypoint: %s. Valid interfaces are [%s].",
			kind, truncate(impl, 64), strings.Join(quoted, ", "))
	}
	class := hardwareClass[driver]
	if class == "" {
		class = driver
	}
	// Ironic's message starts with the interface type in lower case.
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("%s interface implementation '%s' is not supported by hardware type %s.", kind, truncate(impl, 64), class)}
}

// checkInterfaceChange completes the interfaces of a patched node and
// applies Ironic's rules (ironic/conductor/manager.py, update_node, and
// ironic/api/controllers/v1/node.py, _validate_patch):
//   - reset_interfaces is only for a change of driver (Invalid, 400);
//   - the interfaces the patch left as they were stay, also across a change
//     of driver, where they must suit the new driver (driver_factory's
//     answers) unless reset_interfaces returns them to its defaults;
//   - an interface the patch changes may change only in enroll, inspecting,
//     inspect wait, manageable or available, or in maintenance
//     (InvalidState, 409).
func (a *API) checkInterfaceChange(cur, next *store.Node, unchanged []string, reset bool) error {
	newDriver := cur.Driver != next.Driver
	if reset && !newDriver {
		return badRequest("The reset_interfaces parameter can only be used when changing the node's driver.")
	}
	for _, f := range ifaceFields {
		k := f.kind + "_interface"
		if a.nodeInterface(next, f.kind) != a.nodeInterface(cur, f.kind) && !slices.Contains(unchanged, k) &&
			!next.Maintenance && !contains(ifaceUpdateStates, next.ProvisionState) {
			return &Error{Status: http.StatusConflict, Message: fmt.Sprintf(
				"Node %s can not have %s updated unless it is in one of allowed (%s) states or in maintenance mode. Current state is '%s'.",
				cur.UUID, k, strings.Join(ifaceUpdateStates, ", "), next.ProvisionState)}
		}
	}
	for _, k := range unchanged {
		val, ok := cur.Interfaces[k].(string)
		if reset || !ok || val == "" {
			continue
		}
		kind := strings.TrimSuffix(k, "_interface")
		if newDriver && !slices.Contains(a.ifaceTable(next.Driver)[kind].enabled, val) {
			return a.ifaceError(next.Driver, kind, val)
		}
		if next.Interfaces == nil {
			next.Interfaces = store.JSON{}
		}
		next.Interfaces[k] = val
	}
	a.fillInterfaces(next)
	return nil
}

// fillInterfaces records the driver's default for every interface the node
// has none for, as Ironic stores the computed defaults on the node
// (driver_factory.check_and_update_node_interfaces): a later change of
// driver then keeps them, and must be told to reset them.
func (a *API) fillInterfaces(n *store.Node) {
	t := a.ifaceTable(n.Driver)
	for _, f := range ifaceFields {
		k := f.kind + "_interface"
		if s, ok := n.Interfaces[k].(string); ok && s != "" {
			continue
		}
		if n.Interfaces == nil {
			n.Interfaces = store.JSON{}
		}
		n.Interfaces[k] = t[f.kind].def
	}
}

// ifaceUpdateStates are the provision states in which a node's interfaces
// may change without maintenance (update_node's allowed_update_states).
var ifaceUpdateStates = []string{"enroll", "inspecting", "inspect wait", "manageable", "available"}

// resetInterfaces reads PATCH's ?reset_interfaces (1.45; NotAcceptable
// before).
func resetInterfaces(r *http.Request) (bool, error) {
	q := r.URL.Query()
	if !q.Has("reset_interfaces") {
		return false, nil
	}
	if !versionOf(r).atLeast(vResetInterfaces) {
		return false, notAcceptable("The reset_interfaces parameter needs API version 1.%d or later", vResetInterfaces)
	}
	b, ok := parseBool(q.Get("reset_interfaces"))
	if !ok {
		return false, badRequest("Invalid value for reset_interfaces: %q is not a boolean", truncate(q.Get("reset_interfaces"), 32))
	}
	return b, nil
}

// vResetInterfaces is the version of PATCH's reset_interfaces (Ironic's
// MINOR_45_RESET_INTERFACES).
const vResetInterfaces = 45

// driverIfaceFields are the default_*_interface and enabled_*_interfaces
// members of a driver's detail (1.30), from the driver's table.
func (a *API) driverIfaceFields(name string) map[string]any {
	t := a.ifaceTable(name)
	out := make(map[string]any, 2*len(ifaceFields))
	for _, f := range ifaceFields {
		c := t[f.kind]
		var def any
		if c.def != "" {
			def = c.def
		}
		enabled := slices.Clone(c.enabled)
		if enabled == nil {
			enabled = []string{}
		}
		out["default_"+f.kind+"_interface"] = def
		out["enabled_"+f.kind+"_interfaces"] = enabled
	}
	return out
}
