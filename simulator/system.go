package simulator

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// systemSpec is the static description of a kind of system: what it allows
// and which devices it has. Native systems share one spec; every mockup
// system has its own. It is read-only after construction.
type systemSpec struct {
	resetTypes   []ResetType
	bootSources  []BootSource
	devices      []deviceSpec
	biosDefaults map[string]any
	// defaultBoot is what the firmware boots without an override, and
	// after an override target fails.
	defaultBoot BootSource
}

// deviceSpec describes one virtual media device.
type deviceSpec struct {
	id         string
	name       string
	mediaTypes []string
	// boots lists the boot sources this device serves (Cd for a CD drive,
	// Usb and Floppy for a USB stick).
	boots []BootSource
}

// mediaState is the mutable state of one virtual media device.
type mediaState struct {
	image          string
	inserted       bool
	writeProtected bool
	gen            uint32
	// staleUntil (unix nanoseconds) is when Inserted stops reading true
	// after an eject under Quirks.StaleInserted.
	staleUntil int64
}

// transition is a power transition in progress, completed lazily.
type transition struct {
	active bool
	to     PowerState
	reboot bool
	due    time.Time
}

// gens are per-resource generation counters, the source of ETags: each
// changes when its resource's representation changes.
type gens struct {
	system, bios, biosSettings, secureBoot uint32
}

// System is the state of one simulated BMC and the machine behind it: power
// (with delayed transitions), boot override, virtual media, BIOS, secure boot,
// indicator LED, what it booted from, credentials and faults. All methods are
// safe for concurrent use; every face (Redfish, later IPMI) mutates the same
// System, so a change made through one face is seen through the others.
//
// Power transitions cost no goroutine or timer: a pending transition is a
// timestamp, completed by the first method call that observes the system
// after it is due.
type System struct {
	id    string
	index int
	spec  *systemSpec
	fleet *fleet

	creds atomic.Pointer[credentials]
	fault atomic.Pointer[Fault]
	// prof is the vendor profile (nil: generic); quirks are the system's
	// switches, the profile's defaults until SetQuirks.
	prof   *Profile
	quirks atomic.Pointer[Quirks]
	// bmcResetAt (unix nanoseconds, 0: never) is when a Manager.Reset
	// under Quirks.BMCReset* began.
	bmcResetAt atomic.Int64
	// invCache holds the inventory documents (inventory.go).
	invCache atomic.Pointer[invCache]
	// requests counts the Redfish requests to the system (witness.go).
	requests requestCounter

	mu         sync.Mutex
	power      PowerState
	pend       transition
	boot       BootOverride
	led        IndicatorLED
	secureBoot bool
	osIgnores  bool // the simulated OS ignores graceful shutdown/restart
	media      []mediaState
	bios       map[string]any // nil: spec.biosDefaults
	biosPend   map[string]any
	booted     BootRecord
	nmis       int
	gen        gens
	witness    witness
	// offAt is when the system last reached Off by a transition
	// (Quirks.OnConflictAfterOff).
	offAt time.Time
	// stalePower is read instead of power until staleUntil
	// (Quirks.StalePower).
	stalePower PowerState
	staleUntil time.Time
	// bootPend is the boot override staged in the Settings resource
	// (empty fields unset), applied at the next Reset
	// (Quirks.BootViaSettings).
	bootPend *BootOverride
	// parts are the sensors and power supplies made to fail
	// (SetPartHealth), by name; nil when none. Replaced, never mutated.
	parts map[string]string
}

// newSystem builds a system in its initial state: power off, no override,
// UEFI, empty media.
func newSystem(f *fleet, index int, id string, spec *systemSpec) *System {
	s := &System{
		id: id, index: index, spec: spec, fleet: f,
		power: PowerOff,
		boot:  BootOverride{Target: BootNone, Enabled: BootDisabled, Mode: BootModeUEFI},
		led:   LEDOff,
		media: make([]mediaState, len(spec.devices)),
	}
	for i := range s.media {
		s.media[i].writeProtected = true
	}
	return s
}

