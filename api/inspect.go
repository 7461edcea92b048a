package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// Out-of-band inspection, the work of the "inspecting" provision state: the
// driver reads the hardware (drivers.Inspector), then the agent stores the
// inventory, creates the ports and updates the node's properties as
// Ironic's redfish inspect does. Every BMC read comes first, so a BMC that
// fails half-way leaves the node in "inspect failed" with nothing written.

// vInventory is Ironic's GET /v1/nodes/{node}/inventory.
const vInventory = 81

// AddPorts says which inspected NICs become ports, as Ironic's
// [inspector]add_ports.
type AddPorts string

// The AddPorts values. Out of band the BMC tells no IP address and no PXE
// interface, so "active" means a NIC with link (LinkStatus LinkUp) and
// "pxe", where the inventory names no PXE interface, falls back to the
// active NICs as Ironic's validate-interfaces hook falls back to those
// with an IP address.
const (
	AddPortsAll      AddPorts = "all"
	AddPortsActive   AddPorts = "active"
	AddPortsPXE      AddPorts = "pxe"
	AddPortsDisabled AddPorts = "disabled"
)

// ParseAddPorts checks a serve setting.
func ParseAddPorts(s string) (AddPorts, error) {
	switch p := AddPorts(s); p {
	case AddPortsAll, AddPortsActive, AddPortsPXE, AddPortsDisabled:
		return p, nil
	case "":
		return AddPortsPXE, nil
	}
	return "", fmt.Errorf("add ports %q: want all, active, pxe or disabled", s)
}

// inspectedProps are the node properties inspection sets.
var inspectedProps = []string{"cpus", "cpu_arch", "memory_mb", "local_gb"}

