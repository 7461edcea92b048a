package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"

	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// child describes a resource attached to a node (a port, a volume
// connector, a volume target): its JSON form, the fields a client sets, and
// the store's operations on it. One set of handlers serves all three.
type child[T any] struct {
	kind string // "port", for messages
	// collection is the JSON key and the URL path below /v1 ("ports",
	// "volume/connectors").
	collection, key string
	// detailSince is the version from which ?detail is accepted; 0 means
	// Ironic's general 1.43.
	detailSince int
	fields      []field[T]
	inputs      []input[T]
	internal    map[string]bool
	// filters are query parameters besides paging and node/node_uuid.
	filters map[string]int
	uuid    func(*T) string
	node    func(*T) *string
	// reset clears the fields a patch at version v may change, so that a
	// member the patch removes returns to its unset value (fields newer
	// than v keep theirs).
	reset func(x *T, v Version)
	// check validates a new or patched resource.
	check func(*T) error
	// changeAllowed, if set, refuses an update the node's state forbids
	// (Ironic's per-state rules); it runs under the node's lock.
	changeAllowed func(n *store.Node, cur, next *T) error
	// defaults fills what a creation request left out.
	defaults func(*T)

	get    func(ctx context.Context, id string) (*T, error)
	list   func(ctx context.Context, f store.ChildFilter) ([]*T, error)
	create func(ctx context.Context, x *T) error
	update func(ctx context.Context, x *T) error
	del    func(ctx context.Context, id string) error
	// byFilter answers a listing by a filter the store cannot page (a
	// port's address); nil when it has none.
	byFilter func(ctx context.Context, filters map[string]string) ([]*T, bool, error)
}

// list serves the collection, all of it or one node's (node set in the
// path), brief or detailed.
func (c *child[T]) listHandler(a *API, detail, perNode bool) handler {
	filters := c.filters
	if !perNode {
		filters = make(map[string]int, len(c.filters)+2)
		for k, v := range c.filters {
			filters[k] = v
		}
		filters["node"], filters["node_uuid"] = 1, 1
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		l, err := parseListing(r, a.cfg.MaxLimit, listOptions[T]{fields: c.fields, filters: filters, detail: detail, detailSince: c.detailSince})
		if err != nil {
			return err
		}
		f := store.ChildFilter{Page: l.page}
		ident := r.PathValue("node")
		if !perNode {
			ident = l.filters["node"]
			if id := l.filters["node_uuid"]; id != "" {
				if ident != "" {
					return badRequest("Only one of node and node_uuid may be given")
				}
				ident = id
			}
		}
		if ident != "" {
			n, err := a.db.Node(r.Context(), ident)
			if err != nil {
				return err
			}
			f.NodeUUID = n.UUID
		}
		var items []*T
		handled := false
		if c.byFilter != nil {
			if items, handled, err = c.byFilter(r.Context(), l.filters); err != nil {
				return err
			}
			if handled && f.NodeUUID != "" {
				kept := items[:0]
				for _, x := range items {
					if *c.node(x) == f.NodeUUID {
						kept = append(kept, x)
					}
				}
				items = kept
			}
		}
		if !handled {
			if items, err = c.list(r.Context(), f); err != nil {
				return err
			}
		}
		return writeJSON(w, http.StatusOK, collection(r, a.view(r), c.key, items, c.uuid, l, c.fields))
	}
}

func (c *child[T]) show(a *API, w http.ResponseWriter, r *http.Request, status int, x *T) error {
	return show(w, r, a.view(r), status, x, c.fields)
}

func (c *child[T]) getHandler(a *API) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := onlyQuery(r, "fields"); err != nil {
			return err
		}
		x, err := c.get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return c.show(a, w, r, http.StatusOK, x)
	}
}

// underNodeLock runs fn holding the exclusive lock of the node a resource
// is attached to, as Ironic changes ports under the node's lock: no change
// lands while an operation holds the node.
func (c *child[T]) underNodeLock(a *API, ctx context.Context, node, purpose string, fn func(ctx context.Context) error) error {
	if node == "" {
		return badRequest("The field \"node_uuid\" of a %s is mandatory", c.kind)
	}
	return a.tm.Do(ctx, node, lockOnly(purpose), func(ctx context.Context, _ *taskmanager.Task) error {
		return fn(ctx)
	})
}