// ID returns the system's Redfish Id.
func (s *System) ID() string { return s.id }

func (s *System) now() time.Time { return s.fleet.now() }

// settleLocked completes a due power transition. Every method that reads or
// changes power-dependent state calls it first, so the lazy completion is
// exact: a change made after the due time sees the transition completed.
func (s *System) settleLocked(now time.Time) {
	if !s.pend.active || now.Before(s.pend.due) {
		return
	}
	t := s.pend
	s.pend = transition{}
	s.gen.system++
	old := s.power
	defer func() {
		s.noteSettledLocked(old, t.due)
		if s.power != old {
			s.powerChangedLocked(s.power)
		}
	}()
	switch {
	case t.reboot:
		s.bootLocked(t.due)
	case t.to == PowerOn:
		s.power = PowerOn
		s.bootLocked(t.due)
	default:
		s.power = PowerOff
	}
}

// lockSettled locks the system and completes a due transition.
func (s *System) lockSettled() {
	now := s.now()
	s.mu.Lock()
	s.settleLocked(now)
}

// targetLocked is the power state the system is heading to.
func (s *System) targetLocked() PowerState {
	if s.pend.active && !s.pend.reboot {
		return s.pend.to
	}
	return s.power
}

// scheduleLocked starts a transition that completes after the fleet's power
// delay (at once when the delay is zero).
func (s *System) scheduleLocked(now time.Time, to PowerState, reboot bool) {
	s.pend = transition{active: true, to: to, reboot: reboot, due: now.Add(s.fleet.powerDelay)}
	s.settleLocked(now)
	if s.pend.active {
		s.fleet.events.awaitTransition(s, s.fleet.powerDelay) // its event is due then
	}
}

// PowerState returns the power state as a client reads it: the old state
// while a transition is in progress.
func (s *System) PowerState() PowerState {
	s.lockSettled()
	defer s.mu.Unlock()
	return s.power
}

// Transition returns the power transition in progress, if any.
func (s *System) Transition() (Transition, bool) {
	s.lockSettled()
	defer s.mu.Unlock()
	if !s.pend.active {
		return Transition{}, false
	}
	to := s.pend.to
	if s.pend.reboot {
		to = PowerOn
	}
	return Transition{To: to, Reboot: s.pend.reboot, Due: s.pend.due}, true
}

// ResetTypes returns the reset types this system accepts.
func (s *System) ResetTypes() []ResetType { return append([]ResetType(nil), s.spec.resetTypes...) }

