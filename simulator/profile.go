package simulator

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is every vendor behaviour the simulator knows, as data: the
// profiles (a vendor's shape and the quirks it switches on by default) and
// the quirks themselves, each named, with its public source. The request path
// (redfish.go, native.go, profile_system.go) consults a system's Quirks and
// never a vendor name, so every quirk can be switched on alone on any
// system, generic ones included. docs/simulator.md has the same table for
// readers.

// Profile is a vendor's BMC as the simulator reproduces it: the ids and
// locations of its resources and the quirks on by default. It is a value;
// the profiles a simulator knows are listed by Profiles.
type Profile struct {
	// Name is what --profile takes: generic, dell-idrac, hpe-ilo, ...
	Name string
	// SystemID, ManagerID and ChassisID are the ids the BMC gives its one
	// system, manager and chassis. They are served on the system's own port
	// (Config.PortPerSystem, Simulator.SystemHandler), where the simulator
	// looks like that one BMC; on the shared fleet port every system keeps
	// its unique fleet id (sys-NNNNN). Empty: the fleet id everywhere.
	SystemID, ManagerID, ChassisID string
	// CdID and UsbID are the ids of the virtual CD and USB devices.
	CdID, UsbID string
	// Quirks are the behaviours on by default.
	Quirks Quirks
}

// Span is a duration that reads and writes as a Go duration string ("5s")
// in the admin endpoint's JSON.
type Span time.Duration

// MarshalText writes the duration as "5s"; zero is "0s".
func (s Span) MarshalText() ([]byte, error) { return []byte(time.Duration(s).String()), nil }

// UnmarshalText reads a Go duration string.
func (s *Span) UnmarshalText(b []byte) error {
	d, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if d < 0 {
		return &ValueError{Property: "duration", Value: string(b), Allowed: []string{">= 0"}}
	}
	*s = Span(d)
	return nil
}

// MediaPlace says where a BMC exposes its VirtualMedia collection.
type MediaPlace string

// Places of virtual media.
const (
	// MediaBoth: under the System and the Manager (the generic default).
	MediaBoth MediaPlace = ""
	// MediaUnderSystem: under the System only (iDRAC 10 and newer iDRAC 9
	// firmware).
	MediaUnderSystem MediaPlace = "System"
	// MediaUnderManager: under the Manager only (older iDRAC, iLO,
	// Supermicro, XCC, AMI).
	MediaUnderManager MediaPlace = "Manager"
	// MediaNone: no virtual media at all (OpenBMC).
	MediaNone MediaPlace = "None"
)

