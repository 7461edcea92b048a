package simulator

import "time"

// PowerState is the power state of a simulated system as Redfish reports it.
type PowerState string

// Power states. The simulator reports only the stable states: during a
// transition a system reads its old state until the transition completes.
const (
	PowerOn  PowerState = "On"
	PowerOff PowerState = "Off"
)

// ResetType is a Redfish ComputerSystem.Reset type.
type ResetType string

// Reset types every native system accepts (listed in
// ResetType@Redfish.AllowableValues).
const (
	ResetOn               ResetType = "On"
	ResetForceOn          ResetType = "ForceOn"
	ResetForceOff         ResetType = "ForceOff"
	ResetGracefulShutdown ResetType = "GracefulShutdown"
	ResetGracefulRestart  ResetType = "GracefulRestart"
	ResetForceRestart     ResetType = "ForceRestart"
	ResetNmi              ResetType = "Nmi"
	ResetPushPowerButton  ResetType = "PushPowerButton"
	ResetPowerCycle       ResetType = "PowerCycle"
)

// allResetTypes lists the reset types of a native system, in the order they
// are advertised.
var allResetTypes = []ResetType{
	ResetOn, ResetForceOn, ResetForceOff, ResetGracefulShutdown, ResetGracefulRestart,
	ResetForceRestart, ResetNmi, ResetPushPowerButton, ResetPowerCycle,
}

// AllResetTypes returns the reset types a native system advertises.
func AllResetTypes() []ResetType { return append([]ResetType(nil), allResetTypes...) }

// BootSource is a Redfish BootSourceOverrideTarget value.
type BootSource string

// Boot sources a native system advertises in
// BootSourceOverrideTarget@Redfish.AllowableValues.
const (
	BootNone      BootSource = "None"
	BootPxe       BootSource = "Pxe"
	BootFloppy    BootSource = "Floppy"
	BootCd        BootSource = "Cd"
	BootUsb       BootSource = "Usb"
	BootHdd       BootSource = "Hdd"
	BootBiosSetup BootSource = "BiosSetup"
	BootUefiShell BootSource = "UefiShell"
	BootUefiHTTP  BootSource = "UefiHttp"
)

var allBootSources = []BootSource{
	BootNone, BootPxe, BootFloppy, BootCd, BootUsb, BootHdd, BootBiosSetup, BootUefiShell, BootUefiHTTP,
}

// BootEnabled is a Redfish BootSourceOverrideEnabled value.
type BootEnabled string

// BootSourceOverrideEnabled values.
const (
	BootDisabled   BootEnabled = "Disabled"
	BootOnce       BootEnabled = "Once"
	BootContinuous BootEnabled = "Continuous"
)

// BootMode is a Redfish BootSourceOverrideMode value.
type BootMode string

// BootSourceOverrideMode values.
const (
	BootModeUEFI   BootMode = "UEFI"
	BootModeLegacy BootMode = "Legacy"
)

// IndicatorLED is a Redfish IndicatorLED value.
type IndicatorLED string

// IndicatorLED values.
const (
	LEDLit      IndicatorLED = "Lit"
	LEDBlinking IndicatorLED = "Blinking"
	LEDOff      IndicatorLED = "Off"
)

// BootOverride is a system's boot source override (the Redfish Boot object).
type BootOverride struct {
	Target  BootSource
	Enabled BootEnabled
	Mode    BootMode
	// HTTPBootURI is what a UefiHttp boot fetches (Redfish HttpBootUri;
	// empty: the URI a DHCP server gives).
	HTTPBootURI string `json:",omitempty"`
}

// BootOverridePatch changes a boot override: empty fields are left as they are.
type BootOverridePatch struct {
	Target  BootSource
	Enabled BootEnabled
	Mode    BootMode
	// HTTPBootURI, if not nil, sets HttpBootUri ("" clears it).
	HTTPBootURI *string
}

// Media is the state of one virtual media device.
type Media struct {
	// ID is the device's Redfish Id ("Cd", "Usb" on native systems).
	ID string
	// MediaTypes are the Redfish VirtualMediaType values the device takes.
	MediaTypes []string
	// Image is the attached image URL, empty when the device is empty.
	Image          string
	Inserted       bool
	WriteProtected bool
}

// InsertOptions are the parameters of VirtualMedia.InsertMedia besides the
// image.
type InsertOptions struct {
	// Inserted says whether the image shows as inserted (Redfish default true).
	Inserted bool
	// WriteProtected says whether the media is read-only (Redfish default true).
	WriteProtected bool
}

// BootRecord is what a system last booted from, as the simulated firmware saw
// it. It is the simulator's own status, not part of the Redfish face.
type BootRecord struct {
	// Count is the number of boots since the simulator started.
	Count int
	// Device is what the firmware booted: "Pxe", "Hdd", "Cd", "Usb", ...
	// Empty if the system has not booted yet.
	Device BootSource
	// Image is the virtual media image booted, when Device is a media device.
	Image string
	// Mode is the boot mode used (UEFI or Legacy).
	Mode BootMode
	// Override says whether a boot source override chose Device.
	Override bool
	// Fallback explains why the firmware did not boot the override target
	// (for example an empty virtual CD), empty otherwise.
	Fallback string
	// At is when the boot happened.
	At time.Time
}

// Transition is a power transition in progress.
type Transition struct {
	// To is the power state the system reaches at Due.
	To PowerState
	// Reboot is true for a restart: the system stays On and boots again.
	Reboot bool
	// Due is when the transition completes.
	Due time.Time
}
