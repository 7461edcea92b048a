package ipmi

import (
	"bufio"
	"context"
	"net"
	"strings"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Inspect implements drivers.Inspector with what IPMI can tell, and no
// more: the FRU's product area (manufacturer, product name, serial number)
// and the BMC's own MAC address from its LAN configuration. CPUs, memory,
// disks and the host's NICs are not in IPMI's standard commands, so the
// inventory leaves them empty rather than inventing them (docs/inspection.md).
// Read-only: two ipmitool commands, fru print 0 and lan print.
func (d *Driver) Inspect(ctx context.Context, n drivers.Node) (*drivers.Inventory, error) {
	b, err := d.bmcOf(n, drivers.PowerInterface)
	if err != nil {
		return nil, err
	}
	fru, err := d.raw(ctx, b, "inspect hardware (FRU)", "fru", "print", "0")
	if err != nil {
		return nil, err
	}
	inv := &drivers.Inventory{Interfaces: []drivers.InventoryNIC{}}
	f := fields(fru)
	v := &drivers.SystemVendor{Manufacturer: f["Product Manufacturer"], ProductName: f["Product Name"], SerialNumber: f["Product Serial"]}
	if *v != (drivers.SystemVendor{}) {
		inv.SystemVendor = v
	}
	lan, err := d.raw(ctx, b, "inspect hardware (LAN)", "lan", "print", "1")
	if err != nil {
		return nil, err
	}
	if mac, err := net.ParseMAC(fields(lan)["MAC Address"]); err == nil {
		inv.BMCMAC = mac.String()
	}
	return inv, nil
}

// fields reads ipmitool's "Name : value" lines; the first of a name wins.
func fields(out string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, seen := m[k]; !seen {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

var _ drivers.Inspector = (*Driver)(nil)
