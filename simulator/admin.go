package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// serveAdmin answers the admin endpoint under /sim/: JSON, no
// authentication (the simulator is meant for loopback), never faulted.
//
//	GET    /sim                      summary
//	GET    /sim/systems              ids and URLs
//	GET    /sim/systems/{id}         state snapshot (Status) with URL
//	PATCH  /sim/systems/{id}         set PowerState, OSCooperates, Username+Password
//	GET    /sim/systems/{id}/fault   the system's own fault
//	PUT    /sim/systems/{id}/fault   set it
//	DELETE /sim/systems/{id}/fault   remove it (the fleet's applies again)
//	GET    /sim/systems/{id}/quirks  the system's profile and vendor behaviour switches
//	PUT    /sim/systems/{id}/quirks  replace the switches (see Quirks)
//	PATCH  /sim/systems/{id}/quirks  change only the switches given
//	GET    /sim/profiles             every profile with its ids and default switches
//	GET    /sim/systems/{id}/telemetry  sensor readings now (Telemetry) and failed parts
//	PUT    /sim/systems/{id}/parts/{part}  make a sensor or power supply fail: {"Health": "Critical"}
//	DELETE /sim/systems/{id}/parts/{part}  make it recover
//	GET    /sim/systems/{id}/log     overlap count and request log
//	DELETE /sim/systems/{id}/log     clear them
//	GET    /sim/fault                the fleet-wide fault
//	PUT    /sim/fault                set it
//	DELETE /sim/fault                clear it
//	GET    /sim/overlaps             overlap counts of systems that have any
//	DELETE /sim/overlaps             clear every system's overlaps and log
func (s *Simulator) serveAdmin(w http.ResponseWriter, r *http.Request) {
	s.admin.ServeHTTP(w, r)
}