// Quirks are a system's vendor behaviours, each a separate switch whose
// zero value is off (the generic, standards-conforming behaviour). "For a
// while" windows are measured on the simulator's clock (Config.Now), so a
// test moves a fake clock instead of sleeping. Set them per system with
// System.SetQuirks or PUT /sim/systems/{id}/quirks.
type Quirks struct {
	// --- shape ---

	// Media is where the VirtualMedia collection lives.
	Media MediaPlace `json:",omitempty"`
	// NoBootAllowableValues leaves BootSourceOverrideTarget@Redfish.AllowableValues
	// out of the System. With BootViaSettings they are in the Settings
	// resource. Source: sushy release note idrac10-settings-resource
	// (https://opendev.org/openstack/sushy/src/branch/master/releasenotes/notes/idrac10-settings-resource-c18e754c661a7056.yaml).
	NoBootAllowableValues bool `json:",omitempty"`
	// ResetActionInfo lists the reset types in an ActionInfo resource
	// (Systems/<id>/ResetActionInfo, linked by @Redfish.ActionInfo) instead
	// of inline AllowableValues. Source: OpenBMC bmcweb
	// (https://github.com/ibm-openbmc/bmcweb/pull/522 shows
	// /redfish/v1/Systems/system/ResetActionInfo); Supermicro X12/X13
	// firmware does the same.
	ResetActionInfo bool `json:",omitempty"`
	// MediaPatchOnly removes the InsertMedia and EjectMedia actions: media
	// is attached by PATCH of Image and Inserted. Source: sushy release note
	// fix-virtual-media-fallback ("Lenovo ThinkSystem machines (i.e. SD530,
	// ..) that only implement the PATCH method").
	MediaPatchOnly bool `json:",omitempty"`
	// EmptyImageNone reports an empty slot's Image as the string "None"
	// instead of null (said of AMI MegaRAC in issue 12). No public capture
	// was found that shows the JSON string rather than a Python client
	// printing null, so the ami profile leaves it off; see the docs.
	EmptyImageNone bool `json:",omitempty"`

	// --- sessions ---

	// SessionCap bounds the sessions opened on the system's own port;
	// beyond it POST .../Sessions answers 503 with iDRAC's RAC0218 message.
	// 0: no cap. Source: iDRAC's "RAC0218: The maximum number of user
	// sessions is reached." (Dell iDRAC login error; the Redfish body
	// follows iDRAC's IDRAC.2.x registry form as sushy's tests show for
	// SYS518).
	SessionCap int `json:",omitempty"`

	// --- power ---

	// OnConflictAfterOff: a Reset On within this long after the system
	// reached Off answers 409 ActionParameterValueConflict until the BMC
	// settles. Source: Ironic release note redfish-power-on-conflict-retry
	// (iDRAC10 / PowerEdge 17G), body from Ironic's test_power.py.
	OnConflictAfterOff Span `json:",omitempty"`
	// ResetDuringTransition: a Reset while a power transition is in
	// progress answers 400 iLO.2.15.InvalidOperationForSystemState. Source:
	// sushy commit eee778a "Retry on ilo state error" (connector.py,
	// test_connector.py).
	ResetDuringTransition bool `json:",omitempty"`
	// StalePower: after a Reset changed the power state, the Redfish
	// PowerState reads the old value for this long after the change
	// completed (a cached state). Source: Ironic release note
	// catch-redfish-409 ("potentially stale cached data").
	StalePower Span `json:",omitempty"`

	// --- boot override ---

	// BootViaSettings (iDRAC 10): a PATCH of Boot on the System answers 400
	// PropertyNotWritable; the System carries @Redfish.Settings pointing at
	// Systems/<id>/Settings, where Boot is PATCHed and applied at the next
	// Reset. Source: sushy release notes check-for-boot-attrs-in-settingsuri
	// (the PropertyNotWritable message) and idrac10-settings-resource.
	BootViaSettings bool `json:",omitempty"`
	// PostWindow (iLO): for this long after the system powered on or
	// restarted it is in POST, and a boot PATCH answers 400
	// iLO.2.15.UnableToModifyDuringSystemPOST. Source: Ironic release note
	// redfish-post-boot-retry (bug 2136275).
	PostWindow Span `json:",omitempty"`
	// BootPatchAll (AMI, ASRock Rack, Gigabyte): a boot PATCH must carry
	// BootSourceOverrideTarget, BootSourceOverrideEnabled and
	// BootSourceOverrideMode together, else 400 PropertyMissing. Source:
	// Ironic release notes redfish-full-boot-payload-asrockrack and
	// fix-redfish-boot-device-full-request.
	BootPatchAll bool `json:",omitempty"`
	// EnabledRevertsToOnce (Supermicro): a boot PATCH without
	// BootSourceOverrideEnabled sets it to Once. Source: Ironic release note
	// supermicro-redfish-override-enabled (story 2008547).
	EnabledRevertsToOnce bool `json:",omitempty"`
	// CdNeedsUsbCd (Supermicro): UsbCd is offered as a boot target and boots
	// the virtual CD; Cd is accepted but does not boot the inserted image.
	// Source: sushy release notes change-bootdev-smc and
	// supermicro-vmedia-dev-workaround.
	CdNeedsUsbCd bool `json:",omitempty"`
	// BootIgnored: a boot PATCH answers 200 but changes nothing. Source:
	// bmc-toolbox/bmclib PR 459 (Supermicro AS-1015CS-TNR-EU, AMI-based:
	// 200 OK, yet a GET shows the override not stored) and Ironic release
	// note redfish-sadness (persistent boot setting not honoured).
	BootIgnored bool `json:",omitempty"`

	// --- virtual media ---

	// EjectNeedsBody (iLO): EjectMedia with no body answers 415; it needs
	// {}. Source: sushy release note fix-eject-media-empty-dict (commit
	// 9bd1d6b, "Add support for ilo Virtual Media").
	EjectNeedsBody bool `json:",omitempty"`
	// InsertRefusesFlags (Supermicro X11/X12): InsertMedia with Inserted or
	// WriteProtected in the body answers 400. Source: sushy release note
	// fix-insert-media-payload.
	InsertRefusesFlags bool `json:",omitempty"`
	// StaleInserted: after an eject, Inserted reads true for this long.
	// Source: Ironic release note fix-redfish-vmedia-stale-insert-skip.
	StaleInserted Span `json:",omitempty"`

	// --- ETags ---

	// IfMatchRequired (Lenovo XCC): a PATCH without If-Match answers 428
	// PreconditionRequired. Source: ansible/ansible PR 56150 (issue 56050,
	// "HTTP 428 Precondition Required" on Lenovo systems).
	IfMatchRequired bool `json:",omitempty"`
	// WeakETagRefused (AMI): ETags are sent weak (W/"...") but a weak tag in
	// If-Match answers 412; the same tag without W/ is accepted. Source:
	// sushy release note for the weak-to-strong retry (releasenote-d7138d1e)
	// and ansible-collections/community.general PR 6434 (Gigabyte).
	WeakETagRefused bool `json:",omitempty"`

	// --- inventory (inventory.go) ---

	// NoStorage leaves out the Storage collection: drives are listed only
	// in SimpleStorage, as on BMCs that predate Storage (Redfish 2016.1).
	// Ironic's redfish inspect falls back to SimpleStorage when Storage is
	// missing (ironic/drivers/modules/redfish/inspect.py, inspect_hardware).
	NoStorage bool `json:",omitempty"`
	// EmptyMAC: the last EthernetInterface reports an empty MACAddress.
	// Source: Ironic release note redfish-inspect-invalid-mac-speed
	// ("not include network interfaces with invalid MACs").
	EmptyMAC bool `json:",omitempty"`
	// SKUServiceTag (iDRAC): SKU holds the service tag, the serial an
	// operator knows; SerialNumber is the motherboard's. Source: Ironic
	// release notes idrac-inspect-sku and idrac-redfish-sku (bug 2146585).
	SKUServiceTag bool `json:",omitempty"`

	// --- telemetry (sensors.go, telemetry.go) ---

	// Telemetry is which schema generation of power and thermal resources
	// the Chassis links: both (the generic default), only the deprecated
	// Power and Thermal, or only PowerSubsystem, ThermalSubsystem,
	// EnvironmentMetrics and Sensors. Each profile's choice cites its
	// source there.
	Telemetry TelemetrySchema `json:",omitempty"`
	// FanPercent: fans read in percent of full speed (ReadingUnits
	// "Percent") instead of RPM (iLO; sources at the hpe-ilo profile).
	FanPercent bool `json:",omitempty"`
	// NoPSUInputWatts: power supplies report their output power only
	// (LastPowerOutputWatts), no per-unit input power (iLO).
	NoPSUInputWatts bool `json:",omitempty"`

	// --- BMC reset ---

	// BMCResetRefuse and BMCResetUnavailable make Manager.Reset real: for
	// BMCResetRefuse the BMC resets every connection, then for
	// BMCResetUnavailable it answers 503 with Retry-After, then it is back
	// with every session it had gone. Both zero: Manager.Reset is accepted
	// and nothing happens. Sources: openbmc/bmcweb issue 158 (sessions
	// flushed by a BMC reset), xcat2/xcat-core issue 3436 (503 while the BMC
	// reboots).
	BMCResetRefuse      Span `json:",omitempty"`
	BMCResetUnavailable Span `json:",omitempty"`
}

