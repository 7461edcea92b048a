package simulator

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// This file is where a system's Quirks meet its state: the checks and
// effects the request path calls. Which quirks exist, with their sources,
// is in profile.go.

// BootUsbCd is Supermicro's boot target for the virtual CD
// (Quirks.CdNeedsUsbCd).
const BootUsbCd BootSource = "UsbCd"

// noQuirks is the generic behaviour.
var noQuirks Quirks

// q returns the system's quirks; never nil.
func (s *System) q() *Quirks {
	if q := s.quirks.Load(); q != nil {
		return q
	}
	return &noQuirks
}

// Profile returns the name of the system's vendor profile.
func (s *System) Profile() string {
	if s.prof == nil {
		return "generic"
	}
	return s.prof.Name
}

// Quirks returns the system's behaviour switches.
func (s *System) Quirks() Quirks { return *s.q() }

// SetQuirks replaces the system's behaviour switches (the profile's
// defaults until then). Tests switch one quirk on alone with it.
func (s *System) SetQuirks(q Quirks) error {
	places := []MediaPlace{MediaBoth, MediaUnderSystem, MediaUnderManager, MediaNone}
	if !allowedIn(q.Media, places) {
		return invalid("Media", q.Media, places)
	}
	schemas := []TelemetrySchema{TelemetryBoth, TelemetryLegacy, TelemetryModern}
	if !allowedIn(q.Telemetry, schemas) {
		return invalid("Telemetry", q.Telemetry, schemas)
	}
	if q.SessionCap < 0 {
		return &ValueError{Property: "SessionCap", Value: "negative", Allowed: []string{">= 0"}}
	}
	s.quirks.Store(&q)
	s.mu.Lock()
	s.gen.system++ // the representation may change shape
	s.mu.Unlock()
	return nil
}

// names are the ids under which a system's System, Manager and Chassis are
// served: the vendor's on the system's own port, the fleet id otherwise.
type names struct{ sys, mgr, ch string }

func namesOf(sys, scope *System) names {
	if scope != nil && sys.prof != nil && sys.prof.SystemID != "" {
		return names{sys.prof.SystemID, sys.prof.ManagerID, sys.prof.ChassisID}
	}
	return names{sys.id, sys.id, sys.id}
}

// ownSystemPath is the path of the system's ComputerSystem on its own port,
// when its profile names it differently from the fleet.
func (s *System) ownSystemPath() (string, bool) {
	if s.prof == nil || s.prof.SystemID == "" {
		return "", false
	}
	return systemsPath + "/" + s.prof.SystemID, true
}

// etag formats a generation as the system's ETag: weak under
// Quirks.WeakETagRefused, as AMI sends them.
func (s *System) etag(prefix byte, gen uint32) string {
	t := etagOf(prefix, gen)
	if s.q().WeakETagRefused {
		return "W/" + t
	}
	return t
}

// mediaPlaced reports whether the VirtualMedia collection is served under
// the Manager (underManager) or the System.
func (s *System) mediaPlaced(underManager bool) bool {
	switch s.q().Media {
	case MediaNone:
		return false
	case MediaUnderSystem:
		return !underManager
	case MediaUnderManager:
		return underManager
	}
	return true
}

// resetQuirksLocked refuses a Reset the way the vendor does, and applies a
// boot override staged in the Settings resource.
func (s *System) resetQuirksLocked(now time.Time, kind ResetType) error {
	q := s.q()
	if q.ResetDuringTransition && s.pend.active {
		return errILOState
	}
	if q.OnConflictAfterOff > 0 && kind == ResetOn && s.power == PowerOff && !s.offAt.IsZero() &&
		now.Before(s.offAt.Add(time.Duration(q.OnConflictAfterOff))) {
		return errOnConflict()
	}
	if p := s.bootPend; p != nil && kind != ResetNmi {
		s.boot = overBoot(s.boot, p.Target, p.Enabled, p.Mode)
		s.gen.system++
		s.bootPend = nil
	}
	return nil
}

// noteSettledLocked records what the quirks need when a transition
// completes: when the system reached Off, and the old state a cached read
// keeps showing.
func (s *System) noteSettledLocked(old PowerState, at time.Time) {
	if s.power == PowerOff && old != PowerOff {
		s.offAt = at
	}
	if d := s.q().StalePower; d > 0 && s.power != old {
		s.stalePower, s.staleUntil = old, at.Add(time.Duration(d))
	}
}

// staleInsertedUntil is when Inserted stops reading true after an eject
// made now (0: at once).
func (s *System) staleInsertedUntil() int64 {
	if d := s.q().StaleInserted; d > 0 {
		return s.now().Add(time.Duration(d)).UnixNano()
	}
	return 0
}