func (c *child[T]) createHandler(a *API) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		o, err := readObject(r)
		if err != nil {
			return err
		}
		x := new(T)
		if c.defaults != nil {
			c.defaults(x)
		}
		if err := applyInputs(x, o, c.inputs, c.internal, c.kind, versionOf(r)); err != nil {
			return err
		}
		if err := c.check(x); err != nil {
			return err
		}
		if err := a.resolveNode(r.Context(), c.node(x)); err != nil {
			return err
		}
		err = c.underNodeLock(a, r.Context(), *c.node(x), c.kind+" create", func(ctx context.Context) error {
			return c.create(ctx, x)
		})
		if isNotFound(err) {
			// A node that does not exist is the request's mistake: 400, as
			// Ironic answers (port.py post: NodeNotFound with
			// code=BAD_REQUEST; volume_connector.py post: InvalidInput).
			return &Error{Status: http.StatusBadRequest, Message: sentence(err.Error()), Err: err}
		}
		if err != nil {
			return err
		}
		w.Header().Set("Location", a.baseURL(r)+"/v1/"+c.collection+"/"+c.uuid(x))
		return c.show(a, w, r, http.StatusCreated, x)
	}
}

func (c *child[T]) patchHandler(a *API) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		v := versionOf(r)
		if err := onlyQuery(r); err != nil {
			return err
		}
		body, err := readBody(r)
		if err != nil {
			return err
		}
		ops, err := parsePatch(body, rulesFor(c.kind, v, c.inputs, c.internal))
		if err != nil {
			return err
		}
		cur, err := c.get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		var next T
		err = c.underNodeLock(a, r.Context(), *c.node(cur), c.kind+" update", func(ctx context.Context) error {
			// Read again under the lock: the resource may have changed.
			cur, err := c.get(ctx, c.uuid(cur))
			if err != nil {
				return err
			}
			vw := &view{v: v, api: a}
			doc := map[string]any{}
			for _, in := range c.inputs {
				if f, ok := findField(c.fields, in.name); ok && v.atLeast(in.since) {
					doc[in.name] = f.get(cur, vw)
				}
			}
			patched, err := applyPatch(doc, ops)
			if err != nil {
				return err
			}
			next = *cur
			c.reset(&next, v)
			if err := applyInputs(&next, patched, c.inputs, c.internal, c.kind, v); err != nil {
				return err
			}
			if err := c.check(&next); err != nil {
				return err
			}
			if c.changeAllowed != nil {
				n, err := a.db.Node(ctx, *c.node(cur))
				if err != nil {
					return err
				}
				if err := c.changeAllowed(n, cur, &next); err != nil {
					return err
				}
			}
			if *c.node(&next) != *c.node(cur) {
				// Moving to another node: it must exist (the lock of the
				// node it leaves is held).
				n, err := a.db.Node(ctx, *c.node(&next))
				if err != nil {
					return badRequest("Cannot move the %s: %v", c.kind, err)
				}
				*c.node(&next) = n.UUID
			}
			return c.update(ctx, &next)
		})
		if err != nil {
			return err
		}
		return c.show(a, w, r, http.StatusOK, &next)
	}
}

func (c *child[T]) deleteHandler(a *API) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		x, err := c.get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		err = c.underNodeLock(a, r.Context(), *c.node(x), c.kind+" delete", func(ctx context.Context) error {
			return c.del(ctx, c.uuid(x))
		})
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// Inputs shared by the three kinds.

func uuidInput[T any](get func(*T) *string) input[T] {
	return input[T]{"uuid", 1, func(x *T, raw json.RawMessage) error {
		s, err := decodeString(raw, "uuid")
		if err != nil {
			return err
		}
		if s != "" && !store.IsUUID(s) {
			return badRequest("Invalid UUID %q for the field \"uuid\"", truncate(s, 64))
		}
		*get(x) = strings.ToLower(s)
		return nil
	}}
}

// resolveNode turns a node name given for node_uuid into the node's UUID:
// Ironic looks a port's node up by UUID or name (port.py post uses
// api_utils.get_rpc_node), and the baremetal CLI sends the name it was
// given (`baremetal port create --node NAME`). A node that does not exist
// is a 400 (NodeNotFound with code=BAD_REQUEST).
func (a *API) resolveNode(ctx context.Context, ident *string) error {
	if *ident == "" || store.IsUUID(*ident) {
		return nil
	}
	n, err := a.db.Node(ctx, *ident)
	if isNotFound(err) {
		return &Error{Status: http.StatusBadRequest, Message: sentence(err.Error()), Err: err}
	}
	if err != nil {
		return err
	}
	*ident = n.UUID
	return nil
}

