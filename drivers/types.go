package drivers

import (
	"fmt"
	"slices"
	"strconv"
)

// Node is what a driver gets to know of a node: its identity for messages and
// its driver_info, the BMC address and credentials.
type Node struct {
	UUID string
	Name string
	// Info is the node's driver_info. Drivers read it; they never change it.
	Info Info
	// PowerState is the power state the inventory records for the node
	// (Ironic's task.node.power_state). Drivers that talk to a BMC ignore
	// it; fake-hardware reports it, as Ironic's fake power interface does.
	PowerState PowerState
}

// Info is a node's driver_info: a JSON object of BMC address, credentials and
// driver options, as stored in the inventory.
type Info map[string]any

// String returns the value of key as a string. Numbers and booleans are
// formatted; a missing key or JSON null gives "" and false.
func (i Info) String(key string) (string, bool) {
	v, ok := i[key]
	if !ok || v == nil {
		return "", false
	}
	switch t := v.(type) {
	case string:
		return t, true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	default:
		return fmt.Sprint(t), true
	}
}

// Redacted returns a copy of the info with every secret masked (see Mask).
func (i Info) Redacted() Info {
	if i == nil {
		return nil
	}
	return Info(maskMap(i))
}

// Redacted is what a secret is shown as.
const Redacted = "******"

// PowerState is the power state of a node as last read from its BMC.
// The values are Ironic's.
type PowerState string

// Power states.
const (
	PowerOn  PowerState = "power on"
	PowerOff PowerState = "power off"
	// PowerError means the BMC answered, but not with a usable state.
	PowerError PowerState = "error"
	// NoPowerState means the state is not known (Ironic's None).
	NoPowerState PowerState = ""
)

// PowerAction is a requested power change: what the conductor PUTs to
// /states/power. The values are Ironic's targets.
type PowerAction string

// Power actions.
const (
	ActionPowerOn      PowerAction = "power on"
	ActionPowerOff     PowerAction = "power off"
	ActionSoftPowerOff PowerAction = "soft power off"
	ActionReboot       PowerAction = "rebooting"
	ActionSoftReboot   PowerAction = "soft rebooting"
)

// PowerActions lists every power action, in a stable order.
var PowerActions = []PowerAction{ActionPowerOn, ActionPowerOff, ActionSoftPowerOff, ActionReboot, ActionSoftReboot}

// Valid reports whether a is one of the known actions.
func (a PowerAction) Valid() bool { return slices.Contains(PowerActions, a) }

// Target is the power state a node is in once the action completed.
func (a PowerAction) Target() PowerState {
	switch a {
	case ActionPowerOff, ActionSoftPowerOff:
		return PowerOff
	case ActionPowerOn, ActionReboot, ActionSoftReboot:
		return PowerOn
	}
	return NoPowerState
}

// BootDevice is a boot device, with Ironic's names.
type BootDevice string

// Boot devices.
const (
	BootPXE      BootDevice = "pxe"
	BootDisk     BootDevice = "disk"
	BootCDROM    BootDevice = "cdrom"
	BootBIOS     BootDevice = "bios"
	BootSafe     BootDevice = "safe"
	BootUSB      BootDevice = "usb"
	BootWANBoot  BootDevice = "wanboot"
	BootUEFIHTTP BootDevice = "uefi http"
	// NoBootDevice means no override is set or the device is not known.
	NoBootDevice BootDevice = ""
)

// BootDevices lists every boot device the agent knows, in a stable order.
var BootDevices = []BootDevice{BootPXE, BootDisk, BootCDROM, BootBIOS, BootSafe, BootUSB, BootWANBoot, BootUEFIHTTP}

// Valid reports whether d is one of the known devices.
func (d BootDevice) Valid() bool { return slices.Contains(BootDevices, d) }

// BootMode is the firmware boot mode.
type BootMode string

// Boot modes, with Ironic's names.
const (
	BootModeUEFI BootMode = "uefi"
	BootModeBIOS BootMode = "bios"
	// NoBootMode leaves the mode as it is, or means it is not known.
	NoBootMode BootMode = ""
)

// Valid reports whether m is a known boot mode.
func (m BootMode) Valid() bool { return m == BootModeUEFI || m == BootModeBIOS }

// BootOptions qualify a boot device change.
type BootOptions struct {
	// Persistent keeps the device for every later boot; otherwise it applies
	// to the next boot only.
	Persistent bool
	// Mode asks for a boot mode along with the device; NoBootMode leaves it.
	Mode BootMode
}

// BootDeviceStatus is what a BMC reports of its boot override.
type BootDeviceStatus struct {
	Device BootDevice
	// Persistent is nil where the BMC does not say.
	Persistent *bool
}

// MediaType is a kind of virtual media device.
type MediaType string

// Media types.
const (
	MediaCD     MediaType = "cdrom"
	MediaUSB    MediaType = "usb"
	MediaFloppy MediaType = "floppy"
	// AnyMedia selects every device, e.g. to eject all.
	AnyMedia MediaType = ""
)

// Valid reports whether t is a known media type.
func (t MediaType) Valid() bool { return t == MediaCD || t == MediaUSB || t == MediaFloppy }

// Media is one virtual media device of a BMC and what it holds.
type Media struct {
	// ID is the BMC's name for the device (e.g. "Cd").
	ID string
	// Types are the media types the device accepts.
	Types []MediaType
	// Image is the URL of the inserted image, "" when empty.
	Image    string
	Inserted bool
	// WriteProtected reports the inserted image's write protection.
	WriteProtected bool
}

// MediaRequest asks for an image to be inserted.
type MediaRequest struct {
	Type MediaType
	// Image is the URL the BMC fetches the image from.
	Image string
	// EjectFirst ejects whatever the chosen device holds; without it an
	// occupied device is an error.
	EjectFirst bool
	// WriteProtected asks the BMC to present the image read-only.
	WriteProtected bool
}

// Interface names a group of capabilities, as Ironic's validate reports them.
type Interface string

// Driver interfaces.
const (
	PowerInterface      Interface = "power"
	ManagementInterface Interface = "management"
	VMediaInterface     Interface = "vmedia"
)

// Interfaces lists every interface, in a stable order.
var Interfaces = []Interface{PowerInterface, ManagementInterface, VMediaInterface}
