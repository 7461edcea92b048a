package fake

import (
	"context"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Inspect implements drivers.Inspector as Ironic's fake inspect interface
// does: it finds nothing. The inventory is empty (no CPU, memory, disk or
// NIC), so an inspection changes no property and creates no port. Faults
// apply as to every call.
func (d *Driver) Inspect(ctx context.Context, n drivers.Node) (*drivers.Inventory, error) {
	if _, err := d.enter(ctx, n, "inspect hardware"); err != nil {
		return nil, err
	}
	d.mu.Unlock()
	return &drivers.Inventory{Interfaces: []drivers.InventoryNIC{}}, nil
}

var _ drivers.Inspector = (*Driver)(nil)