// nodeUUIDInput is a child's node_uuid: a node's UUID; with byName (a
// port's) also a node's name, which resolveNode turns into its UUID, as
// Ironic's port creation accepts (api_utils.get_rpc_node). Volume
// connectors and targets take a UUID only (replace_node_uuid_with_id).
func nodeUUIDInput[T any](get func(*T) *string, byName bool) input[T] {
	return input[T]{"node_uuid", 1, func(x *T, raw json.RawMessage) error {
		s, err := decodeString(raw, "node_uuid")
		if err != nil {
			return err
		}
		switch {
		case s == "" || store.IsUUID(s):
			s = strings.ToLower(s)
		case byName && nameRE.MatchString(s):
		case byName:
			return badRequest("Invalid UUID or name %q for the field \"node_uuid\"", truncate(s, 64))
		default:
			return badRequest("Invalid UUID %q for the field \"node_uuid\"", truncate(s, 64))
		}
		*get(x) = s
		return nil
	}}
}

func mapInput[T any](name string, since int, get func(*T) *map[string]any) input[T] {
	return input[T]{name, since, func(x *T, raw json.RawMessage) error {
		m, err := decodeMap(raw, name)
		if err == nil {
			*get(x) = m
		}
		return err
	}}
}

func stringInput[T any](name string, since, max int, get func(*T) *string) input[T] {
	return input[T]{name, since, func(x *T, raw json.RawMessage) error {
		s, err := decodeString(raw, name)
		if err != nil {
			return err
		}
		if len(s) > max {
			return badRequest("The field %q is longer than %d characters", name, max)
		}
		*get(x) = s
		return nil
	}}
}