// Reset performs a ComputerSystem.Reset. Power changes take the fleet's power
// delay; a graceful shutdown or restart completes only if the simulated OS
// cooperates (SetOSCooperates) and is otherwise accepted and ignored, as a
// real BMC does. GracefulRestart of a system that is off does nothing (no OS
// to restart); ForceRestart, PowerCycle and PushPowerButton of a system that
// is off power it on (DSP0266's ForceRestart restarts the system whatever its
// state; sushy-tools' fake driver turns every Restart into a pending power
// on, sushy_tools/emulator/resources/systems/fakedriver.py). A
// request is judged against the state the system is heading to, so a repeated
// On during a power-on delay is a no-op and ForceOff during it cancels it.
// An unknown or disallowed type returns a *ValueError (ErrInvalidValue).
func (s *System) Reset(kind ResetType) error {
	if !allowedIn(kind, s.spec.resetTypes) {
		return invalid("ResetType", kind, s.spec.resetTypes)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked(now)
	if err := s.resetQuirksLocked(now, kind); err != nil {
		return err
	}
	target := s.targetLocked()
	switch kind {
	case ResetOn, ResetForceOn:
		s.powerOnLocked(now)
	case ResetForceOff:
		s.powerOffLocked(now)
	case ResetGracefulShutdown:
		if !s.osIgnores {
			s.powerOffLocked(now)
		}
	case ResetGracefulRestart:
		if target == PowerOn && !s.osIgnores {
			s.rebootLocked(now)
		}
	case ResetForceRestart, ResetPowerCycle:
		if target == PowerOn {
			s.rebootLocked(now)
		} else {
			s.powerOnLocked(now)
		}
	case ResetPushPowerButton:
		switch {
		case target == PowerOff:
			s.powerOnLocked(now)
		case !s.osIgnores: // ACPI power button: the OS shuts down if it listens
			s.powerOffLocked(now)
		}
	case ResetNmi:
		if s.power == PowerOn {
			s.nmis++
		}
	}
	return nil
}

func (s *System) powerOnLocked(now time.Time) {
	switch {
	case s.pend.active && s.pend.to == PowerOff && !s.pend.reboot:
		s.pend = transition{} // a shutdown in progress is called off
	case s.power == PowerOff && !s.pend.active:
		s.scheduleLocked(now, PowerOn, false)
	}
}

func (s *System) powerOffLocked(now time.Time) {
	switch {
	case s.power == PowerOff && s.pend.active:
		s.pend = transition{} // a power-on in progress is called off
	case s.power == PowerOn && (!s.pend.active || s.pend.reboot):
		s.scheduleLocked(now, PowerOff, false)
	}
}

func (s *System) rebootLocked(now time.Time) {
	if s.power == PowerOn && !s.pend.active {
		s.scheduleLocked(now, PowerOn, true)
	}
}

// SetPowerState sets the power state at once, without a delay and without
// booting: a knob for test setup and the admin endpoint, not a BMC action.
func (s *System) SetPowerState(p PowerState) error {
	if p != PowerOn && p != PowerOff {
		return invalid("PowerState", p, []PowerState{PowerOn, PowerOff})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pend = transition{}
	if s.power != p {
		s.power = p
		s.gen.system++
		s.powerChangedLocked(p)
	}
	return nil
}

// bootLocked simulates the firmware choosing a boot device at time at: the
// override if enabled (a Once override is consumed), the inserted virtual
// media for Cd/Usb/Floppy, the default device otherwise. Pending BIOS
// settings are applied.
func (s *System) bootLocked(at time.Time) {
	rec := BootRecord{Count: s.booted.Count + 1, Device: s.spec.defaultBoot, Mode: s.boot.Mode, At: at}
	if s.boot.Enabled != BootDisabled && s.boot.Target != BootNone && s.boot.Target != "" {
		rec.Device, rec.Override = s.boot.Target, true
		if s.boot.Enabled == BootOnce {
			s.boot.Enabled = BootDisabled
		}
	}
	if rec.Device == BootUefiHTTP {
		rec.Image = s.boot.HTTPBootURI
	}
	if dev, isMedia := s.deviceForBootLocked(rec.Device); isMedia {
		switch {
		case dev < 0 && rec.Device == BootCd && s.q().CdNeedsUsbCd:
			rec.Fallback = "Cd is the board's own drive; the virtual CD boots as UsbCd"
			rec.Device = s.spec.defaultBoot
		case dev < 0:
			rec.Fallback = fmt.Sprintf("no virtual media device for %s", rec.Device)
			rec.Device = s.spec.defaultBoot
		case s.media[dev].image == "" || !s.media[dev].inserted:
			rec.Fallback = fmt.Sprintf("no media inserted in %s", s.spec.devices[dev].id)
			rec.Device = s.spec.defaultBoot
		default:
			rec.Image = s.media[dev].image
		}
	}
	s.booted = rec
	if s.biosPend != nil {
		if s.bios == nil {
			s.bios = maps.Clone(s.spec.biosDefaults)
		}
		maps.Copy(s.bios, s.biosPend)
		s.biosPend = nil
		s.gen.bios++
		s.gen.biosSettings++
	}
}

// deviceForBootLocked finds the device serving a boot source. isMedia is
// false for sources that are not virtual media (Pxe, Hdd, ...).
func (s *System) deviceForBootLocked(src BootSource) (dev int, isMedia bool) {
	if s.q().CdNeedsUsbCd {
		switch src {
		case BootUsbCd:
			src = BootCd // Supermicro's name for the virtual CD
		case BootCd:
			return -1, true // the board's own CD drive, not the virtual one
		}
	}
	if src != BootCd && src != BootUsb && src != BootFloppy {
		return -1, false
	}
	for i, d := range s.spec.devices {
		if allowedIn(src, d.boots) {
			return i, true
		}
	}
	return -1, true
}

// BootOverride returns the boot source override.
func (s *System) BootOverride() BootOverride {
	s.lockSettled()
	defer s.mu.Unlock()
	return s.boot
}

// BootSources returns the override targets this system allows.
func (s *System) BootSources() []BootSource {
	out := append([]BootSource(nil), s.spec.bootSources...)
	if s.q().CdNeedsUsbCd {
		out = append(out, BootUsbCd)
	}
	return out
}

// SetBootOverride changes the boot source override; empty fields of p are
// left unchanged. Values outside the allowed lists return a *ValueError.
// Continuous is accepted for every target.
func (s *System) SetBootOverride(p BootOverridePatch) error {
	if err := s.validateBoot(p); err != nil {
		return err
	}
	s.lockSettled()
	defer s.mu.Unlock()
	if p.Target != "" {
		s.boot.Target = p.Target
	}
	if p.Enabled != "" {
		s.boot.Enabled = p.Enabled
	}
	if p.Mode != "" {
		s.boot.Mode = p.Mode
	}
	if p.HTTPBootURI != nil {
		s.boot.HTTPBootURI = *p.HTTPBootURI
	}
	s.gen.system++
	return nil
}

// validateBoot checks a boot override patch against the allowed values.
func (s *System) validateBoot(p BootOverridePatch) error {
	if srcs := s.BootSources(); p.Target != "" && !allowedIn(p.Target, srcs) {
		return invalid("BootSourceOverrideTarget", p.Target, srcs)
	}
	if p.Enabled != "" && !allowedIn(p.Enabled, []BootEnabled{BootDisabled, BootOnce, BootContinuous}) {
		return invalid("BootSourceOverrideEnabled", p.Enabled, []BootEnabled{BootDisabled, BootOnce, BootContinuous})
	}
	if p.Mode != "" && !allowedIn(p.Mode, []BootMode{BootModeUEFI, BootModeLegacy}) {
		return invalid("BootSourceOverrideMode", p.Mode, []BootMode{BootModeUEFI, BootModeLegacy})
	}
	return nil
}

// BootedFrom returns what the system last booted from.
func (s *System) BootedFrom() BootRecord {
	s.lockSettled()
	defer s.mu.Unlock()
	return s.booted
}

// deviceIndex finds a device by its Id.
func (s *System) deviceIndex(id string) (int, error) {
	for i, d := range s.spec.devices {
		if d.id == id {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: %q on system %s", ErrUnknownDevice, id, s.id)
}

// Media returns the state of every virtual media device.
func (s *System) Media() []Media {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Media, len(s.media))
	for i := range s.media {
		out[i] = s.mediaLocked(i)
	}
	return out
}

func (s *System) mediaLocked(i int) Media {
	d, m := &s.spec.devices[i], &s.media[i]
	return Media{ID: d.id, MediaTypes: d.mediaTypes, Image: m.image, Inserted: m.inserted, WriteProtected: m.writeProtected}
}

// InsertMedia attaches image to the device with the given Id. A device that
// already has an image returns ErrMediaOccupied.
func (s *System) InsertMedia(device, image string, opt InsertOptions) error {
	if image == "" {
		return fmt.Errorf("%w: Image", ErrMissingValue)
	}
	return s.withDevice(device, func(m *mediaState) error {
		if m.image != "" {
			return fmt.Errorf("%w: %s holds %s", ErrMediaOccupied, device, m.image)
		}
		m.image, m.inserted, m.writeProtected = image, opt.Inserted, opt.WriteProtected
		m.gen++
		return nil
	})
}

// withDevice runs fn on a device's state under the system's lock.
func (s *System) withDevice(device string, fn func(m *mediaState) error) error {
	i, err := s.deviceIndex(device)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(&s.media[i])
}

// EjectMedia detaches the device's image. Ejecting an empty device is a
// no-op (idempotent).
func (s *System) EjectMedia(device string) error {
	return s.withDevice(device, func(m *mediaState) error {
		if m.image != "" || m.inserted {
			*m = mediaState{writeProtected: true, gen: m.gen + 1, staleUntil: s.staleInsertedUntil()}
		}
		return nil
	})
}

// MediaPatch changes a virtual media device the way a Redfish PATCH does:
// nil fields are left unchanged; an empty Image ejects.
type MediaPatch struct {
	Image          *string
	Inserted       *bool
	WriteProtected *bool
}

// PatchMedia applies p to a device. Unlike InsertMedia it replaces an
// attached image, as a PATCH of Image does on real BMCs.
func (s *System) PatchMedia(device string, p MediaPatch) error {
	return s.withDevice(device, func(m *mediaState) error {
		switch {
		case p.Image != nil && *p.Image == "":
			*m = mediaState{writeProtected: true, gen: m.gen, staleUntil: s.staleInsertedUntil()}
		case p.Image != nil:
			m.image, m.inserted = *p.Image, true
		}
		if p.Inserted != nil {
			m.inserted = *p.Inserted && m.image != ""
		}
		if p.WriteProtected != nil {
			m.writeProtected = *p.WriteProtected
		}
		m.gen++
		return nil
	})
}

// IndicatorLED returns the indicator LED state.
func (s *System) IndicatorLED() IndicatorLED {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.led
}

// SetIndicatorLED sets the indicator LED (Lit, Blinking or Off).
func (s *System) SetIndicatorLED(led IndicatorLED) error {
	all := []IndicatorLED{LEDLit, LEDBlinking, LEDOff}
	if !allowedIn(led, all) {
		return invalid("IndicatorLED", led, all)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.led != led {
		s.led = led
		s.gen.system++
	}
	return nil
}

// SecureBoot reports whether UEFI secure boot is enabled.
func (s *System) SecureBoot() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secureBoot
}

// SetSecureBoot enables or disables UEFI secure boot.
func (s *System) SetSecureBoot(enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secureBoot != enabled {
		s.secureBoot = enabled
		s.gen.secureBoot++
	}
}

// OSCooperates reports whether the simulated OS honours graceful shutdown
// and restart requests.
func (s *System) OSCooperates() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.osIgnores
}

// SetOSCooperates sets whether the simulated OS honours graceful shutdown and
// restart requests; when it does not, they are accepted and nothing happens.
func (s *System) SetOSCooperates(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.osIgnores = !ok
}

// BIOSAttributes returns a copy of the current BIOS attributes.
func (s *System) BIOSAttributes() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.biosLocked())
}

