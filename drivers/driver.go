package drivers

import (
	"context"
	"time"
)

// Driver is the one interface every driver implements. Everything else is an
// optional capability, found by type assertion.
type Driver interface {
	// Name is the name the driver is registered under, e.g. "redfish".
	Name() string
	// Validate checks what iface needs of n's driver_info, without contacting
	// the BMC. It reports every problem at once as an *InvalidInfoError, and
	// an *UnsupportedError for an interface the driver does not implement.
	Validate(iface Interface, n Node) error
}

// Checker is implemented by drivers that can check that a BMC answers with the
// node's credentials. Read-only; safe to call on a shared task.
type Checker interface {
	Check(ctx context.Context, n Node) error
}

// Closer is implemented by drivers that hold resources across calls (clients,
// sessions, connections); Registry.Close calls it when the agent stops.
type Closer interface {
	Close(ctx context.Context) error
}

// PowerGetter reads a node's power state. Read-only.
type PowerGetter interface {
	// PowerState asks the BMC for the current power state.
	PowerState(ctx context.Context, n Node) (PowerState, error)
	// SupportedPowerActions lists the actions SetPowerState accepts for n.
	SupportedPowerActions(ctx context.Context, n Node) ([]PowerAction, error)
}

// PowerSetter changes a node's power state. Mutating.
type PowerSetter interface {
	// SetPowerState performs action (power on/off, soft power off, reboot,
	// soft reboot) and waits until the node reaches action.Target() or the
	// timeout passes (zero means the driver's default), returning a
	// *PowerTimeoutError naming the last state seen. Powering on a node that
	// is on (or off one that is off) succeeds without BMC action.
	SetPowerState(ctx context.Context, n Node, action PowerAction, timeout time.Duration) error
}

// BootDeviceGetter reads a node's boot device override. Read-only.
type BootDeviceGetter interface {
	BootDevice(ctx context.Context, n Node) (BootDeviceStatus, error)
	// SupportedBootDevices lists the devices SetBootDevice accepts for n.
	SupportedBootDevices(ctx context.Context, n Node) ([]BootDevice, error)
}

// BootDeviceSetter sets a node's boot device. Mutating; idempotent.
type BootDeviceSetter interface {
	SetBootDevice(ctx context.Context, n Node, dev BootDevice, opts BootOptions) error
}

// BootModeGetter reads a node's firmware boot mode. Read-only.
type BootModeGetter interface {
	BootMode(ctx context.Context, n Node) (BootMode, error)
}

// BootModeSetter sets a node's firmware boot mode. Mutating; idempotent.
type BootModeSetter interface {
	SetBootMode(ctx context.Context, n Node, mode BootMode) error
}

// NMIInjector sends a diagnostic interrupt. Mutating; not idempotent.
type NMIInjector interface {
	InjectNMI(ctx context.Context, n Node) error
}

// MediaGetter lists a node's virtual media devices. Read-only.
type MediaGetter interface {
	Media(ctx context.Context, n Node) ([]Media, error)
}

// MediaInserter inserts an image into a virtual media device. Mutating.
type MediaInserter interface {
	InsertMedia(ctx context.Context, n Node, req MediaRequest) error
}

// MediaEjecter ejects virtual media: every device of type t, or all devices
// for AnyMedia. Mutating; ejecting an empty device succeeds.
type MediaEjecter interface {
	EjectMedia(ctx context.Context, n Node, t MediaType) error
}