// ports is the port resource.
func (a *API) ports() *child[store.Port] {
	type P = store.Port
	return &child[P]{
		kind: "port", collection: "ports", key: "ports",
		fields: []field[P]{
			{"uuid", 1, true, func(p *P, _ *view) any { return p.UUID }},
			{"address", 1, true, func(p *P, _ *view) any { return p.Address }},
			{"links", 1, true, func(p *P, c *view) any { return selfLinks(c.base, "ports/"+p.UUID) }},
			{"node_uuid", 1, false, func(p *P, _ *view) any { return p.NodeUUID }},
			{"extra", 1, false, func(p *P, _ *view) any { return emptyIfNil(p.Extra) }},
			{"created_at", 1, false, func(p *P, _ *view) any { return jsonTime(p.CreatedAt) }},
			{"updated_at", 1, false, func(p *P, _ *view) any { return jsonTime(p.UpdatedAt) }},
			{"internal_info", vPortInternalInfo, false, func(*P, *view) any { return map[string]any{} }},
			{"local_link_connection", vPortAdvanced, false, func(p *P, _ *view) any { return emptyIfNil(p.LocalLinkConnection) }},
			{"pxe_enabled", vPortAdvanced, false, func(p *P, _ *view) any { return p.PXEEnabled }},
			{"portgroup_uuid", vPortgroupUUID, false, func(*P, *view) any { return nil }},
			{"physical_network", vPhysicalNetwork, false, func(p *P, _ *view) any { return nullable(p.PhysicalNetwork) }},
			{"is_smartnic", vSmartNIC, false, func(*P, *view) any { return false }},
			{"name", vPortName, false, func(*P, *view) any { return nil }},
		},
		inputs: []input[P]{
			uuidInput(func(p *P) *string { return &p.UUID }),
			nodeUUIDInput(func(p *P) *string { return &p.NodeUUID }, true),
			input[P]{"address", 1, func(p *P, raw json.RawMessage) error {
				s, err := decodeString(raw, "address")
				if err != nil {
					return err
				}
				if s != "" {
					hw, err := net.ParseMAC(s)
					if err != nil || len(hw) != 6 {
						return badRequest("Invalid MAC address %q for the field \"address\"", truncate(s, 64))
					}
					s = hw.String()
				}
				p.Address = s
				return nil
			}},
			mapInput("extra", 1, func(p *P) *map[string]any { return &p.Extra }),
			mapInput("local_link_connection", vPortAdvanced, func(p *P) *map[string]any { return &p.LocalLinkConnection }),
			input[P]{"pxe_enabled", vPortAdvanced, func(p *P, raw json.RawMessage) (err error) {
				if isNull(raw) {
					p.PXEEnabled = true
					return nil
				}
				p.PXEEnabled, err = decodeBool(raw, "pxe_enabled")
				return err
			}},
			stringInput("physical_network", vPhysicalNetwork, 64, func(p *P) *string { return &p.PhysicalNetwork }),
			unsupported[P]("portgroup_uuid", vPortgroupUUID, nil),
			unsupported[P]("is_smartnic", vSmartNIC, false),
			unsupported[P]("name", vPortName, nil),
		},
		internal: map[string]bool{"created_at": true, "updated_at": true, "links": true, "internal_info": true},
		filters:  map[string]int{"address": 1, "portgroup": vPortgroupUUID},
		uuid:     func(p *P) string { return p.UUID },
		node:     func(p *P) *string { return &p.NodeUUID },
		reset: func(p *P, v Version) {
			p.NodeUUID, p.Address, p.Extra = "", "", nil
			if v.atLeast(vPortAdvanced) {
				p.LocalLinkConnection, p.PXEEnabled = nil, true
			}
			if v.atLeast(vPhysicalNetwork) {
				p.PhysicalNetwork = ""
			}
		},
		defaults:      func(p *P) { p.PXEEnabled = true },
		changeAllowed: portChangeAllowed,
		check: func(p *P) error {
			switch {
			case p.NodeUUID == "":
				return badRequest("The field \"node_uuid\" of a port is mandatory")
			case p.Address == "":
				return badRequest("The field \"address\" of a port is mandatory")
			}
			return nil
		},
		get:    a.db.Port,
		list:   a.db.Ports,
		create: a.db.CreatePort,
		update: a.db.UpdatePort,
		del:    a.db.DeletePort,
		byFilter: func(ctx context.Context, f map[string]string) ([]*P, bool, error) {
			if _, ok := f["portgroup"]; ok {
				return nil, true, badRequest("Filtering ports by portgroup is not supported by bmc-agent: it has no portgroups")
			}
			addr, ok := f["address"]
			if !ok {
				return nil, false, nil
			}
			hw, err := net.ParseMAC(addr)
			if err != nil {
				return nil, true, badRequest("Invalid MAC address %q for the address filter", truncate(addr, 64))
			}
			p, err := a.db.Port(ctx, hw.String())
			if err != nil {
				if isNotFound(err) {
					return []*P{}, true, nil
				}
				return nil, true, err
			}
			return []*P{p}, true, nil
		},
	}
}

// volumeConnectors is the volume connector resource.
func (a *API) volumeConnectors() *child[store.VolumeConnector] {
	type C = store.VolumeConnector
	types := []string{"iqn", "ip", "mac", "wwnn", "wwpn", "port", "portgroup"}
	return &child[C]{
		kind: "volume connector", collection: "volume/connectors", key: "connectors", detailSince: vVolume,
		fields: []field[C]{
			{"uuid", 1, true, func(c *C, _ *view) any { return c.UUID }},
			{"type", 1, true, func(c *C, _ *view) any { return c.Type }},
			{"connector_id", 1, true, func(c *C, _ *view) any { return c.ConnectorID }},
			{"node_uuid", 1, true, func(c *C, _ *view) any { return c.NodeUUID }},
			{"links", 1, true, func(c *C, v *view) any { return selfLinks(v.base, "volume/connectors/"+c.UUID) }},
			{"extra", 1, false, func(c *C, _ *view) any { return emptyIfNil(c.Extra) }},
			{"created_at", 1, false, func(c *C, _ *view) any { return jsonTime(c.CreatedAt) }},
			{"updated_at", 1, false, func(c *C, _ *view) any { return jsonTime(c.UpdatedAt) }},
		},
		inputs: []input[C]{
			uuidInput(func(c *C) *string { return &c.UUID }),
			nodeUUIDInput(func(c *C) *string { return &c.NodeUUID }, false),
			stringInput("type", 1, 32, func(c *C) *string { return &c.Type }),
			stringInput("connector_id", 1, 255, func(c *C) *string { return &c.ConnectorID }),
			mapInput("extra", 1, func(c *C) *map[string]any { return &c.Extra }),
		},
		internal: map[string]bool{"created_at": true, "updated_at": true, "links": true},
		filters:  map[string]int{},
		uuid:     func(c *C) string { return c.UUID },
		node:     func(c *C) *string { return &c.NodeUUID },
		reset:    func(c *C, _ Version) { c.NodeUUID, c.Type, c.ConnectorID, c.Extra = "", "", "", nil },
		check: func(c *C) error {
			switch {
			case c.NodeUUID == "":
				return badRequest("The field \"node_uuid\" of a volume connector is mandatory")
			case !contains(types, c.Type):
				return badRequest("Invalid volume connector type %q: expected one of %s", truncate(c.Type, 32), strings.Join(types, ", "))
			case c.ConnectorID == "":
				return badRequest("The field \"connector_id\" of a volume connector is mandatory")
			}
			return nil
		},
		get:    a.db.VolumeConnector,
		list:   a.db.VolumeConnectors,
		create: a.db.CreateVolumeConnector,
		update: a.db.UpdateVolumeConnector,
		del:    a.db.DeleteVolumeConnector,
	}
}