// patchBoot applies a Redfish PATCH of the System's Boot object with the
// vendor's rules; fields are the property names the body carried.
func (s *System) patchBoot(p BootOverridePatch, fields []string) error {
	q := s.q()
	if q.BootViaSettings {
		prop := "Boot"
		if len(fields) > 0 {
			prop = fields[0]
		}
		return errBootNotWritable(prop)
	}
	if q.BootPatchAll {
		for _, f := range []string{"BootSourceOverrideTarget", "BootSourceOverrideEnabled", "BootSourceOverrideMode"} {
			if !slices.Contains(fields, f) {
				return errPropertyMissing("Boot/" + f)
			}
		}
	}
	if q.PostWindow > 0 && s.inPOST(time.Duration(q.PostWindow)) {
		return errILOPost
	}
	if q.EnabledRevertsToOnce && p.Enabled == "" {
		p.Enabled = BootOnce
	}
	if err := s.validateBoot(p); err != nil {
		return err
	}
	if q.BootIgnored {
		return nil // answered 200, silently not applied
	}
	return s.SetBootOverride(p)
}

// inPOST reports whether the system is within window of its last boot.
func (s *System) inPOST(window time.Duration) bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked(now)
	return s.power == PowerOn && s.booted.Count > 0 && now.Before(s.booted.At.Add(window))
}

// stageBoot stages a boot override in the Settings resource
// (Quirks.BootViaSettings); the next Reset applies it.
func (s *System) stageBoot(p BootOverridePatch) error {
	if err := s.validateBoot(p); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var pend BootOverride
	if s.bootPend != nil {
		pend = *s.bootPend
	}
	pend = overBoot(pend, p.Target, p.Enabled, p.Mode)
	s.bootPend = &pend
	s.gen.system++
	return nil
}

// overBoot returns b with the non-empty target, enabled and mode laid over
// it (empty fields of a staged override are unset).
func overBoot(b BootOverride, target BootSource, enabled BootEnabled, mode BootMode) BootOverride {
	if target != "" {
		b.Target = target
	}
	if enabled != "" {
		b.Enabled = enabled
	}
	if mode != "" {
		b.Mode = mode
	}
	return b
}

// settingsView is the boot override the Settings resource shows: the
// staged one over the current one.
func (s *System) settingsView() (BootOverride, uint32) {
	v := s.view()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := v.boot
	if p := s.bootPend; p != nil {
		b = overBoot(b, p.Target, p.Enabled, p.Mode)
	}
	return b, v.gen.system
}

// checkIfMatch applies the vendor's If-Match rules to a PATCH.
func (s *System) checkIfMatch(ifMatch string) error {
	q := s.q()
	if q.IfMatchRequired && ifMatch == "" {
		return errPreconditionRequired
	}
	if q.WeakETagRefused && strings.Contains(ifMatch, "W/") {
		return errPrecondition
	}
	return nil
}

// actionQuirks refuses an action body the way the vendor does.
func (s *System) actionQuirks(k kind, body []byte) error {
	q := s.q()
	switch {
	case k == kVMEject && q.EjectNeedsBody && len(bytes.TrimSpace(body)) == 0:
		return errEjectNoBody
	case k == kVMInsert && q.InsertRefusesFlags:
		var req map[string]json.RawMessage
		if json.Unmarshal(body, &req) == nil {
			for _, p := range []string{"Inserted", "WriteProtected"} {
				if _, ok := req[p]; ok {
					return errParamNotSupported(p, "VirtualMedia.InsertMedia")
				}
			}
		}
	}
	return nil
}

// bmcPhase is where a BMC reset (Quirks.BMCResetRefuse/Unavailable)
// stands.
type bmcPhase uint8

const (
	bmcUp bmcPhase = iota
	bmcRefusing
	bmcUnavailable
)

// resetBMC starts a BMC reset if the quirks make Manager.Reset real; it
// reports whether one started.
func (s *System) resetBMC() bool {
	q := s.q()
	if q.BMCResetRefuse == 0 && q.BMCResetUnavailable == 0 {
		return false
	}
	s.bmcResetAt.Store(s.now().UnixNano())
	return true
}

// bmc returns the BMC's phase and, while unavailable, the seconds left.
func (s *System) bmc() (bmcPhase, int) {
	at := s.bmcResetAt.Load()
	if at == 0 {
		return bmcUp, 0
	}
	q := s.q()
	since := time.Duration(s.now().UnixNano() - at)
	switch {
	case since < time.Duration(q.BMCResetRefuse):
		return bmcRefusing, 0
	case since < time.Duration(q.BMCResetRefuse+q.BMCResetUnavailable):
		left := time.Duration(q.BMCResetRefuse+q.BMCResetUnavailable) - since
		return bmcUnavailable, int((left + time.Second - 1) / time.Second)
	}
	return bmcUp, 0
}

// sessionPredatesBMCReset reports whether a session opened at created
// died in a BMC reset of this system.
func (s *System) sessionPredatesBMCReset(created time.Time) bool {
	at := s.bmcResetAt.Load()
	return at != 0 && created.UnixNano() <= at
}
