package drivers

import "context"

// InspectInterface is the interface of hardware inspection, Ironic's
// inspect_interface.
const InspectInterface Interface = "inspect"

// Inspector reads what hardware a node is from its BMC (out-of-band
// inspection). Read-only: it changes nothing on the node or the BMC, and
// may be repeated. A driver reports what its protocol can tell and leaves
// the rest of the Inventory empty rather than inventing it.
type Inspector interface {
	Inspect(ctx context.Context, n Node) (*Inventory, error)
}

// MethodInspect is Inspector.Inspect in the method table.
var MethodInspect = Method{InspectInterface, "Inspect", false, has[Inspector]}

// Inspect reads the node's hardware inventory (Inspector).
func (h *Handle) Inspect(ctx context.Context) (inv *Inventory, err error) {
	err = h.invoke(ctx, MethodInspect, 0, func(ctx context.Context, n Node) (err error) {
		inv, err = h.d.(Inspector).Inspect(ctx, n)
		return err
	})
	return inv, err
}

// Inventory is a node's hardware in the format of Ironic's inventory, the
// one ironic-python-agent reports and Ironic's redfish inspect builds
// (ironic/drivers/modules/redfish/inspect.py), so that tools reading
// Ironic's GET /v1/nodes/{node}/inventory read it unchanged. Fields a
// driver cannot know are left out.
type Inventory struct {
	CPU          InventoryCPU     `json:"cpu"`
	Memory       *InventoryMemory `json:"memory,omitempty"`
	Disks        []InventoryDisk  `json:"disks,omitempty"`
	Interfaces   []InventoryNIC   `json:"interfaces"`
	SystemVendor *SystemVendor    `json:"system_vendor,omitempty"`
	Boot         *InventoryBoot   `json:"boot,omitempty"`
	PCIDevices   []PCIDevice      `json:"pci_devices,omitempty"`
	// BMCMAC is the BMC's own MAC address (IPMI's LAN configuration).
	BMCMAC string `json:"bmc_mac,omitempty"`
}

// InventoryCPU is the processors: their count and the first one's model.
type InventoryCPU struct {
	Count        int    `json:"count"`
	Architecture string `json:"architecture"` // x86_64, aarch64, ...; "" unknown
	ModelName    string `json:"model_name,omitempty"`
	Frequency    int    `json:"frequency,omitempty"` // maximum speed in MHz
}

// InventoryMemory is the installed memory.
type InventoryMemory struct {
	PhysicalMB int `json:"physical_mb"`
}

// InventoryDisk is one drive.
type InventoryDisk struct {
	Name       string `json:"name"`
	Size       int64  `json:"size"` // bytes
	Model      string `json:"model,omitempty"`
	Vendor     string `json:"vendor,omitempty"`
	Serial     string `json:"serial,omitempty"`
	Rotational bool   `json:"rotational"`
}

// InventoryNIC is one network interface with a valid MAC address.
type InventoryNIC struct {
	Name       string `json:"name"`
	MACAddress string `json:"mac_address"` // lower case, colon-separated
	SpeedMbps  int    `json:"speed_mbps,omitempty"`
	HasCarrier bool   `json:"has_carrier"`
	Vendor     string `json:"vendor,omitempty"`
	Product    string `json:"product,omitempty"`
}

// SystemVendor is who made the machine.
type SystemVendor struct {
	Manufacturer string          `json:"manufacturer,omitempty"`
	ProductName  string          `json:"product_name,omitempty"`
	SerialNumber string          `json:"serial_number,omitempty"`
	Firmware     *SystemFirmware `json:"firmware,omitempty"`
}

// SystemFirmware is the system firmware (BIOS/UEFI).
type SystemFirmware struct {
	Version string `json:"version,omitempty"`
}

// InventoryBoot is how the machine boots.
type InventoryBoot struct {
	CurrentBootMode string `json:"current_boot_mode"` // "uefi" or "bios"
	// PXEInterface is the MAC of the NIC the machine PXE boots from, where
	// known (never out of band).
	PXEInterface string `json:"pxe_interface,omitempty"`
}

// PCIDevice is one PCIe function.
type PCIDevice struct {
	Class             string `json:"class,omitempty"`
	VendorID          string `json:"vendor_id,omitempty"`
	ProductID         string `json:"product_id,omitempty"`
	SubsystemVendorID string `json:"subsystem_vendor_id,omitempty"`
	SubsystemID       string `json:"subsystem_id,omitempty"`
	Revision          string `json:"revision,omitempty"`
}