// TelemetrySchema is a schema generation of the Chassis' power and thermal
// resources (Quirks.Telemetry).
type TelemetrySchema string

// The schema generations. DMTF deprecated Power and Thermal in Redfish
// 2020.4 (DSP8010 2020.4: Power v1.7.0, Thermal v1.7.0) in favour of
// PowerSubsystem, ThermalSubsystem, EnvironmentMetrics and Sensors.
const (
	// TelemetryBoth links both generations (the generic default).
	TelemetryBoth TelemetrySchema = ""
	// TelemetryLegacy links only Power and Thermal.
	TelemetryLegacy TelemetrySchema = "Power/Thermal"
	// TelemetryModern links only PowerSubsystem, ThermalSubsystem,
	// EnvironmentMetrics and Sensors.
	TelemetryModern TelemetrySchema = "PowerSubsystem/ThermalSubsystem"
)

// profiles lists every profile the simulator knows. Ids and device names
// are the vendors' own, from their Redfish documentation and captures.
var profiles = []Profile{
	{Name: "generic", CdID: "Cd", UsbID: "Usb"},
	{
		// Dell iDRAC 9 with the iDRAC 10 switches available: Systems/
		// System.Embedded.1, Managers/iDRAC.Embedded.1, virtual media CD
		// and RemovableDisk under the Manager (older firmware; newer
		// firmware and iDRAC 10 put it under the System).
		Name: "dell-idrac", SystemID: "System.Embedded.1", ManagerID: "iDRAC.Embedded.1", ChassisID: "System.Embedded.1",
		CdID: "CD", UsbID: "RemovableDisk",
		// Telemetry: iDRAC 9 links Power and Thermal (captures in
		// bb-Ricardo/check_redfish issue 181 and influxdata/telegraf issue
		// 9575, PowerInputWatts per unit) and, on current firmware, the
		// new generation too; iDRAC 10 has only ThermalSubsystem and
		// PowerSubsystem (mrlhansen/idrac_exporter issue 202, its System
		// links CooledBy .../ThermalSubsystem/Fans/...): set Telemetry to
		// PowerSubsystem/ThermalSubsystem for it.
		Quirks: Quirks{Media: MediaUnderManager, SessionCap: 8, OnConflictAfterOff: Span(5 * time.Second), SKUServiceTag: true},
	},
	{
		// HPE iLO 5/6: Systems/1, Managers/1, virtual media 1 (floppy/USB)
		// and 2 (CD) under the Manager.
		Name: "hpe-ilo", SystemID: "1", ManagerID: "1", ChassisID: "1", CdID: "2", UsbID: "1",
		// Telemetry: iLO 5 and 6 link Power and Thermal only (Chassis/1 of
		// a DL360 Gen11 with iLO 6 in bb-Ricardo/check_redfish issue 178,
		// #Power.v1_7_1); fans read in Percent (natankeddem/hush issue 8:
		// "Units": "Percent" on iLO 4, "ReadingUnits": "Percent" on iLO 5
		// and 6); power supplies give LastPowerOutputWatts and
		// LineInputVoltage but no PowerInputWatts (iLO capture in
		// jenningsloy318/redfish_exporter issue 29).
		Quirks: Quirks{Media: MediaUnderManager, ResetDuringTransition: true, PostWindow: Span(30 * time.Second), EjectNeedsBody: true,
			Telemetry: TelemetryLegacy, FanPercent: true, NoPSUInputWatts: true},
	},
	{
		// Supermicro X11-X13: Systems/1, Managers/1, CD1 and USB1.
		Name: "supermicro", SystemID: "1", ManagerID: "1", ChassisID: "1", CdID: "CD1", UsbID: "USB1",
		// Telemetry: Power and Thermal only, as Supermicro's Redfish
		// reference guide for X11/X12 lists them; no public capture of a
		// Supermicro PowerSubsystem was found (see docs/simulator.md).
		Quirks: Quirks{Media: MediaUnderManager, CdNeedsUsbCd: true, EnabledRevertsToOnce: true, InsertRefusesFlags: true, ResetActionInfo: true,
			Telemetry: TelemetryLegacy},
	},
	{
		// Lenovo XCC: Systems/1, Managers/1, EXT1 and EXT2 under the Manager.
		Name: "lenovo-xcc", SystemID: "1", ManagerID: "1", ChassisID: "1", CdID: "EXT1", UsbID: "EXT2",
		// Telemetry: both generations (XCC's Chassis/1/Thermal with RPM
		// fans in bb-Ricardo/check_redfish issue 73; its PowerSubsystem in
		// lenovo/python-redfish-lenovo PR 263).
		Quirks: Quirks{Media: MediaUnderManager, MediaPatchOnly: true, IfMatchRequired: true},
	},
	{
		// AMI MegaRAC (Gigabyte, ASRock Rack): Systems/Self, Managers/Self.
		Name: "ami", SystemID: "Self", ManagerID: "Self", ChassisID: "Self", CdID: "CD1", UsbID: "USBStick1",
		Quirks: Quirks{Media: MediaUnderManager, BootPatchAll: true, WeakETagRefused: true},
	},
	{
		// OpenBMC bmcweb: Systems/system, Managers/bmc, Chassis/chassis.
		Name: "openbmc", SystemID: "system", ManagerID: "bmc", ChassisID: "chassis", CdID: "Cd", UsbID: "Usb",
		// Telemetry: the new generation only, bmcweb's defaults
		// (meson.options: redfish-new-powersubsystem-thermalsubsystem
		// enabled, redfish-allow-deprecated-power-thermal disabled, "will
		// be removed June 2026").
		Quirks: Quirks{Media: MediaNone, ResetActionInfo: true, Telemetry: TelemetryModern},
	},
}

