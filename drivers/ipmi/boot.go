package ipmi

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// bootDevices are the devices IPMI can select (Set System Boot Options,
// parameter 5) with the boot device selector of each (IPMI v2.0 Table
// 28-14, data 2 bits 5:2) and ipmitool's name for it.
var bootDevices = []bootDev{
	{drivers.BootPXE, 0x1, "pxe"},
	{drivers.BootDisk, 0x2, "disk"},
	{drivers.BootSafe, 0x3, "safe"},
	{drivers.BootCDROM, 0x5, "cdrom"},
	{drivers.BootBIOS, 0x6, "bios"},
}

type bootDev struct {
	dev      drivers.BootDevice
	selector byte
	word     string
}

// SupportedBootDevices implements drivers.BootDeviceGetter: pxe, disk,
// safe, cdrom and bios, as Ironic's ipmitool driver.
func (d *Driver) SupportedBootDevices(ctx context.Context, n drivers.Node) ([]drivers.BootDevice, error) {
	out := make([]drivers.BootDevice, len(bootDevices))
	for i, b := range bootDevices {
		out[i] = b.dev
	}
	return out, nil
}

// SetBootDevice implements drivers.BootDeviceSetter with
// `chassis bootdev DEVICE options=persistent,efiboot` (as bmclib sends it):
// persistent when opts.Persistent, the EFI bit when opts.Mode is uefi (a
// legacy boot otherwise), then reads the flags back (two ipmitool runs).
// Idempotent.
func (d *Driver) SetBootDevice(ctx context.Context, n drivers.Node, dev drivers.BootDevice, opts drivers.BootOptions) error {
	b, err := d.bmcOf(n, drivers.ManagementInterface)
	if err != nil {
		return err
	}
	op := fmt.Sprintf("set boot device to %s", dev)
	i := slices.IndexFunc(bootDevices, func(x bootDev) bool { return x.dev == dev })
	if i < 0 {
		return &drivers.DriverError{Driver: Name, Op: op, BMC: b.addr(),
			Err: fmt.Errorf("%w: IPMI cannot select boot device %q", drivers.ErrInvalidArgument, dev)}
	}
	args := []string{"chassis", "bootdev", bootDevices[i].word}
	var flags []string
	if opts.Persistent {
		flags = append(flags, "persistent")
	}
	if opts.Mode == drivers.BootModeUEFI {
		flags = append(flags, "efiboot")
	}
	if len(flags) > 0 {
		args = append(args, "options="+strings.Join(flags, ","))
	}
	if _, err := d.raw(ctx, b, op, args...); err != nil {
		return err
	}
	// Read back: a BMC that answers success without storing the flags is
	// an error, not a boot from the wrong device later.
	st, err := d.BootDevice(ctx, n)
	if err != nil {
		return err
	}
	if st.Device != dev || st.Persistent != nil && *st.Persistent != opts.Persistent {
		return &drivers.DriverError{Driver: Name, Op: op, BMC: b.addr(), Err: &cmdError{kind: drivers.ErrBMCFailed,
			msg: fmt.Sprintf("the BMC accepted boot device %s but reads %s", dev, describeBoot(st))}}
	}
	return nil
}

func describeBoot(st drivers.BootDeviceStatus) string {
	s := string(st.Device)
	if s == "" {
		s = "no device"
	}
	if st.Persistent != nil && *st.Persistent {
		s += " (persistent)"
	}
	return s
}

// BootDevice implements drivers.BootDeviceGetter: `chassis bootparam get 5`
// (bmclib's provider has no boot device getter, so the driver runs ipmitool
// itself, the way bmclib does). Like Ironic, it reports the device selector
// even when the BMC leaves the boot-flags-valid bit clear (ipmi_sim never
// sets it); Persistent is reported only when the bit is set, since without
// it the BMC does not say.
func (d *Driver) BootDevice(ctx context.Context, n drivers.Node) (drivers.BootDeviceStatus, error) {
	b, err := d.bmcOf(n, drivers.ManagementInterface)
	if err != nil {
		return drivers.BootDeviceStatus{}, err
	}
	out, err := d.raw(ctx, b, "get boot device", "chassis", "bootparam", "get", "5")
	if err != nil {
		return drivers.BootDeviceStatus{}, err
	}
	st, perr := parseBootParam(out)
	if perr != nil {
		return drivers.BootDeviceStatus{}, &drivers.DriverError{Driver: Name, Op: "get boot device", BMC: b.addr(),
			Err: &cmdError{kind: drivers.ErrBMCFailed, msg: perr.Error()}}
	}
	return st, nil
}

// parseBootParam reads the "Boot parameter data: HEX" line of ipmitool's
// `chassis bootparam get 5`: data 1 bit 7 valid, bit 6 persistent; data 2
// bits 5:2 the device selector.
func parseBootParam(out string) (drivers.BootDeviceStatus, error) {
	_, rest, ok := strings.Cut(out, "Boot parameter data: ")
	if !ok {
		return drivers.BootDeviceStatus{}, fmt.Errorf("no boot parameter data in %q", oneLine(out))
	}
	hex := strings.Fields(rest)
	if len(hex) == 0 || len(hex[0]) < 4 {
		return drivers.BootDeviceStatus{}, fmt.Errorf("short boot parameter data in %q", oneLine(out))
	}
	b0, err0 := strconv.ParseUint(hex[0][0:2], 16, 8)
	b1, err1 := strconv.ParseUint(hex[0][2:4], 16, 8)
	if err0 != nil || err1 != nil {
		return drivers.BootDeviceStatus{}, fmt.Errorf("bad boot parameter data %q", hex[0])
	}
	var st drivers.BootDeviceStatus
	sel := byte(b1>>2) & 0x0f
	for _, bd := range bootDevices {
		if bd.selector == sel {
			st.Device = bd.dev
		}
	}
	if b0&0x80 != 0 {
		p := b0&0x40 != 0
		st.Persistent = &p
	}
	return st, nil
}
