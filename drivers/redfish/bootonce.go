package redfish

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/stmcginnis/gofish/redfish"
)

// A BMC that refuses a Continuous boot override (it lists only Once in
// BootSourceOverrideEnabled@Redfish.AllowableValues, or answers 400 naming
// Continuous) gets a Once override instead, re-applied before every power
// on the agent makes, as Ironic does: "continuous boot device settings have
// been removed from Redfish, and some vendors stopped supporting it before
// an alternative was provided. As a work around, use one-time boot and
// restore the boot device on every reboot via RedfishPower"
// (ironic/drivers/modules/redfish/management.py, _set_boot_device; release
// note redfish-sadness). The override to restore is kept per system in the
// BMC's client, so it lasts while the agent runs.

// behaviourOnceEachBoot names the behaviour in Stats.Behaviours and docs.
const behaviourOnceEachBoot = "continuous-as-once-each-boot"

// refusesContinuous reports whether the system says it takes no Continuous
// override.
func (s *system) refusesContinuous() bool {
	return len(s.boot.Enabled) > 0 && !slices.Contains(s.boot.Enabled, string(redfish.ContinuousBootSourceOverrideEnabled))
}

// continuousRefused reports whether err is a 400 to a Continuous override.
func continuousRefused(err error) bool {
	var r *ResponseError
	return errors.As(err, &r) && r.Status == http.StatusBadRequest &&
		(strings.Contains(r.Message, "Continuous") || idIs(r, "PropertyValueNotInList") && strings.Contains(r.Message, "BootSourceOverrideEnabled"))
}

// stick keeps the override to restore before each power on of the system.
func (cl *call) stick(path string, c bootChange) { cl.c.sticky.Store(path, c) }

// unstick forgets it (a boot device set by other means replaces it).
func (cl *call) unstick(path string) { cl.c.sticky.Delete(path) }

// sticky returns the override kept for the system, if any.
func (cl *call) sticky(path string) (bootChange, bool) {
	v, ok := cl.c.sticky.Load(path)
	if !ok {
		return bootChange{}, false
	}
	return v.(bootChange), true
}

// reapplyOnce sets the kept Once override again before a power on.
func (cl *call) reapplyOnce() error {
	path, err := cl.systemPath()
	if err != nil {
		return err
	}
	c, ok := cl.sticky(path)
	if !ok {
		return nil
	}
	cl.note(behaviourOnceEachBoot)
	return cl.setBoot(func(*system) (bootChange, error) { return c, nil })
}

// powersOn reports whether a reset type ends with the system booting.
func powersOn(rt redfish.ResetType) bool {
	switch rt {
	case redfish.OnResetType, redfish.ForceOnResetType, redfish.ForceRestartResetType,
		redfish.GracefulRestartResetType, redfish.PowerCycleResetType:
		return true
	}
	return false
}
