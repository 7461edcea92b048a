package sqlstore

import (
	"context"
	"fmt"

	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
)

var nodes = &entity[store.Node]{
	kind:  "node",
	table: "nodes",
	cols: []string{"name", "driver", "driver_info", "power_state", "target_power_state",
		"provision_state", "target_provision_state", "provision_updated_at", "boot_mode",
		"last_error", "maintenance", "maintenance_reason", "fault",
		"reservation", "reservation_purpose", "reserved_at", "lock_token",
		"instance_info", "properties", "extra", "agent_group", "resource_class", "description",
		"interfaces", "target_raid_config", "inspection_started_at", "inspection_finished_at", "version"},
	mutable: []string{"name", "driver", "driver_info", "power_state", "target_power_state",
		"provision_state", "target_provision_state", "provision_updated_at", "boot_mode",
		"last_error", "maintenance", "maintenance_reason", "fault",
		"instance_info", "properties", "extra", "agent_group", "resource_class", "description",
		"interfaces", "target_raid_config", "inspection_started_at", "inspection_finished_at"},
	uuid: func(n *store.Node) *string { return &n.UUID },
	vals: func(n *store.Node) []any {
		var provUpdated any
		if n.ProvisionUpdatedAt != nil {
			provUpdated = n.ProvisionUpdatedAt.UnixMicro()
		}
		return []any{nullable(n.Name), n.Driver, jsonArg(n.DriverInfo), n.PowerState, n.TargetPowerState,
			n.ProvisionState, n.TargetProvisionState, provUpdated, n.BootMode,
			n.LastError, n.Maintenance, n.MaintenanceReason, n.Fault,
			nil, nil, nil, int64(0), // a new node is never reserved
			jsonArg(n.InstanceInfo), jsonArg(n.Properties), jsonArg(n.Extra), n.AgentGroup, n.ResourceClass, n.Description,
			jsonArg(n.Interfaces), jsonArg(n.TargetRAIDConfig), microsArg(n.InspectionStartedAt), microsArg(n.InspectionFinishedAt), int64(1)}
	},
	// NOT NULL columns scan into plain pointers: pgx plans a scan into a
	// sql.Scanner anew for every row, which on the lock's hot path (a node
	// row per acquire) cost more than the column's decoding.
	ptrs: func(n *store.Node) []any {
		return []any{&n.UUID, text{&n.Name}, &n.Driver, object{&n.DriverInfo}, &n.PowerState, &n.TargetPowerState,
			&n.ProvisionState, &n.TargetProvisionState, nullMicros{&n.ProvisionUpdatedAt}, &n.BootMode,
			&n.LastError, &n.Maintenance, &n.MaintenanceReason, &n.Fault,
			text{&n.Reservation}, text{&n.ReservationPurpose}, nullMicros{&n.ReservedAt}, &n.LockToken,
			object{&n.InstanceInfo}, object{&n.Properties}, object{&n.Extra}, &n.AgentGroup, &n.ResourceClass, &n.Description,
			object{&n.Interfaces}, object{&n.TargetRAIDConfig}, nullMicros{&n.InspectionStartedAt}, nullMicros{&n.InspectionFinishedAt}, &n.Version,
			micros{&n.CreatedAt}, micros{&n.UpdatedAt}}
	},
	sortKeys: map[string]string{
		"id": "id", "uuid": "uuid", "name": "COALESCE(name, '')", "driver": "driver",
		"created_at": "created_at", "updated_at": "updated_at",
		"provision_state": "provision_state", "power_state": "power_state",
		"provision_updated_at": "COALESCE(provision_updated_at, 0)", "maintenance": "maintenance",
	},
	unique: func(n *store.Node) string {
		return fmt.Sprintf("a node with UUID %s or name %q already exists", n.UUID, n.Name)
	},
}

// identCol says which column an ident is looked up in.
func identCol(ident string) string {
	if store.IsUUID(ident) {
		return "uuid"
	}
	return "name"
}

// CreateNode implements store.Store. It assigns a UUID when n has none.
func (db *DB) CreateNode(ctx context.Context, n *store.Node) error {
	if n.Name != "" && store.IsUUID(n.Name) {
		return fmt.Errorf("create node: name %q has the form of a UUID", n.Name)
	}
	if err := insertRow(ctx, db, nodes, n); err != nil {
		return err
	}
	n.Version = 1
	return nil
}

// Node implements store.Store.
func (db *DB) Node(ctx context.Context, ident string) (*store.Node, error) {
	return getRow(ctx, db, nodes, identCol(ident), ident)
}