// Profiles returns every profile the simulator knows, generic first.
func Profiles() []Profile { return slices.Clone(profiles) }

// LookupProfile returns the profile with the given name ("" is generic).
func LookupProfile(name string) (Profile, error) {
	if p := findProfile(name); p != nil {
		return *p, nil
	}
	return Profile{}, invalid("Profile", name, profileNames())
}

func findProfile(name string) *Profile {
	if name == "" {
		name = "generic"
	}
	for i := range profiles {
		if profiles[i].Name == name {
			return &profiles[i]
		}
	}
	return nil
}

func profileNames() []string {
	names := make([]string, len(profiles))
	for i, p := range profiles {
		names[i] = p.Name
	}
	return names
}

// ProfileShare is one profile's share of a mixed fleet.
type ProfileShare struct {
	Name   string
	Weight int
}

// ParseProfiles reads a mix such as "dell-idrac=40,hpe-ilo=30,supermicro=30".
// Weights are relative (they need not add up to 100).
func ParseProfiles(s string) ([]ProfileShare, error) {
	var out []ProfileShare
	for part := range strings.SplitSeq(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, &ValueError{Property: "Profiles", Value: part, Allowed: []string{"name=weight"}}
		}
		n, err := strconv.Atoi(w)
		if err != nil || n <= 0 {
			return nil, &ValueError{Property: "Profiles", Value: part, Allowed: []string{"a positive weight"}}
		}
		if findProfile(name) == nil {
			return nil, invalid("Profiles", name, profileNames())
		}
		out = append(out, ProfileShare{Name: name, Weight: n})
	}
	return out, nil
}