func (s *System) biosLocked() map[string]any {
	if s.bios == nil {
		return s.spec.biosDefaults
	}
	return s.bios
}

// PendingBIOSSettings returns a copy of the BIOS settings that the next boot
// applies (nil when there are none).
func (s *System) PendingBIOSSettings() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.biosPend)
}

// SetBIOSSettings stages BIOS attribute changes for the next boot, as the
// Bios/Settings resource does on real BMCs. Unknown attribute names return a
// *ValueError.
func (s *System) SetBIOSSettings(attrs map[string]any) error {
	s.lockSettled()
	defer s.mu.Unlock()
	cur := s.biosLocked()
	for k := range attrs {
		if _, ok := cur[k]; !ok {
			return &ValueError{Property: "Attributes", Value: k, Allowed: sortedKeys(cur)}
		}
	}
	if s.biosPend == nil {
		s.biosPend = make(map[string]any, len(attrs))
	}
	maps.Copy(s.biosPend, attrs)
	s.gen.biosSettings++
	return nil
}

// ResetBIOS restores the default BIOS attributes at once and drops pending
// settings (sushy-tools does the same).
func (s *System) ResetBIOS() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bios, s.biosPend = nil, nil
	s.gen.bios++
	s.gen.biosSettings++
}

// NMIs returns how many NMIs the system received while on.
func (s *System) NMIs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nmis
}

