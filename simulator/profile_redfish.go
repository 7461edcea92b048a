package simulator

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// This file is where Quirks meet the Redfish face beyond one system's
// state: sessions and a BMC reset. Which quirks exist is in profile.go.

// capLocked refuses a session beyond sys's Quirks.SessionCap with iDRAC's
// RAC0218 answer. Expired sessions are swept first, as a BMC would time
// them out.
func (st *sessionStore) capLocked(sys *System, now time.Time) error {
	limit := sys.q().SessionCap
	if limit <= 0 {
		return nil
	}
	n := 0
	for _, s := range st.byID {
		if s.sys == sys && !st.expired(s, now) {
			n++
		}
	}
	if n >= limit {
		return errRAC0218
	}
	return nil
}

// removeFor ends every session opened on sys's own port (a BMC reset).
func (st *sessionStore) removeFor(sys *System) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for id, s := range st.byID {
		if s.sys == sys {
			delete(st.byID, id)
			delete(st.byToken, s.token)
		}
	}
}

// systemOf is the system a request is for: the port's, else the route's.
func (h *handler) systemOf(rt route) *System {
	if h.scope != nil {
		return h.scope
	}
	return rt.sys
}

// bmcResetting answers a request to a BMC that is resetting
// (Quirks.BMCResetRefuse/Unavailable): the connection is reset, or 503 with
// Retry-After. It reports whether it answered.
func (h *handler) bmcResetting(w http.ResponseWriter, rt route) bool {
	sys := h.systemOf(rt)
	if sys == nil {
		return false
	}
	switch phase, left := sys.bmc(); phase {
	case bmcRefusing:
		abortConn(w, true)
		return true
	case bmcUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(left))
		h.writeError(w, &httpError{status: http.StatusServiceUnavailable, msgID: "ServiceTemporarilyUnavailable",
			msg: "The service is temporarily unavailable. Retry in " + strconv.Itoa(left) + " seconds."})
		return true
	}
	return false
}

// diedInBMCReset reports whether a session was opened before the last BMC
// reset of the system the request is for; such a session is gone.
func (h *handler) diedInBMCReset(sess *session, rt route) bool {
	sys := h.systemOf(rt)
	return sys != nil && sys.sessionPredatesBMCReset(sess.created)
}

// bmcRefusing reports whether the system's BMC refuses connections now.
func (s *System) bmcRefusing() bool {
	phase, _ := s.bmc()
	return phase == bmcRefusing
}

// patchSystemSettings stages Boot in the System's settings resource
// (Quirks.BootViaSettings).
func patchSystemSettings(sys *System, props map[string]json.RawMessage) error {
	for k, v := range props {
		if k != "Boot" {
			return errPropertyUnknown(k)
		}
		var b struct {
			BootSourceOverrideTarget  BootSource
			BootSourceOverrideEnabled BootEnabled
			BootSourceOverrideMode    BootMode
		}
		if err := json.Unmarshal(v, &b); err != nil {
			return errMalformedJSON
		}
		return sys.stageBoot(BootOverridePatch{Target: b.BootSourceOverrideTarget, Enabled: b.BootSourceOverrideEnabled, Mode: b.BootSourceOverrideMode})
	}
	return errActionParamMissing("Settings", "Boot")
}
