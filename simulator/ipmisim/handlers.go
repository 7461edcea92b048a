package ipmisim

import (
	"context"
	"fmt"
	"time"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmc-agent/bmc-agent/simulator"
)

// face is the name the IPMI face gives its mutations in the witness log.
const face = "ipmi"

// controls maps Chassis Control actions (IPMI v2.0 Table 28-4) to the
// simulator's resets. The diagnostic interrupt is an NMI.
var controls = map[byte]struct {
	name  string
	reset simulator.ResetType
}{
	0x00: {"power down", simulator.ResetForceOff},
	0x01: {"power up", simulator.ResetOn},
	0x02: {"power cycle", simulator.ResetPowerCycle},
	0x03: {"hard reset", simulator.ResetForceRestart},
	0x04: {"diagnostic interrupt", simulator.ResetNmi},
	0x05: {"soft shutdown", simulator.ResetGracefulShutdown},
}

// chassisControl implements Chassis Control (Chassis 0x02) on the shared
// system: power down, up and cycle, hard reset, soft shutdown (which the
// simulated OS may ignore, see System.SetOSCooperates) and diagnostic
// interrupt (counted as an NMI, refused while the system is off).
func (s *sysBMC) chassisControl(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if len(req) < 1 {
		return nil, types.CodeRequestDataLengthInvalid, nil
	}
	c, ok := controls[req[0]&0x0f]
	if !ok {
		return nil, types.CodeRequestDataFieldInvalid, nil
	}
	m := s.sys.BeginMutation(face, "ChassisControl", c.name)
	cc := types.CodeOK
	switch {
	case c.reset == simulator.ResetNmi && s.sys.PowerState() != simulator.PowerOn:
		cc = types.CodeNotSupported // "Command not supported in present state"
	default:
		if err := s.sys.Reset(c.reset); err != nil {
			cc = types.CodeRequestDataFieldInvalid
		}
	}
	m.End(int(cc))
	return nil, cc, nil
}

// Boot device selectors (IPMI v2.0 Table 28-14, parameter 5, data 2 bits
// 5:2) and the simulator's boot sources. Floppy/primary removable media is
// the USB stick; "hard drive, safe mode" has no Redfish counterpart and is
// refused.
var selectors = []struct {
	sel byte
	src simulator.BootSource
}{
	{0x1, simulator.BootPxe},
	{0x2, simulator.BootHdd},
	{0x5, simulator.BootCd},
	{0x6, simulator.BootBiosSetup},
	{0xf, simulator.BootUsb},
}

// Boot option parameters the face knows.
const (
	paramSetInProgress  = 0
	paramValidBitClear  = 3
	paramBootInfoAck    = 4
	paramBootFlags      = 5
	bootFlagsDataLength = 5
)

// setBootOptions implements Set System Boot Options (Chassis 0x08). The
// boot flags (parameter 5) set the system's boot override: valid bit clear
// disables it; the persistent bit makes it Continuous, else Once; the EFI
// bit chooses UEFI, else Legacy. Set-in-progress, the valid-bit-clearing
// policy and the boot info acknowledge are accepted and not kept.
func (s *sysBMC) setBootOptions(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if len(req) < 1 {
		return nil, types.CodeRequestDataLengthInvalid, nil
	}
	switch req[0] & 0x7f {
	case paramSetInProgress, paramValidBitClear, paramBootInfoAck:
		return nil, types.CodeOK, nil
	case paramBootFlags:
	default:
		return nil, types.CodeParameterNotSupported, nil
	}
	data := req[1:]
	if len(data) < bootFlagsDataLength {
		return nil, types.CodeRequestDataLengthInvalid, nil
	}
	p, detail, cc := bootPatch(data)
	m := s.sys.BeginMutation(face, "SetBootOptions", detail)
	if cc == types.CodeOK {
		if err := s.sys.SetBootOverride(p); err != nil {
			cc = types.CodeRequestDataFieldInvalid
		}
	}
	m.End(int(cc))
	return nil, cc, nil
}

// bootPatch reads boot flags data into a boot override change.
func bootPatch(data []byte) (simulator.BootOverridePatch, string, types.CompletionCode) {
	if data[0]&0x80 == 0 {
		return simulator.BootOverridePatch{Enabled: simulator.BootDisabled}, "Disabled", types.CodeOK
	}
	p := simulator.BootOverridePatch{Enabled: simulator.BootOnce, Mode: simulator.BootModeLegacy}
	if data[0]&0x40 != 0 {
		p.Enabled = simulator.BootContinuous
	}
	if data[0]&0x20 != 0 {
		p.Mode = simulator.BootModeUEFI
	}
	sel := (data[1] >> 2) & 0x0f
	if sel == 0 {
		// Valid flags without a device: the BIOS boots as usual.
		return simulator.BootOverridePatch{Target: simulator.BootNone, Enabled: simulator.BootDisabled, Mode: p.Mode}, "None", types.CodeOK
	}
	for _, x := range selectors {
		if x.sel == sel {
			p.Target = x.src
			return p, fmt.Sprintf("%s %s %s", p.Target, p.Enabled, p.Mode), types.CodeOK
		}
	}
	return p, fmt.Sprintf("selector %#x", sel), types.CodeRequestDataFieldInvalid
}

// getBootOptions implements Get System Boot Options (Chassis 0x09) for the
// boot flags, read from the system's boot override: what a Redfish client
// set shows here too.
func (s *sysBMC) getBootOptions(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if len(req) < 1 {
		return nil, types.CodeRequestDataLengthInvalid, nil
	}
	if req[0]&0x7f != paramBootFlags {
		return nil, types.CodeParameterNotSupported, nil
	}
	return append([]byte{0x01, paramBootFlags}, bootFlags(s.sys.BootOverride())...), types.CodeOK, nil
}

// bootFlags renders a boot override as boot flags data (5 bytes).
func bootFlags(o simulator.BootOverride) []byte {
	data := make([]byte, bootFlagsDataLength)
	if o.Mode == simulator.BootModeUEFI {
		data[0] |= 0x20
	}
	if o.Enabled == simulator.BootDisabled {
		return data
	}
	for _, x := range selectors {
		if x.src == o.Target {
			data[0] |= 0x80
			if o.Enabled == simulator.BootContinuous {
				data[0] |= 0x40
			}
			data[1] = x.sel << 2
		}
	}
	return data
}

// bmcReset implements Cold Reset and Warm Reset (App 0x02, 0x03): the BMC
// answers, then keeps silent for Config.BMCResetTime as it reboots. The
// host's power is not touched.
func (s *sysBMC) bmcReset(_ context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	m := s.sys.BeginMutation(face, "BMCReset", hctx.Command.Name)
	s.resets.Add(1)
	s.sys.BMCReset() // the BMC's event subscriptions are lost with it
	if d := s.f.cfg.BMCResetTime; d > 0 {
		s.silentUntil.Store(time.Now().Add(d).UnixNano())
	}
	m.End(int(types.CodeOK))
	return nil, types.CodeOK, nil
}