// SetCredentials gives the system its own user name and password, replacing
// the fleet's default for requests addressed to it.
func (s *System) SetCredentials(username, password string) {
	c := newCredentials(username, password)
	s.creds.Store(c)
	s.fleet.addCredentials(c)
}

// credentials returns the credentials that authenticate requests to s.
func (s *System) credentials() *credentials {
	if c := s.creds.Load(); c != nil {
		return c
	}
	return s.fleet.creds
}

// SetFault sets the system's own fault, replacing the fleet-wide one for
// this system. The zero Fault makes it healthy regardless of the fleet.
func (s *System) SetFault(f Fault) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.fault.Store(&f)
	return nil
}

// ClearFault removes the system's own fault so the fleet-wide one applies.
func (s *System) ClearFault() { s.fault.Store(nil) }

// OwnFault returns the system's own fault, if one is set.
func (s *System) OwnFault() (Fault, bool) {
	if f := s.fault.Load(); f != nil {
		return *f, true
	}
	return Fault{}, false
}

// Fault returns the fault in effect: the system's own, else the fleet's.
func (s *System) Fault() Fault {
	if f := s.effectiveFault(); f != nil {
		return *f
	}
	return Fault{}
}

func (s *System) effectiveFault() *Fault {
	if f := s.fault.Load(); f != nil {
		return f
	}
	return s.fleet.fault.Load()
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// systemView is what the Redfish face renders of a ComputerSystem.
type systemView struct {
	power      PowerState
	boot       BootOverride
	led        IndicatorLED
	secureBoot bool
	gen        gens
}

// view takes a consistent snapshot for rendering.
func (s *System) view() systemView {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked(now)
	power := s.power
	if now.Before(s.staleUntil) {
		power = s.stalePower // Quirks.StalePower: the BMC's cached state
	}
	return systemView{power: power, boot: s.boot, led: s.led, secureBoot: s.secureBoot, gen: s.gen}
}

// mediaView returns a device's state and generation.
func (s *System) mediaView(i int) mediaState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.media[i]
}