// assignProfiles gives each of n systems a profile: one block per share, in
// the order given, sized by largest remainder, so that system i's profile
// follows from the mix alone (with 10 systems and dell-idrac=40,hpe-ilo=30,
// supermicro=30, systems 1-4 are Dell, 5-7 HPE, 8-10 Supermicro).
func assignProfiles(n int, single string, mix []ProfileShare) ([]*Profile, error) {
	if len(mix) == 0 {
		p := findProfile(single)
		if p == nil {
			return nil, invalid("Profile", single, profileNames())
		}
		mix = []ProfileShare{{Name: p.Name, Weight: 1}}
	}
	total := 0
	for _, s := range mix {
		if findProfile(s.Name) == nil || s.Weight <= 0 {
			return nil, &ValueError{Property: "Profiles", Value: fmt.Sprintf("%s=%d", s.Name, s.Weight), Allowed: profileNames()}
		}
		total += s.Weight
	}
	counts := make([]int, len(mix))
	type rem struct{ i, r int }
	rems := make([]rem, len(mix))
	given := 0
	for i, s := range mix {
		counts[i] = n * s.Weight / total
		given += counts[i]
		rems[i] = rem{i, n * s.Weight % total}
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return b.r - a.r })
	for k := 0; given < n; k++ {
		counts[rems[k%len(rems)].i]++
		given++
	}
	out := make([]*Profile, 0, n)
	for i, s := range mix {
		p := findProfile(s.Name)
		for range counts[i] {
			out = append(out, p)
		}
	}
	return out, nil
}