// volumeTargets is the volume target resource.
func (a *API) volumeTargets() *child[store.VolumeTarget] {
	type V = store.VolumeTarget
	return &child[V]{
		kind: "volume target", collection: "volume/targets", key: "targets", detailSince: vVolume,
		fields: []field[V]{
			{"uuid", 1, true, func(t *V, _ *view) any { return t.UUID }},
			{"volume_type", 1, true, func(t *V, _ *view) any { return t.VolumeType }},
			{"boot_index", 1, true, func(t *V, _ *view) any { return t.BootIndex }},
			{"volume_id", 1, true, func(t *V, _ *view) any { return t.VolumeID }},
			{"node_uuid", 1, true, func(t *V, _ *view) any { return t.NodeUUID }},
			{"links", 1, true, func(t *V, v *view) any { return selfLinks(v.base, "volume/targets/"+t.UUID) }},
			{"properties", 1, false, func(t *V, _ *view) any { return emptyIfNil(t.Properties) }},
			{"extra", 1, false, func(t *V, _ *view) any { return emptyIfNil(t.Extra) }},
			{"created_at", 1, false, func(t *V, _ *view) any { return jsonTime(t.CreatedAt) }},
			{"updated_at", 1, false, func(t *V, _ *view) any { return jsonTime(t.UpdatedAt) }},
		},
		inputs: []input[V]{
			uuidInput(func(t *V) *string { return &t.UUID }),
			nodeUUIDInput(func(t *V) *string { return &t.NodeUUID }, false),
			stringInput("volume_type", 1, 64, func(t *V) *string { return &t.VolumeType }),
			stringInput("volume_id", 1, 255, func(t *V) *string { return &t.VolumeID }),
			input[V]{"boot_index", 1, func(t *V, raw json.RawMessage) (err error) {
				t.BootIndex, err = decodeInt(raw, "boot_index")
				if err == nil && t.BootIndex < 0 {
					err = badRequest("The field \"boot_index\" cannot be negative")
				}
				return err
			}},
			mapInput("properties", 1, func(t *V) *map[string]any { return &t.Properties }),
			mapInput("extra", 1, func(t *V) *map[string]any { return &t.Extra }),
		},
		internal: map[string]bool{"created_at": true, "updated_at": true, "links": true},
		filters:  map[string]int{},
		uuid:     func(t *V) string { return t.UUID },
		node:     func(t *V) *string { return &t.NodeUUID },
		reset: func(t *V, _ Version) {
			t.NodeUUID, t.VolumeType, t.VolumeID, t.BootIndex, t.Properties, t.Extra = "", "", "", 0, nil, nil
		},
		check: func(t *V) error {
			switch {
			case t.NodeUUID == "":
				return badRequest("The field \"node_uuid\" of a volume target is mandatory")
			case t.VolumeType == "":
				return badRequest("The field \"volume_type\" of a volume target is mandatory")
			case t.VolumeID == "":
				return badRequest("The field \"volume_id\" of a volume target is mandatory")
			}
			return nil
		},
		get:    a.db.VolumeTarget,
		list:   a.db.VolumeTargets,
		create: a.db.CreateVolumeTarget,
		update: a.db.UpdateVolumeTarget,
		del:    a.db.DeleteVolumeTarget,
	}
}