// inspect is the step of "inspecting".
func (a *API) inspect(ctx context.Context, t *taskmanager.Task) (err error) {
	n := t.Node()
	defer func() {
		if err != nil {
			n.InspectionStartedAt = nil // Ironic clears it on inspect failed
		}
	}()
	invs, ok := a.db.(store.InventoryStore)
	if !ok {
		return fmt.Errorf("%w: this agent's database keeps no inventories", drivers.ErrUnsupported)
	}
	inv, err := t.Driver().Inspect(ctx)
	if err != nil {
		return err
	}
	doc, err := toJSON(inv)
	if err != nil {
		return err
	}
	var prev store.JSON
	if old, err := invs.NodeInventory(ctx, n.UUID); err == nil {
		prev = old.Inventory
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// The inventory and the ports are written beside the node, not by
	// the task's fenced Save: each write first checks that the task still
	// holds the node, so that a task whose lock was swept (or whose agent
	// lost its lease) while it read the BMC writes nothing. The inventory's
	// write is conditional on the lock in its own statement too.
	if err := t.Held(ctx); err != nil {
		return err
	}
	if err := invs.SaveInventoryHeld(ctx, &store.NodeInventory{NodeUUID: n.UUID, Inventory: doc, PluginData: store.JSON{}}, t.LockLease()); err != nil {
		return err
	}
	if err := a.addPorts(ctx, t, inv); err != nil {
		return err
	}
	n.Properties = a.inspectedProperties(n.Properties, inv, prev)
	now := time.Now().UTC()
	n.InspectionFinishedAt, n.InspectionStartedAt = &now, nil
	return nil
}

// toJSON turns a value into the store's JSON object.
func toJSON(v any) (store.JSON, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out store.JSON
	return out, json.Unmarshal(b, &out)
}

// propertiesOf derives the node properties from an inventory: cpus and
// cpu_arch, memory_mb, and local_gb as Ironic's redfish inspect computes it
// (the smallest disk of at least 4 GiB, in GiB, less one for partitioning).
// What the inventory does not know is left out.
func propertiesOf(inv *drivers.Inventory) map[string]any {
	p := map[string]any{}
	if inv.CPU.Count > 0 {
		p["cpus"] = inv.CPU.Count
	}
	if inv.CPU.Architecture != "" {
		p["cpu_arch"] = inv.CPU.Architecture
	}
	if inv.Memory != nil && inv.Memory.PhysicalMB > 0 {
		p["memory_mb"] = inv.Memory.PhysicalMB
	}
	const gib = 1 << 30
	var smallest int64
	for _, d := range inv.Disks {
		if d.Size >= 4*gib && (smallest == 0 || d.Size < smallest) {
			smallest = d.Size
		}
	}
	if len(inv.Disks) > 0 { // unknown (IPMI) is not diskless
		p["local_gb"] = max(0, int(smallest/gib)-1)
	}
	return p
}

// inspectedProperties returns the node's properties updated from inv. A
// property the operator set (present, and not what the previous inspection
// set) is kept unless the agent was told to overwrite; the boot_mode
// capability is added only where none is set, as Ironic does.
func (a *API) inspectedProperties(cur store.JSON, inv *drivers.Inventory, prev store.JSON) store.JSON {
	out := store.JSON{}
	for k, v := range cur {
		out[k] = v
	}
	var before map[string]any
	if prev != nil {
		var p drivers.Inventory
		if b, err := json.Marshal(prev); err == nil && json.Unmarshal(b, &p) == nil {
			before = propertiesOf(&p)
		}
	}
	for k, v := range propertiesOf(inv) {
		old, set := out[k]
		if set && !a.cfg.InspectOverwrite && !sameValue(old, before[k]) {
			continue // the operator's value
		}
		out[k] = v
	}
	if inv.Boot != nil && inv.Boot.CurrentBootMode != "" {
		caps, _ := out["capabilities"].(string)
		if !hasCapability(caps, "boot_mode") {
			if caps != "" {
				caps += ","
			}
			out["capabilities"] = caps + "boot_mode:" + inv.Boot.CurrentBootMode
		}
	}
	return out
}

// sameValue compares a stored property (decoded JSON) with a derived one.
func sameValue(stored, derived any) bool {
	if derived == nil {
		return false
	}
	a, err1 := json.Marshal(stored)
	b, err2 := json.Marshal(derived)
	return err1 == nil && err2 == nil && string(a) == string(b)
}

// hasCapability reports whether a capabilities string ("k:v,k:v") sets key.
func hasCapability(caps, key string) bool {
	for part := range strings.SplitSeq(caps, ",") {
		if k, _, _ := strings.Cut(strings.TrimSpace(part), ":"); k == key {
			return true
		}
	}
	return false
}

// addPorts creates a port for each inspected NIC the AddPorts setting
// picks whose MAC has no port yet (on this node or another: never a
// duplicate); existing ports are left alone.
func (a *API) addPorts(ctx context.Context, t *taskmanager.Task, inv *drivers.Inventory) error {
	mode := a.cfg.InspectAddPorts
	if mode == "" {
		mode = AddPortsPXE
	}
	if mode == AddPortsDisabled {
		return nil
	}
	pxe := ""
	if inv.Boot != nil {
		pxe = inv.Boot.PXEInterface
	}
	for _, nic := range inv.Interfaces {
		switch {
		case mode == AddPortsPXE && pxe != "":
			if nic.MACAddress != pxe {
				continue
			}
		case mode != AddPortsAll && !nic.HasCarrier:
			continue
		}
		if _, err := a.db.Port(ctx, nic.MACAddress); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := t.Held(ctx); err != nil {
			return err
		}
		p := &store.Port{NodeUUID: t.Node().UUID, Address: nic.MACAddress, PXEEnabled: true, Extra: store.JSON{}, LocalLinkConnection: store.JSON{}}
		if err := a.db.CreatePort(ctx, p); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}

// getInventory is GET /v1/nodes/{node}/inventory: the inventory and plugin
// data of the node's last inspection, 404 with Ironic's message before any.
func (a *API) getInventory(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r); err != nil {
		return err
	}
	n, err := a.db.Node(r.Context(), r.PathValue("node"))
	if err != nil {
		return err
	}
	missing := &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("Node inventory record for node %s could not be found.", n.UUID)}
	invs, ok := a.db.(store.InventoryStore)
	if !ok {
		return missing
	}
	inv, err := invs.NodeInventory(r.Context(), n.UUID)
	if errors.Is(err, store.ErrNotFound) {
		return missing
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"inventory": emptyIfNil(inv.Inventory), "plugin_data": emptyIfNil(inv.PluginData)})
}