// vendorError is an answer a quirk gives: the status, the full MessageId
// (with the vendor's registry prefix) and message as the sources show them.
func vendorError(status int, msgID, msg string, args ...string) error {
	return &httpError{status: status, msgID: msgID, msg: msg, args: args}
}

// The answers of the quirks, exactly as their sources give them.
var (
	// errRAC0218 is iDRAC's answer to a session beyond its cap.
	errRAC0218 = vendorError(http.StatusServiceUnavailable, "IDRAC.2.8.RAC0218",
		"The maximum number of user sessions is reached.")
	// errILOState is iLO's answer to a Reset during a power transition.
	errILOState = vendorError(http.StatusBadRequest, "iLO.2.15.InvalidOperationForSystemState",
		"The operation cannot be performed in the current system state.")
	// errILOPost is iLO's answer to a boot change during POST.
	errILOPost = vendorError(http.StatusBadRequest, "iLO.2.15.UnableToModifyDuringSystemPOST",
		"The value for the property cannot be changed while the computer system is in POST.")
	// errEjectNoBody is iLO's answer to EjectMedia without a body
	// (sushy: "throws Unsupported media type error"; no body given).
	errEjectNoBody = vendorError(http.StatusUnsupportedMediaType, registryPrefix+"MalformedJSON",
		"The request body submitted was malformed JSON and could not be parsed by the receiving service.")
	// errPreconditionRequired is the DMTF answer to a PATCH without If-Match
	// where one is required (XCC).
	errPreconditionRequired = vendorError(http.StatusPreconditionRequired, registryPrefix+"PreconditionRequired",
		"A precondition header or annotation is required to change this resource.")
)

// errOnConflict is iDRAC 10's answer to On while it settles after a
// power-off (Ironic's test_power.py quotes the body).
func errOnConflict() error {
	return vendorError(http.StatusConflict, registryPrefix+"ActionParameterValueConflict",
		"The parameter 'ResetType' with the requested value of 'On' does not meet the constraints of the implementation.",
		"ResetType", "On")
}

// errBootNotWritable is iDRAC 10's answer to a Boot PATCH on the System
// (sushy's release note quotes the message).
func errBootNotWritable(prop string) error {
	return vendorError(http.StatusBadRequest, registryPrefix+"PropertyNotWritable",
		"The property "+prop+" is a read only property and cannot be assigned a value.", prop)
}

// errPropertyMissing is the DMTF answer when a required property is absent.
func errPropertyMissing(prop string) error {
	return vendorError(http.StatusBadRequest, registryPrefix+"PropertyMissing",
		"The property "+prop+" is a required property and must be included in the request.", prop)
}

// errParamNotSupported is the DMTF answer to an action parameter the
// service does not take (Supermicro's Inserted/WriteProtected).
func errParamNotSupported(param, action string) error {
	return vendorError(http.StatusBadRequest, registryPrefix+"ActionParameterNotSupported",
		"The parameter "+param+" for the action "+action+" is not supported on the target resource.", param, action)
}
