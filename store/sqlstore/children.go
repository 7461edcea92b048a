package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/bmc-agent/bmc-agent/store"
)

var childSortKeys = map[string]string{"id": "id", "uuid": "uuid", "created_at": "created_at", "updated_at": "updated_at"}

var portEntity = &entity[store.Port]{
	kind:    "port",
	table:   "ports",
	cols:    []string{"node_uuid", "address", "pxe_enabled", "local_link_connection", "physical_network", "extra"},
	mutable: []string{"node_uuid", "address", "pxe_enabled", "local_link_connection", "physical_network", "extra"},
	uuid:    func(p *store.Port) *string { return &p.UUID },
	vals: func(p *store.Port) []any {
		return []any{p.NodeUUID, strings.ToLower(p.Address), p.PXEEnabled, jsonArg(p.LocalLinkConnection), p.PhysicalNetwork, jsonArg(p.Extra)}
	},
	ptrs: func(p *store.Port) []any {
		return []any{text{&p.UUID}, text{&p.NodeUUID}, text{&p.Address}, boolean{&p.PXEEnabled}, object{&p.LocalLinkConnection},
			text{&p.PhysicalNetwork}, object{&p.Extra}, micros{&p.CreatedAt}, micros{&p.UpdatedAt}}
	},
	sortKeys: merge(childSortKeys, map[string]string{"address": "address"}),
	unique: func(p *store.Port) string {
		return fmt.Sprintf("a port with MAC address %s or UUID %s already exists", p.Address, p.UUID)
	},
}

var connectorEntity = &entity[store.VolumeConnector]{
	kind:    "volume connector",
	table:   "volume_connectors",
	cols:    []string{"node_uuid", "type", "connector_id", "extra"},
	mutable: []string{"node_uuid", "type", "connector_id", "extra"},
	uuid:    func(c *store.VolumeConnector) *string { return &c.UUID },
	vals: func(c *store.VolumeConnector) []any {
		return []any{c.NodeUUID, c.Type, c.ConnectorID, jsonArg(c.Extra)}
	},
	ptrs: func(c *store.VolumeConnector) []any {
		return []any{text{&c.UUID}, text{&c.NodeUUID}, text{&c.Type}, text{&c.ConnectorID}, object{&c.Extra}, micros{&c.CreatedAt}, micros{&c.UpdatedAt}}
	},
	sortKeys: childSortKeys,
	unique: func(c *store.VolumeConnector) string {
		return fmt.Sprintf("a volume connector of type %s with connector id %s already exists", c.Type, c.ConnectorID)
	},
}

var targetEntity = &entity[store.VolumeTarget]{
	kind:    "volume target",
	table:   "volume_targets",
	cols:    []string{"node_uuid", "volume_type", "boot_index", "volume_id", "properties", "extra"},
	mutable: []string{"node_uuid", "volume_type", "boot_index", "volume_id", "properties", "extra"},
	uuid:    func(t *store.VolumeTarget) *string { return &t.UUID },
	vals: func(t *store.VolumeTarget) []any {
		return []any{t.NodeUUID, t.VolumeType, t.BootIndex, t.VolumeID, jsonArg(t.Properties), jsonArg(t.Extra)}
	},
	ptrs: func(t *store.VolumeTarget) []any {
		return []any{text{&t.UUID}, text{&t.NodeUUID}, text{&t.VolumeType}, intcol{&t.BootIndex}, text{&t.VolumeID},
			object{&t.Properties}, object{&t.Extra}, micros{&t.CreatedAt}, micros{&t.UpdatedAt}}
	},
	sortKeys: childSortKeys,
	unique: func(t *store.VolumeTarget) string {
		return fmt.Sprintf("node %s already has a volume target with boot index %d", t.NodeUUID, t.BootIndex)
	},
}