// Nodes implements store.Store.
func (db *DB) Nodes(ctx context.Context, f store.NodeFilter) ([]*store.Node, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Driver != "" {
		add("driver = $%d", f.Driver)
	}
	if f.ProvisionState != "" {
		add("provision_state = $%d", f.ProvisionState)
	}
	if f.Maintenance != nil {
		add("maintenance = $%d", *f.Maintenance)
	}
	if f.Reservation != "" {
		add("reservation = $%d", f.Reservation)
	}
	if f.Reserved != nil {
		where = append(where, map[bool]string{true: "reservation IS NOT NULL", false: "reservation IS NULL"}[*f.Reserved])
	}
	if f.AgentGroup != nil {
		add("agent_group = $%d", *f.AgentGroup)
	}
	if f.FaultSet != nil {
		where = append(where, map[bool]string{true: "fault <> ''", false: "fault = ''"}[*f.FaultSet])
	}
	return listRows(ctx, db, nodes, where, args, f.Page)
}

// UpdateNode implements store.Store.
func (db *DB) UpdateNode(ctx context.Context, n *store.Node) error {
	if n.Name != "" && store.IsUUID(n.Name) {
		return fmt.Errorf("update node: name %q has the form of a UUID", n.Name)
	}
	ok, err := updateRow(ctx, db, nodes, n, []string{"version = version + 1"}, fmt.Sprintf("version = $%d", len(nodes.mutable)+2), n.Version)
	if err != nil {
		return err
	}
	if !ok {
		if _, err := db.Node(ctx, n.UUID); err != nil {
			return err
		}
		return &store.ConflictError{Kind: "node", Detail: fmt.Sprintf("node %s was changed concurrently (version %d is stale)", n.UUID, n.Version)}
	}
	n.Version++
	return nil
}

// UpdateNodeHeld writes n like UpdateNode, on the condition that the node's
// lock is still held under lease, in the same statement: a holder whose
// lock changed hands gets a *lock.FencedError and writes nothing, so that
// it cannot overwrite the state its successor records.
func (db *DB) UpdateNodeHeld(ctx context.Context, n *store.Node, lease lock.Lease) error {
	if n.Name != "" && store.IsUUID(n.Name) {
		return fmt.Errorf("update node: name %q has the form of a UUID", n.Name)
	}
	k := len(nodes.mutable) + 2
	ok, err := updateRow(ctx, db, nodes, n, []string{"version = version + 1"},
		fmt.Sprintf("version = $%d AND reservation = $%d AND lock_token = $%d", k, k+1, k+2), n.Version, lease.Holder, int64(lease.Token))
	if err != nil {
		return err
	}
	if !ok {
		if err := db.Verify(ctx, n.UUID, lease); err != nil {
			return err
		}
		return &store.ConflictError{Kind: "node", Detail: fmt.Sprintf("node %s was changed concurrently (version %d is stale)", n.UUID, n.Version)}
	}
	n.Version++
	return nil
}

// DeleteNode implements store.Store.
func (db *DB) DeleteNode(ctx context.Context, id string) error {
	n, err := db.w.exec(ctx, "DELETE FROM nodes WHERE uuid = $1 AND reservation IS NULL", id)
	if err != nil {
		return db.err(err, "delete node")
	}
	if n == 1 {
		return nil
	}
	if _, err := db.Node(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("delete node %s: %w", id, store.ErrNodeReserved)
}

// queries are the statements on the hot path, built once per dialect.
type queries struct {
	reserveByUUID, reserveByName string
	reserveNode                  string
	reservation                  string
	release                      string
	verify                       string
}

func buildQueries(d dialect) queries {
	// The token is taken in the same statement as the lock: no round
	// trip of its own on the hot path.
	reserve := "UPDATE nodes SET reservation = $2, reservation_purpose = $3, reserved_at = " + d.now +
		", lock_token = lock_token + 1 WHERE %s = $1 AND reservation IS NULL"
	return queries{
		reserveByUUID: fmt.Sprintf(reserve, "uuid") + " RETURNING lock_token",
		reserveByName: fmt.Sprintf(reserve, "name") + " RETURNING lock_token",
		reserveNode:   fmt.Sprintf(reserve, "uuid") + " RETURNING " + nodes.selectCols(),
		reservation:   "SELECT reservation, reservation_purpose, reserved_at, lock_token FROM nodes WHERE %s = $1",
		release: "UPDATE nodes SET reservation = NULL, reservation_purpose = NULL, reserved_at = NULL" +
			" WHERE uuid = $1 AND reservation = $2 AND lock_token = $3",
		verify: "SELECT 1 FROM nodes WHERE uuid = $1 AND reservation = $2 AND lock_token = $3",
	}
}
