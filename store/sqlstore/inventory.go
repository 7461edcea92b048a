package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
)

// SaveInventory implements store.InventoryStore: one upsert, so a reader
// sees the old inventory or the new one, never a mix.
func (db *DB) SaveInventory(ctx context.Context, inv *store.NodeInventory) error {
	return db.saveInventory(ctx, inv, nil)
}

// SaveInventoryHeld implements store.InventoryStore: the same upsert,
// conditional on the lease in its own WHERE clause.
func (db *DB) SaveInventoryHeld(ctx context.Context, inv *store.NodeInventory, lease lock.Lease) error {
	return db.saveInventory(ctx, inv, &lease)
}

func (db *DB) saveInventory(ctx context.Context, inv *store.NodeInventory, lease *lock.Lease) error {
	where, args := "uuid = $1", []any{inv.NodeUUID, jsonArg(inv.Inventory), jsonArg(inv.PluginData)}
	if lease != nil {
		where += " AND reservation = $4 AND lock_token = $5"
		args = append(args, lease.Holder, int64(lease.Token))
	}
	var created int64
	err := db.w.queryRow(ctx, "INSERT INTO node_inventory (node_uuid, inventory, plugin_data, created_at) "+
		"SELECT uuid, $2, $3, "+db.d.now+" FROM nodes WHERE "+where+" "+
		"ON CONFLICT (node_uuid) DO UPDATE SET inventory = excluded.inventory, plugin_data = excluded.plugin_data, "+
		"created_at = excluded.created_at RETURNING created_at", args...).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		if lease != nil {
			if err := db.Verify(ctx, inv.NodeUUID, *lease); err != nil {
				return err
			}
		}
		return &store.NotFoundError{Kind: "node", ID: inv.NodeUUID}
	}
	if err != nil {
		return db.err(err, "save inventory")
	}
	inv.CreatedAt = time.UnixMicro(created).UTC()
	return nil
}

// NodeInventory implements store.InventoryStore.
func (db *DB) NodeInventory(ctx context.Context, nodeUUID string) (*store.NodeInventory, error) {
	inv := &store.NodeInventory{NodeUUID: nodeUUID}
	err := db.r.queryRow(ctx, "SELECT inventory, plugin_data, created_at FROM node_inventory WHERE node_uuid = $1", nodeUUID).
		Scan(object{&inv.Inventory}, object{&inv.PluginData}, micros{&inv.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &store.NotFoundError{Kind: "node inventory", ID: nodeUUID}
	}
	if err != nil {
		return nil, db.err(err, "read inventory")
	}
	return inv, nil
}

var _ store.InventoryStore = (*DB)(nil)

// microsArg is a nullable time as microseconds.
func microsArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}
