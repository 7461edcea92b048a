package redfish

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/stmcginnis/gofish/redfish"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// bootChange is the boot override an operation wants; empty fields are left
// as the system has them.
type bootChange struct {
	Target  redfish.BootSourceOverrideTarget  `json:"BootSourceOverrideTarget,omitempty"`
	Enabled redfish.BootSourceOverrideEnabled `json:"BootSourceOverrideEnabled,omitempty"`
	Mode    redfish.BootSourceOverrideMode    `json:"BootSourceOverrideMode,omitempty"`
}

// over returns c with its empty fields taken from the system's override
// (the mode only where the system exposes one).
func (c bootChange) over(s *system) bootChange {
	if c.Target == "" {
		c.Target = s.Boot.BootSourceOverrideTarget
	}
	if c.Enabled == "" {
		c.Enabled = s.Boot.BootSourceOverrideEnabled
	}
	if c.Mode == "" && s.boot.Mode != nil {
		c.Mode = s.Boot.BootSourceOverrideMode
	}
	return c
}

// holds reports whether override b has every field c sets.
func (c bootChange) holds(b bootChange) bool {
	return (c.Target == "" || c.Target == b.Target) && (c.Enabled == "" || c.Enabled == b.Enabled) && (c.Mode == "" || c.Mode == b.Mode)
}

func bootOf(b redfish.Boot) bootChange {
	return bootChange{Target: b.BootSourceOverrideTarget, Enabled: b.BootSourceOverrideEnabled, Mode: b.BootSourceOverrideMode}
}

// setBoot reads the system, asks build for the change, and when the system
// does not hold it already sends it the way the BMC takes it (quirks.go):
// the minimal PATCH first; the full payload (target, enabled and mode) when
// the BMC asks for it or the read-back shows a field it did not ask to
// change moved; the @Redfish.Settings resource when the System refuses Boot;
// retried while the BMC is in POST. The result is read back and compared: a
// BMC that answers success without applying the change is an error. A 412
// (the system changed since it was read) reads it again, once.
func (cl *call) setBoot(build func(*system) (bootChange, error)) error {
	for attempt := 1; ; attempt++ {
		s, err := cl.system()
		if err != nil {
			return err
		}
		want, err := build(s)
		if err != nil {
			return err
		}
		if want.holds(bootOf(s.Boot)) {
			return nil
		}
		err = cl.sendBoot(s, want)
		var re *ResponseError
		if attempt == 1 && errors.As(err, &re) && re.Status == http.StatusPreconditionFailed {
			continue
		}
		return err
	}
}

// sendBoot sends want to the system s and confirms it.
func (cl *call) sendBoot(s *system, want bootChange) error {
	path, tag := s.ODataID, s.etag
	expect := want.over(s)
	body, full := want, false
	for {
		err := cl.retrying(siteBoot, func(rc *call) error {
			return rc.patch(path, map[string]bootChange{"Boot": body}, tag)
		})
		if err == nil {
			got, etag, rerr := cl.readBoot(path)
			switch {
			case rerr != nil:
				return rerr
			case got == expect || path != s.ODataID && expect.holds(got):
				return nil
			case !full && want.holds(got):
				// What was sent applied, but a field it left out moved
				// (Supermicro sets Enabled to Once): send everything.
				cl.note(behaviourEnabledReverted)
				body, full, tag = expect, true, etag
				continue
			}
			cl.note(behaviourBootReadBack)
			return fmt.Errorf("%w: the BMC accepted the boot override %+v but reads %+v", drivers.ErrBMCFailed, expect, got)
		}
		b, ok := react(siteBoot, err)
		switch {
		case ok && b.Do == fullBoot && !full:
			body, full = expect, true
		case ok && b.Do == viaSettings && path == s.ODataID && s.settings != "":
			path, tag = s.settings, ""
		default:
			return err
		}
		cl.note(b.Name)
	}
}

// readBoot reads the Boot object of the System or of its settings
// resource, and the ETag it was read with.
func (cl *call) readBoot(path string) (bootChange, string, error) {
	resp, err := cl.Get(path)
	if err != nil {
		return bootChange{}, "", err
	}
	defer resp.Body.Close()
	var v struct {
		Boot bootChange
		ETag string `json:"@odata.etag"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return bootChange{}, "", fmt.Errorf("%w: reading back the boot override: %v", drivers.ErrBMCFailed, err)
	}
	return v.Boot, v.ETag, nil
}