func (s *Simulator) adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sim", s.adminSummary)
	mux.HandleFunc("GET /sim/{$}", s.adminSummary)
	mux.HandleFunc("GET /sim/systems", func(w http.ResponseWriter, _ *http.Request) {
		type member struct{ ID, URL, Profile string }
		out := make([]member, len(s.systems))
		for i, sys := range s.systems {
			out[i] = member{sys.id, s.SystemURL(sys.id), sys.Profile()}
		}
		writeAdmin(w, http.StatusOK, map[string]any{"Count": len(out), "Members": out})
	})
	mux.HandleFunc("GET /sim/systems/{id}", s.withSystem(func(w http.ResponseWriter, _ *http.Request, sys *System) {
		writeAdmin(w, http.StatusOK, struct {
			Status
			URL string
		}{sys.Status(), s.SystemURL(sys.id)})
	}))
	mux.HandleFunc("PATCH /sim/systems/{id}", s.withSystem(s.adminPatchSystem))
	mux.HandleFunc("GET /sim/systems/{id}/fault", s.withSystem(func(w http.ResponseWriter, _ *http.Request, sys *System) {
		f, own := sys.OwnFault()
		writeAdmin(w, http.StatusOK, map[string]any{"Own": own, "Fault": f, "Effective": sys.Fault()})
	}))
	mux.HandleFunc("PUT /sim/systems/{id}/fault", s.withSystem(func(w http.ResponseWriter, r *http.Request, sys *System) {
		var f Fault
		if !readAdmin(w, r, &f) {
			return
		}
		if err := sys.SetFault(f); err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		s.log.Info("fault set", "system", sys.id, "fault", f)
		writeAdmin(w, http.StatusOK, f)
	}))
	mux.HandleFunc("DELETE /sim/systems/{id}/fault", s.withSystem(func(w http.ResponseWriter, _ *http.Request, sys *System) {
		sys.ClearFault()
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("GET /sim/systems/{id}/quirks", s.withSystem(func(w http.ResponseWriter, _ *http.Request, sys *System) {
		writeAdmin(w, http.StatusOK, map[string]any{"Profile": sys.Profile(), "Quirks": sys.Quirks()})
	}))
	mux.HandleFunc("PUT /sim/systems/{id}/quirks", s.withSystem(s.adminSetQuirks(false)))
	mux.HandleFunc("PATCH /sim/systems/{id}/quirks", s.withSystem(s.adminSetQuirks(true)))
	mux.HandleFunc("GET /sim/profiles", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, Profiles())
	})
	mux.HandleFunc("GET /sim/systems/{id}/telemetry", s.withSystem(func(w http.ResponseWriter, _ *http.Request, sys *System) {
		writeAdmin(w, http.StatusOK, struct {
			Telemetry
			FailedParts map[string]string `json:",omitempty"`
		}{sys.Telemetry(), sys.PartHealth()})
	}))
	mux.HandleFunc("PUT /sim/systems/{id}/parts/{part}", s.withSystem(func(w http.ResponseWriter, r *http.Request, sys *System) {
		var body struct{ Health string }
		if !readAdmin(w, r, &body) {
			return
		}
		s.setPart(w, sys, r.PathValue("part"), body.Health)
	}))
	mux.HandleFunc("DELETE /sim/systems/{id}/parts/{part}", s.withSystem(func(w http.ResponseWriter, r *http.Request, sys *System) {
		s.setPart(w, sys, r.PathValue("part"), HealthOK)
	}))
	mux.HandleFunc("GET /sim/systems/{id}/log", s.withSystem(func(w http.ResponseWriter, _ *http.Request, sys *System) {
		writeAdmin(w, http.StatusOK, map[string]any{"Overlaps": sys.Overlaps(), "Entries": sys.RequestLog()})
	}))
	mux.HandleFunc("DELETE /sim/systems/{id}/log", s.withSystem(func(w http.ResponseWriter, _ *http.Request, sys *System) {
		sys.ResetWitness()
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("GET /sim/fault", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, s.FleetFault())
	})
	mux.HandleFunc("PUT /sim/fault", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if !readAdmin(w, r, &f) {
			return
		}
		if err := s.SetFleetFault(f); err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		s.log.Info("fleet fault set", "fault", f)
		writeAdmin(w, http.StatusOK, f)
	})
	mux.HandleFunc("DELETE /sim/fault", func(w http.ResponseWriter, _ *http.Request) {
		_ = s.SetFleetFault(Fault{})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /sim/overlaps", func(w http.ResponseWriter, _ *http.Request) {
		var total int64
		per := map[string]int64{}
		for _, sys := range s.systems {
			if n := sys.Overlaps(); n > 0 {
				per[sys.id] = n
				total += n
			}
		}
		writeAdmin(w, http.StatusOK, map[string]any{"Total": total, "Systems": per})
	})
	mux.HandleFunc("DELETE /sim/overlaps", func(w http.ResponseWriter, _ *http.Request) {
		for _, sys := range s.systems {
			sys.ResetWitness()
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/sim/", func(w http.ResponseWriter, _ *http.Request) {
		writeAdminError(w, http.StatusNotFound, errors.New("no such admin resource"))
	})
	return mux
}

func (s *Simulator) adminSummary(w http.ResponseWriter, _ *http.Request) {
	writeAdmin(w, http.StatusOK, map[string]any{
		"Systems":       len(s.systems),
		"URL":           s.URL(),
		"Mockup":        s.cfg.MockupDir,
		"PowerDelay":    s.cfg.PowerDelay.String(),
		"PortPerSystem": s.cfg.PortPerSystem,
		"Sessions":      s.sessions.count(),
		"FleetFault":    s.FleetFault(),
		"Profiles":      s.profileCounts(),
	})
}

// profileCounts counts the systems of each profile.
func (s *Simulator) profileCounts() map[string]int {
	out := map[string]int{}
	for _, sys := range s.systems {
		out[sys.Profile()]++
	}
	return out
}

// setPart sets a part's health and answers with the failed parts.
func (s *Simulator) setPart(w http.ResponseWriter, sys *System, part, health string) {
	if err := sys.SetPartHealth(part, health); err != nil {
		writeAdminError(w, http.StatusBadRequest, err)
		return
	}
	s.log.Info("part health set", "system", sys.id, "part", part, "health", health)
	writeAdmin(w, http.StatusOK, map[string]any{"FailedParts": sys.PartHealth()})
}

// adminSetQuirks replaces a system's quirks (PUT) or changes the ones the
// body names (PATCH, merged over the current ones).
func (s *Simulator) adminSetQuirks(merge bool) func(http.ResponseWriter, *http.Request, *System) {
	return func(w http.ResponseWriter, r *http.Request, sys *System) {
		var q Quirks
		if merge {
			q = sys.Quirks()
		}
		if !readAdmin(w, r, &q) {
			return
		}
		if err := sys.SetQuirks(q); err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		s.log.Info("quirks set", "system", sys.id, "quirks", q)
		writeAdmin(w, http.StatusOK, map[string]any{"Profile": sys.Profile(), "Quirks": sys.Quirks()})
	}
}

// adminPatch is the body of PATCH /sim/systems/{id}.
type adminPatch struct {
	PowerState   *PowerState
	OSCooperates *bool
	Username     *string
	Password     *string
}

func (s *Simulator) adminPatchSystem(w http.ResponseWriter, r *http.Request, sys *System) {
	var p adminPatch
	if !readAdmin(w, r, &p) {
		return
	}
	if (p.Username == nil) != (p.Password == nil) {
		writeAdminError(w, http.StatusBadRequest, errors.New("Username and Password go together"))
		return
	}
	if p.PowerState != nil {
		if err := sys.SetPowerState(*p.PowerState); err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
	}
	if p.OSCooperates != nil {
		sys.SetOSCooperates(*p.OSCooperates)
	}
	if p.Username != nil {
		sys.SetCredentials(*p.Username, *p.Password)
		s.log.Info("credentials changed", "system", sys.id, "user", *p.Username)
	}
	writeAdmin(w, http.StatusOK, sys.Status())
}

func (s *Simulator) withSystem(fn func(http.ResponseWriter, *http.Request, *System)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sys, err := s.lookup(r.PathValue("id"))
		if err != nil {
			writeAdminError(w, http.StatusNotFound, err)
			return
		}
		fn(w, r, sys)
	}
}

func readAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	}
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

func writeAdmin(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeAdminError(w http.ResponseWriter, status int, err error) {
	writeAdmin(w, status, map[string]string{"error": err.Error()})
}
