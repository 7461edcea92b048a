package redfish

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/stmcginnis/gofish/common"
	"github.com/stmcginnis/gofish/redfish"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// system is a node's ComputerSystem as last read, with what gofish v0.20
// does not parse: the allowable values of the Reset action and of the boot
// override, and whether the boot mode is exposed at all.
type system struct {
	*redfish.ComputerSystem
	reset struct {
		Target  string   `json:"target"`
		Allowed []string `json:"ResetType@Redfish.AllowableValues"`
		Info    string   `json:"@Redfish.ActionInfo"`
	}
	boot struct {
		Targets []string `json:"BootSourceOverrideTarget@Redfish.AllowableValues"`
		Enabled []string `json:"BootSourceOverrideEnabled@Redfish.AllowableValues"`
		Modes   []string `json:"BootSourceOverrideMode@Redfish.AllowableValues"`
		Mode    *string  `json:"BootSourceOverrideMode"`
	}
	// etag is the @odata.etag the System was read with.
	etag string
	// settings is the System's @Redfish.Settings resource, where a BMC
	// that refuses a Boot PATCH on the System takes it.
	settings string
}

// systemPath returns the node's system: the one its driver_info names, or
// the BMC's only one (discovered once per client, as Ironic does).
func (cl *call) systemPath() (string, error) {
	if cl.t.systemPath != "" {
		return cl.t.systemPath, nil
	}
	cl.c.mu.Lock()
	p := cl.c.system
	cl.c.mu.Unlock()
	if p != "" {
		return p, nil
	}
	col, err := common.GetCollection(cl, systemsPath)
	if err != nil {
		return "", err
	}
	switch len(col.ItemLinks) {
	case 1:
		p = col.ItemLinks[0]
	case 0:
		return "", fmt.Errorf("%w: the BMC lists no system", drivers.ErrBMCRejected)
	default:
		return "", &drivers.InvalidInfoError{Driver: Name, Interface: drivers.PowerInterface, Problems: []string{
			fmt.Sprintf("the BMC manages %d systems %v: set %s to one of them", len(col.ItemLinks), col.ItemLinks, InfoSystemID),
		}}
	}
	cl.c.mu.Lock()
	cl.c.system = p
	cl.c.mu.Unlock()
	return p, nil
}

// system reads the node's ComputerSystem.
func (cl *call) system() (*system, error) {
	p, err := cl.systemPath()
	if err != nil {
		return nil, err
	}
	cs, err := redfish.GetComputerSystem(cl, p)
	if err != nil {
		return nil, err
	}
	s := &system{ComputerSystem: cs}
	var raw struct {
		Actions struct {
			Reset json.RawMessage `json:"#ComputerSystem.Reset"`
		}
		Boot     json.RawMessage
		ETag     string `json:"@odata.etag"`
		Settings struct {
			Object struct {
				ID string `json:"@odata.id"`
			} `json:"SettingsObject"`
		} `json:"@Redfish.Settings"`
	}
	if err := json.Unmarshal(cs.RawData, &raw); err != nil {
		return nil, err
	}
	s.etag, s.settings = raw.ETag, raw.Settings.Object.ID
	if raw.Actions.Reset != nil {
		if err := json.Unmarshal(raw.Actions.Reset, &s.reset); err != nil {
			return nil, err
		}
	}
	if raw.Boot != nil {
		if err := json.Unmarshal(raw.Boot, &s.boot); err != nil {
			return nil, err
		}
	}
	// Actions are sent without If-Match: the system's ETag changes with its
	// power state, and BMCs do not expect one on actions.
	cs.DisableEtagMatch(true)
	return s, nil
}

// standardResets is what a system allows when it lists nothing: Redfish
// says every value is then allowed.
var standardResets = []string{"On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi", "ForceOn", "PushPowerButton", "PowerCycle"}

// resetTypes returns the reset types the system allows, from the action's
// annotation or its @Redfish.ActionInfo resource.
func (cl *call) resetTypes(s *system) ([]string, error) {
	if s.reset.Target == "" {
		return nil, fmt.Errorf("%w: system %s has no ComputerSystem.Reset action", drivers.ErrUnsupported, s.ODataID)
	}
	if len(s.reset.Allowed) > 0 {
		return s.reset.Allowed, nil
	}
	if s.reset.Info != "" {
		v, err := cl.allowedFromActionInfo(s.reset.Info, "ResetType")
		if err != nil {
			return nil, err
		}
		if len(v) > 0 {
			return v, nil
		}
	}
	return standardResets, nil
}

// systemResets reads the system and the reset types it allows.
func (cl *call) systemResets() (*system, []string, error) {
	s, err := cl.system()
	if err != nil {
		return nil, nil, err
	}
	allowed, err := cl.resetTypes(s)
	return s, allowed, err
}

// doReset posts a reset of a type the system allows.
func (cl *call) doReset(s *system, allowed []string, rt redfish.ResetType) error {
	if !slices.Contains(allowed, string(rt)) {
		return rejected("reset type %s is not among those the system allows %v", rt, allowed)
	}
	if len(s.reset.Allowed) == 0 {
		// gofish checks the inline list only; ours may come from
		// ActionInfo, so post directly to the advertised target.
		resp, err := cl.exchangeJSON(http.MethodPost, s.reset.Target, map[string]string{"ResetType": string(rt)})
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	return s.Reset(rt)
}

// exchangeJSON sends a JSON body without If-Match.
func (cl *call) exchangeJSON(method, path string, payload any) (*http.Response, error) {
	return cl.withBody(method, path, payload, nil)
}
