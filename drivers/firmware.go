package drivers

import (
	"context"
	"time"
)

// FirmwareGetter reads a node's firmware inventory: the versions its BMC
// reports for the system's BIOS and for the BMC itself (Ironic's firmware
// interface, GET /v1/nodes/{node}/firmware). Read-only; safe on a shared
// task.
type FirmwareGetter interface {
	Firmware(ctx context.Context, n Node) ([]FirmwareComponent, error)
}

// FirmwareComponent is one firmware component of a node.
type FirmwareComponent struct {
	// Component is Ironic's name of the component: FirmwareBIOS or
	// FirmwareBMC.
	Component string
	// Version is the version the BMC reports as running.
	Version string
	// ReleasedAt is when the running image was released, if the BMC says
	// (Redfish SoftwareInventory.ReleaseDate).
	ReleasedAt *time.Time
}

// Ironic's firmware component names (ironic/common/firmware_components.py
// lists bios and bmc as the components a firmware interface reports).
const (
	FirmwareBIOS = "bios"
	FirmwareBMC  = "bmc"
)

// Firmware reads the node's firmware inventory; read-only.
func (h *Handle) Firmware(ctx context.Context) (c []FirmwareComponent, err error) {
	err = h.invoke(ctx, MethodFirmware, 0, func(ctx context.Context, n Node) (err error) {
		c, err = h.d.(FirmwareGetter).Firmware(ctx, n)
		return err
	})
	return c, err
}