func merge(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// createChild inserts a row attached to a node, checking the node exists
// first so that a missing node is a NotFoundError rather than a foreign
// key violation.
func createChild[T any](ctx context.Context, db *DB, e *entity[T], nodeUUID string, x *T) error {
	if _, err := db.Node(ctx, nodeUUID); err != nil {
		return err
	}
	return insertRow(ctx, db, e, x)
}

func listChildren[T any](ctx context.Context, db *DB, e *entity[T], f store.ChildFilter) ([]*T, error) {
	if f.NodeUUID == "" {
		return listRows(ctx, db, e, nil, nil, f.Page)
	}
	return listRows(ctx, db, e, []string{"node_uuid = $1"}, []any{f.NodeUUID}, f.Page)
}

func updateChild[T any](ctx context.Context, db *DB, e *entity[T], x *T) error {
	ok, err := updateRow(ctx, db, e, x, nil, "")
	if err == nil && !ok {
		err = &store.NotFoundError{Kind: e.kind, ID: *e.uuid(x)}
	}
	return err
}

// CreatePort implements store.Store.
func (db *DB) CreatePort(ctx context.Context, p *store.Port) error {
	p.Address = strings.ToLower(p.Address)
	return createChild(ctx, db, portEntity, p.NodeUUID, p)
}

// Port implements store.Store: by UUID or by MAC address.
func (db *DB) Port(ctx context.Context, ident string) (*store.Port, error) {
	if store.IsUUID(ident) {
		return getRow(ctx, db, portEntity, "uuid", ident)
	}
	return getRow(ctx, db, portEntity, "address", strings.ToLower(ident))
}

// Ports implements store.Store.
func (db *DB) Ports(ctx context.Context, f store.ChildFilter) ([]*store.Port, error) {
	return listChildren(ctx, db, portEntity, f)
}

// UpdatePort implements store.Store.
func (db *DB) UpdatePort(ctx context.Context, p *store.Port) error {
	p.Address = strings.ToLower(p.Address)
	return updateChild(ctx, db, portEntity, p)
}

// DeletePort implements store.Store.
func (db *DB) DeletePort(ctx context.Context, id string) error {
	return deleteRow(ctx, db, portEntity, id)
}

// CreateVolumeConnector implements store.Store.
func (db *DB) CreateVolumeConnector(ctx context.Context, c *store.VolumeConnector) error {
	return createChild(ctx, db, connectorEntity, c.NodeUUID, c)
}

// VolumeConnector implements store.Store.
func (db *DB) VolumeConnector(ctx context.Context, id string) (*store.VolumeConnector, error) {
	return getRow(ctx, db, connectorEntity, "uuid", id)
}

// VolumeConnectors implements store.Store.
func (db *DB) VolumeConnectors(ctx context.Context, f store.ChildFilter) ([]*store.VolumeConnector, error) {
	return listChildren(ctx, db, connectorEntity, f)
}

// UpdateVolumeConnector implements store.Store.
func (db *DB) UpdateVolumeConnector(ctx context.Context, c *store.VolumeConnector) error {
	return updateChild(ctx, db, connectorEntity, c)
}

// DeleteVolumeConnector implements store.Store.
func (db *DB) DeleteVolumeConnector(ctx context.Context, id string) error {
	return deleteRow(ctx, db, connectorEntity, id)
}

// CreateVolumeTarget implements store.Store.
func (db *DB) CreateVolumeTarget(ctx context.Context, t *store.VolumeTarget) error {
	return createChild(ctx, db, targetEntity, t.NodeUUID, t)
}

// VolumeTarget implements store.Store.
func (db *DB) VolumeTarget(ctx context.Context, id string) (*store.VolumeTarget, error) {
	return getRow(ctx, db, targetEntity, "uuid", id)
}

// VolumeTargets implements store.Store.
func (db *DB) VolumeTargets(ctx context.Context, f store.ChildFilter) ([]*store.VolumeTarget, error) {
	return listChildren(ctx, db, targetEntity, f)
}

// UpdateVolumeTarget implements store.Store.
func (db *DB) UpdateVolumeTarget(ctx context.Context, t *store.VolumeTarget) error {
	return updateChild(ctx, db, targetEntity, t)
}

// DeleteVolumeTarget implements store.Store.
func (db *DB) DeleteVolumeTarget(ctx context.Context, id string) error {
	return deleteRow(ctx, db, targetEntity, id)
}
