package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/storetest"
)

// TestNodeInventory: absent before the first save, replaced by the next,
// written under a lease only while the lease holds the node's lock, gone
// with its node, refused for an unknown node.
func TestNodeInventory(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := open(t, b.dsn(t))
			n := storetest.NewNode("inv")
			if err := db.CreateNode(ctx, n); err != nil {
				t.Fatal(err)
			}
			if _, err := db.NodeInventory(ctx, n.UUID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("before any inspection: %v", err)
			}
			for _, cpus := range []float64{2, 4} {
				inv := &store.NodeInventory{NodeUUID: n.UUID, Inventory: store.JSON{"cpu": map[string]any{"count": cpus}}, PluginData: store.JSON{}}
				if err := db.SaveInventory(ctx, inv); err != nil || inv.CreatedAt.IsZero() {
					t.Fatalf("save: %v %v", err, inv.CreatedAt)
				}
				got, err := db.NodeInventory(ctx, n.UUID)
				if err != nil || got.Inventory["cpu"].(map[string]any)["count"] != cpus {
					t.Fatalf("read back %+v, %v", got, err)
				}
			}
			// A held save lands only while the lease holds the node's lock.
			tok, err := db.Reserve(ctx, n.UUID, lock.Reservation{Holder: "agent-a", Purpose: "inspect"})
			if err != nil {
				t.Fatal(err)
			}
			held := &store.NodeInventory{NodeUUID: n.UUID, Inventory: store.JSON{"cpu": map[string]any{"count": 8.0}}, PluginData: store.JSON{}}
			if err := db.SaveInventoryHeld(ctx, held, lock.Lease{Holder: "agent-a", Token: tok}); err != nil {
				t.Fatalf("held save: %v", err)
			}
			stale := &store.NodeInventory{NodeUUID: n.UUID, Inventory: store.JSON{"cpu": map[string]any{"count": 16.0}}, PluginData: store.JSON{}}
			for _, l := range []lock.Lease{{Holder: "agent-a", Token: tok - 1}, {Holder: "agent-b", Token: tok}} {
				var fenced *lock.FencedError
				if err := db.SaveInventoryHeld(ctx, stale, l); !errors.As(err, &fenced) || fenced.Now.Holder != "agent-a" {
					t.Fatalf("save under %+v, the lock being agent-a's: %v", l, err)
				}
			}
			if got, err := db.NodeInventory(ctx, n.UUID); err != nil || got.Inventory["cpu"].(map[string]any)["count"] != 8.0 {
				t.Fatalf("after the fenced saves: %+v, %v", got, err)
			}
			if err := db.Release(ctx, n.UUID, lock.Lease{Holder: "agent-a", Token: tok}); err != nil {
				t.Fatal(err)
			}
			if err := db.SaveInventory(ctx, &store.NodeInventory{NodeUUID: "no-such-node", Inventory: store.JSON{}}); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("unknown node: %v", err)
			}
			if err := db.DeleteNode(ctx, n.UUID); err != nil {
				t.Fatal(err)
			}
			if _, err := db.NodeInventory(ctx, n.UUID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("after delete: %v", err)
			}
		})
	}
}
