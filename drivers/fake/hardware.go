package fake

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// HardwareName is the name Ironic's fake hardware type has, and the one
// every Ironic client fixture and tutorial creates nodes with.
const HardwareName = "fake-hardware"

// Hardware is Ironic's fake-hardware: interfaces named "fake" that talk to
// nothing and keep no state of their own. Its power interface reports the
// power state the inventory records for the node, so a new node's power
// state stays unknown (null) after manage and provide, and a power change
// is simply recorded; its management interface knows one boot device, pxe,
// and always reports it, not persistent.
//
// Ironic's code: ironic/drivers/fake_hardware.py (the hardware type) and
// ironic/drivers/modules/fake.py, FakePower (get_power_state returns
// task.node.power_state, set_power_state accepts on, off, soft reboot and
// soft power off) and FakeManagement (get_supported_boot_devices is [pxe],
// get_boot_device is {pxe, persistent false}, set_boot_device refuses any
// other device with "Invalid boot device %s specified.").
//
// Hardware is stateless and safe for concurrent use; the zero value is ready.
type Hardware struct{}

// NewHardware returns Ironic's fake-hardware.
func NewHardware() *Hardware { return &Hardware{} }

// Name implements drivers.Driver.
func (*Hardware) Name() string { return HardwareName }

// Validate implements drivers.Driver: Ironic's fake interfaces validate
// nothing (FakePower.validate and FakeManagement.validate pass); the
// interfaces it does not have are unsupported.
func (*Hardware) Validate(iface drivers.Interface, _ drivers.Node) error {
	switch iface {
	case drivers.PowerInterface, drivers.ManagementInterface:
		return nil
	}
	return &drivers.UnsupportedError{Driver: HardwareName, Interface: iface, Method: "any method"}
}

// PowerState implements drivers.PowerGetter: the recorded power state
// (FakePower.get_power_state returns task.node.power_state).
func (*Hardware) PowerState(_ context.Context, n drivers.Node) (drivers.PowerState, error) {
	return n.PowerState, nil
}

// SupportedPowerActions implements drivers.PowerGetter: FakePower's
// get_supported_power_states, every action.
func (*Hardware) SupportedPowerActions(context.Context, drivers.Node) ([]drivers.PowerAction, error) {
	return slices.Clone(drivers.PowerActions), nil
}

// SetPowerState implements drivers.PowerSetter. Nothing is switched: the
// task records the action's target, as FakePower.set_power_state sets
// task.node.power_state. Idempotent.
func (*Hardware) SetPowerState(_ context.Context, _ drivers.Node, action drivers.PowerAction, _ time.Duration) error {
	if !action.Valid() {
		return fmt.Errorf("%w: set_power_state called with an invalid power state: %s", drivers.ErrInvalidArgument, action)
	}
	return nil
}

// BootDevice implements drivers.BootDeviceGetter: always pxe, not
// persistent (FakeManagement.get_boot_device).
func (*Hardware) BootDevice(context.Context, drivers.Node) (drivers.BootDeviceStatus, error) {
	persistent := false
	return drivers.BootDeviceStatus{Device: drivers.BootPXE, Persistent: &persistent}, nil
}

// SupportedBootDevices implements drivers.BootDeviceGetter: pxe only.
func (*Hardware) SupportedBootDevices(context.Context, drivers.Node) ([]drivers.BootDevice, error) {
	return []drivers.BootDevice{drivers.BootPXE}, nil
}

// SetBootDevice implements drivers.BootDeviceSetter: pxe is accepted and
// changes nothing; any other device is refused as FakeManagement refuses it.
func (*Hardware) SetBootDevice(_ context.Context, _ drivers.Node, dev drivers.BootDevice, _ drivers.BootOptions) error {
	if dev != drivers.BootPXE {
		return fmt.Errorf("%w: Invalid boot device %s specified", drivers.ErrInvalidArgument, dev)
	}
	return nil
}

// Interface guards.
var (
	_ drivers.Driver           = (*Hardware)(nil)
	_ drivers.PowerGetter      = (*Hardware)(nil)
	_ drivers.PowerSetter      = (*Hardware)(nil)
	_ drivers.BootDeviceGetter = (*Hardware)(nil)
	_ drivers.BootDeviceSetter = (*Hardware)(nil)
)
