package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/storetest"
)

// TestNodeInventory: absent before the first save, replaced by the next,
// gone with its node, refused for an unknown node.
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
