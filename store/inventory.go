package store

import (
	"context"
	"time"

	"github.com/bmc-agent/bmc-agent/lock"
)

// NodeInventory is the result of a node's last inspection, in the form of
// Ironic's node inventory record: the inventory and the plugin data.
type NodeInventory struct {
	NodeUUID   string
	Inventory  JSON
	PluginData JSON
	CreatedAt  time.Time
}

// InventoryStore keeps the inspection result of each node. It is separate
// from Store so that a backend adds it without every Store growing it;
// sqlstore implements both.
type InventoryStore interface {
	// SaveInventory replaces the node's inventory (the node must exist,
	// else a *NotFoundError) and sets inv.CreatedAt.
	SaveInventory(ctx context.Context, inv *NodeInventory) error
	// SaveInventoryHeld replaces the node's inventory like SaveInventory,
	// on the condition, in the same statement, that the node's lock is
	// still held under lease: otherwise a *lock.FencedError, and nothing
	// is written (the inspection of a holder whose lock was swept).
	SaveInventoryHeld(ctx context.Context, inv *NodeInventory, lease lock.Lease) error
	// NodeInventory returns the node's inventory by node UUID: a
	// *NotFoundError of kind "node inventory" if it was never inspected.
	NodeInventory(ctx context.Context, nodeUUID string) (*NodeInventory, error)
}
