package redfish

import (
	"context"
	"slices"

	"github.com/stmcginnis/gofish/redfish"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// bootTargets maps the agent's boot devices to Redfish override targets, as
// Ironic does. safe and wanboot have no Redfish equivalent.
var bootTargets = map[drivers.BootDevice]redfish.BootSourceOverrideTarget{
	drivers.BootPXE:      redfish.PxeBootSourceOverrideTarget,
	drivers.BootDisk:     redfish.HddBootSourceOverrideTarget,
	drivers.BootCDROM:    redfish.CdBootSourceOverrideTarget,
	drivers.BootBIOS:     redfish.BiosSetupBootSourceOverrideTarget,
	drivers.BootUSB:      redfish.UsbBootSourceOverrideTarget,
	drivers.BootUEFIHTTP: redfish.UefiHTTPBootSourceOverrideTarget,
}

// bootModes maps the agent's boot modes to BootSourceOverrideMode values.
var bootModes = map[drivers.BootMode]redfish.BootSourceOverrideMode{
	drivers.BootModeUEFI: redfish.UEFIBootSourceOverrideMode,
	drivers.BootModeBIOS: redfish.LegacyBootSourceOverrideMode,
}

// usbCd is the target some BMCs boot their virtual CD as (Supermicro).
const usbCd redfish.BootSourceOverrideTarget = "UsbCd"

func deviceOf(t redfish.BootSourceOverrideTarget) drivers.BootDevice {
	if t == usbCd {
		return drivers.BootCDROM
	}
	for dev, tt := range bootTargets {
		if tt == t {
			return dev
		}
	}
	return drivers.NoBootDevice
}

func modeOf(m redfish.BootSourceOverrideMode) drivers.BootMode {
	for mode, mm := range bootModes {
		if mm == m {
			return mode
		}
	}
	return drivers.NoBootMode
}

// BootDevice implements drivers.BootDeviceGetter: the override target while
// the override is enabled (Once or Continuous), else no device. Read-only.
func (d *Driver) BootDevice(ctx context.Context, n drivers.Node) (drivers.BootDeviceStatus, error) {
	var st drivers.BootDeviceStatus
	err := d.run(ctx, n, drivers.ManagementInterface, "get boot device", func(cl *call) error {
		s, err := cl.system()
		if err != nil {
			return err
		}
		persistent := s.Boot.BootSourceOverrideEnabled == redfish.ContinuousBootSourceOverrideEnabled
		st = drivers.BootDeviceStatus{Persistent: &persistent}
		if s.Boot.BootSourceOverrideEnabled != redfish.DisabledBootSourceOverrideEnabled {
			st.Device = deviceOf(s.Boot.BootSourceOverrideTarget)
		}
		if p, _ := cl.systemPath(); p != "" {
			if c, ok := cl.sticky(p); ok {
				// Persistent as far as the agent's power ons go (bootonce.go).
				persistent = true
				st = drivers.BootDeviceStatus{Device: deviceOf(c.Target), Persistent: &persistent}
			}
		}
		return nil
	})
	return st, err
}

// SupportedBootDevices implements drivers.BootDeviceGetter: the devices
// among the system's allowable override targets (every mapped one if it
// lists none). Read-only.
func (d *Driver) SupportedBootDevices(ctx context.Context, n drivers.Node) ([]drivers.BootDevice, error) {
	var out []drivers.BootDevice
	err := d.run(ctx, n, drivers.ManagementInterface, "list boot devices", func(cl *call) error {
		s, err := cl.system()
		if err != nil {
			return err
		}
		for _, dev := range drivers.BootDevices {
			if t, ok := bootTargets[dev]; ok && (len(s.boot.Targets) == 0 || slices.Contains(s.boot.Targets, string(t))) {
				out = append(out, dev)
			}
		}
		return nil
	})
	return out, err
}

// SetBootDevice implements drivers.BootDeviceSetter: a PATCH of the
// system's Boot override (target, Once or Continuous, and the mode if asked),
// sent and confirmed as setBoot describes. The virtual CD is asked for as
// UsbCd where the system allows UsbCd (quirks.go); a persistent override on
// a system that refuses Continuous is a Once override re-applied before each
// power on (bootonce.go). A system that already has the override gets no
// PATCH. Mutating; idempotent.
func (d *Driver) SetBootDevice(ctx context.Context, n drivers.Node, dev drivers.BootDevice, opts drivers.BootOptions) error {
	return d.run(ctx, n, drivers.ManagementInterface, "set boot device to "+string(dev), func(cl *call) error {
		target, ok := bootTargets[dev]
		if !ok {
			return unsupported("Redfish has no boot source for %q", dev)
		}
		enabled := redfish.OnceBootSourceOverrideEnabled
		if opts.Persistent {
			enabled = redfish.ContinuousBootSourceOverrideEnabled
		}
		path, err := cl.systemPath()
		if err != nil {
			return err
		}
		build := cl.buildBoot(target, &enabled, opts.Mode)
		var want bootChange
		apply := func(s *system) (bootChange, error) {
			if enabled == redfish.ContinuousBootSourceOverrideEnabled && s.refusesContinuous() {
				enabled = redfish.OnceBootSourceOverrideEnabled // bootonce.go
			}
			c, err := build(s)
			want = c
			return c, err
		}
		err = cl.setBoot(apply)
		if err != nil && enabled == redfish.ContinuousBootSourceOverrideEnabled && continuousRefused(err) {
			enabled = redfish.OnceBootSourceOverrideEnabled
			err = cl.setBoot(apply)
		}
		switch {
		case err != nil:
			return err
		case opts.Persistent && want.Enabled == redfish.OnceBootSourceOverrideEnabled:
			cl.note(behaviourOnceEachBoot)
			cl.stick(path, want)
		default:
			cl.unstick(path)
		}
		return nil
	})
}

// buildBoot returns the change that sets target with enabled (and mode) on
// a system, checked against what the system allows.
func (cl *call) buildBoot(target redfish.BootSourceOverrideTarget, enabled *redfish.BootSourceOverrideEnabled, mode drivers.BootMode) func(*system) (bootChange, error) {
	return func(s *system) (bootChange, error) {
		t := target
		if t == redfish.CdBootSourceOverrideTarget && slices.Contains(s.boot.Targets, string(usbCd)) {
			t = usbCd
			cl.note(behaviourUsbCd)
		}
		if len(s.boot.Targets) > 0 && !slices.Contains(s.boot.Targets, string(t)) {
			return bootChange{}, rejected("boot source %s is not among those the system allows %v", t, s.boot.Targets)
		}
		if len(s.boot.Enabled) > 0 && !slices.Contains(s.boot.Enabled, string(*enabled)) {
			return bootChange{}, rejected("override %s is not among those the system allows %v", *enabled, s.boot.Enabled)
		}
		c := bootChange{Target: t, Enabled: *enabled}
		if mode != drivers.NoBootMode {
			m, err := s.checkMode(mode)
			if err != nil {
				return bootChange{}, err
			}
			c.Mode = m
		}
		return c, nil
	}
}

// BootMode implements drivers.BootModeGetter: the system's
// BootSourceOverrideMode (NoBootMode where it exposes none). Read-only.
func (d *Driver) BootMode(ctx context.Context, n drivers.Node) (drivers.BootMode, error) {
	mode := drivers.NoBootMode
	err := d.run(ctx, n, drivers.ManagementInterface, "get boot mode", func(cl *call) error {
		s, err := cl.system()
		if err != nil {
			return err
		}
		mode = modeOf(s.Boot.BootSourceOverrideMode)
		return nil
	})
	return mode, err
}

// SetBootMode implements drivers.BootModeSetter with a PATCH of
// BootSourceOverrideMode, where the system exposes it, sent and confirmed as
// setBoot describes. Mutating; idempotent.
func (d *Driver) SetBootMode(ctx context.Context, n drivers.Node, mode drivers.BootMode) error {
	return d.run(ctx, n, drivers.ManagementInterface, "set boot mode to "+string(mode), func(cl *call) error {
		return cl.setBoot(func(s *system) (bootChange, error) {
			m, err := s.checkMode(mode)
			return bootChange{Mode: m}, err
		})
	})
}

// checkMode maps mode and checks that the system exposes and allows it.
func (s *system) checkMode(mode drivers.BootMode) (redfish.BootSourceOverrideMode, error) {
	m, ok := bootModes[mode]
	if !ok {
		return "", unsupported("Redfish has no boot mode %q", mode)
	}
	if s.boot.Mode == nil {
		return "", unsupported("the system does not expose BootSourceOverrideMode")
	}
	if len(s.boot.Modes) > 0 && !slices.Contains(s.boot.Modes, string(m)) {
		return "", rejected("boot mode %s is not among those the system allows %v", m, s.boot.Modes)
	}
	return m, nil
}