// biosView returns the current or pending attributes and their generation.
func (s *System) biosView(pending bool) (map[string]any, uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pending {
		return maps.Clone(s.biosPend), s.gen.biosSettings
	}
	return maps.Clone(s.biosLocked()), s.gen.bios
}

// Status is a consistent snapshot of a system, for the admin endpoint and
// tests.
type Status struct {
	ID           string
	Profile      string
	Quirks       Quirks
	PowerState   PowerState
	Transition   *Transition `json:",omitempty"`
	Boot         BootOverride
	BootedFrom   BootRecord
	Media        []Media
	IndicatorLED IndicatorLED
	SecureBoot   bool
	OSCooperates bool
	BIOS         map[string]any
	PendingBIOS  map[string]any `json:",omitempty"`
	NMIs         int
	Overlaps     int64
	Mutations    uint64
	Requests     RequestCounts
	Fault        *Fault `json:",omitempty"`
}

// Status returns a snapshot of the system's state.
func (s *System) Status() Status {
	now := s.now()
	s.mu.Lock()
	s.settleLocked(now)
	st := Status{
		ID: s.id, Profile: s.Profile(), Quirks: s.Quirks(), PowerState: s.power, Boot: s.boot, BootedFrom: s.booted,
		IndicatorLED: s.led, SecureBoot: s.secureBoot, OSCooperates: !s.osIgnores,
		BIOS: maps.Clone(s.biosLocked()), PendingBIOS: maps.Clone(s.biosPend), NMIs: s.nmis,
		Overlaps: s.witness.overlaps, Mutations: s.witness.seq, Requests: s.Requests(),
	}
	if s.pend.active {
		to := s.pend.to
		if s.pend.reboot {
			to = PowerOn
		}
		st.Transition = &Transition{To: to, Reboot: s.pend.reboot, Due: s.pend.due}
	}
	st.Media = make([]Media, len(s.media))
	for i := range s.media {
		st.Media[i] = s.mediaLocked(i)
	}
	s.mu.Unlock()
	if f, ok := s.OwnFault(); ok {
		st.Fault = &f
	}
	return st
}
