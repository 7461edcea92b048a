package fake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Name is the name the fake driver registers under.
const Name = "fake"

// driver_info keys the fake driver honours.
const (
	// InfoDelay is a Go duration ("250ms") every call of the node waits.
	InfoDelay = "fake_delay"
	// InfoError makes every call of the node fail with this message.
	InfoError = "fake_error"
)

// Fault is what Inject makes a node's calls do.
type Fault struct {
	// Delay is waited before each call (the context can cut it short).
	Delay time.Duration
	// Err, when set, is returned by each call after the delay.
	Err error
}

// Driver is the fake driver. The zero value is not usable; call New.
type Driver struct {
	mu       sync.Mutex
	machines map[string]*machine
	faults   map[string]Fault
	calls    map[string]int
}

type machine struct {
	power      drivers.PowerState
	device     drivers.BootDevice
	persistent bool
	mode       drivers.BootMode
	media      []drivers.Media
	nmis       int
	health     drivers.Health              // the health rollup Telemetry reports
	telemetry  *drivers.Telemetry          // what Telemetry reports, if SetTelemetry fixed it
	subs       []drivers.EventSubscription // events.go
	subSeq     int
}

// New returns a fake driver with no nodes; a node springs into being, powered
// off, on its first call.
func New() *Driver {
	return &Driver{
		machines: make(map[string]*machine),
		faults:   make(map[string]Fault),
		calls:    make(map[string]int),
	}
}

// Name implements drivers.Driver.
func (d *Driver) Name() string { return Name }

// Validate implements drivers.Driver: the fake needs nothing, but checks the
// format of its own keys.
func (d *Driver) Validate(iface drivers.Interface, n drivers.Node) error {
	var p drivers.Problems
	if s, ok := n.Info.String(InfoDelay); ok {
		if _, err := time.ParseDuration(s); err != nil {
			p.Addf("%s must be a duration like 250ms, got %q", InfoDelay, s)
		}
	}
	if s, ok := n.Info.String(InfoSensors); ok {
		if v, err := strconv.Atoi(s); err != nil || v < 0 || v > MaxSensors {
			p.Addf("%s must be a number of sensors from 0 to %d, got %q", InfoSensors, MaxSensors, s)
		}
	}
	return p.Err(Name, iface)
}

// Inject makes every later call for the node with uuid behave as f; the zero
// Fault clears it.
func (d *Driver) Inject(uuid string, f Fault) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f == (Fault{}) {
		delete(d.faults, uuid)
		return
	}
	d.faults[uuid] = f
}

// Calls returns how many calls for the node reached the driver.
func (d *Driver) Calls(uuid string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[uuid]
}

// State returns a copy of the node's simulated state, for assertions.
func (d *Driver) State(uuid string) (power drivers.PowerState, dev drivers.BootDeviceStatus, media []drivers.Media) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.machineLocked(uuid)
	p := m.persistent
	return m.power, drivers.BootDeviceStatus{Device: m.device, Persistent: &p}, slices.Clone(m.media)
}

// SetPower sets a node's power state as if it changed out of band.
func (d *Driver) SetPower(uuid string, st drivers.PowerState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.machineLocked(uuid).power = st
}

func (d *Driver) machineLocked(uuid string) *machine {
	m, ok := d.machines[uuid]
	if !ok {
		m = &machine{
			power: drivers.PowerOff,
			mode:  drivers.BootModeUEFI,
			media: []drivers.Media{
				{ID: "Cd", Types: []drivers.MediaType{drivers.MediaCD}},
				{ID: "Usb", Types: []drivers.MediaType{drivers.MediaUSB, drivers.MediaFloppy}},
			},
		}
		d.machines[uuid] = m
	}
	return m
}

// enter counts the call, applies faults and returns the node's machine with
// the driver locked; the caller must call d.mu.Unlock.
func (d *Driver) enter(ctx context.Context, n drivers.Node, op string) (*machine, error) {
	d.mu.Lock()
	d.calls[n.UUID]++
	f := d.faults[n.UUID]
	d.mu.Unlock()

	if s, ok := n.Info.String(InfoDelay); ok {
		if v, err := time.ParseDuration(s); err == nil && v > f.Delay {
			f.Delay = v
		}
	}
	if msg, ok := n.Info.String(InfoError); ok && msg != "" && f.Err == nil {
		f.Err = fmt.Errorf("%w: %s", drivers.ErrBMCFailed, msg)
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, d.wrap(n, op, fmt.Errorf("%w: %w", drivers.ErrBMCTimeout, ctx.Err()))
		case <-t.C:
		}
	}
	if f.Err != nil {
		return nil, d.wrap(n, op, f.Err)
	}
	if err := ctx.Err(); err != nil {
		return nil, d.wrap(n, op, err)
	}
	d.mu.Lock()
	return d.machineLocked(n.UUID), nil
}

func (d *Driver) wrap(n drivers.Node, op string, err error) error {
	return &drivers.DriverError{Driver: Name, Op: op, BMC: "fake:" + n.UUID, Err: err}
}

// PowerState implements drivers.PowerGetter.
func (d *Driver) PowerState(ctx context.Context, n drivers.Node) (drivers.PowerState, error) {
	m, err := d.enter(ctx, n, "get power state")
	if err != nil {
		return drivers.NoPowerState, err
	}
	defer d.mu.Unlock()
	return m.power, nil
}

// SupportedPowerActions implements drivers.PowerGetter.
func (d *Driver) SupportedPowerActions(ctx context.Context, n drivers.Node) ([]drivers.PowerAction, error) {
	return slices.Clone(drivers.PowerActions), nil
}

// SetPowerState implements drivers.PowerSetter. A soft power off or soft
// reboot completes like a hard one.
func (d *Driver) SetPowerState(ctx context.Context, n drivers.Node, action drivers.PowerAction, timeout time.Duration) error {
	m, err := d.enter(ctx, n, fmt.Sprintf("set power state to %s", action))
	if err != nil {
		return err
	}
	defer d.mu.Unlock()
	if (action == drivers.ActionReboot || action == drivers.ActionSoftReboot) && m.device != drivers.NoBootDevice && !m.persistent {
		m.device = drivers.NoBootDevice // a Once override is consumed by the boot
	}
	if action == drivers.ActionPowerOn && m.power == drivers.PowerOff && !m.persistent {
		m.device = drivers.NoBootDevice
	}
	m.power = action.Target()
	return nil
}

// BootDevice implements drivers.BootDeviceGetter.
func (d *Driver) BootDevice(ctx context.Context, n drivers.Node) (drivers.BootDeviceStatus, error) {
	m, err := d.enter(ctx, n, "get boot device")
	if err != nil {
		return drivers.BootDeviceStatus{}, err
	}
	defer d.mu.Unlock()
	p := m.persistent
	return drivers.BootDeviceStatus{Device: m.device, Persistent: &p}, nil
}

// SupportedBootDevices implements drivers.BootDeviceGetter.
func (d *Driver) SupportedBootDevices(ctx context.Context, n drivers.Node) ([]drivers.BootDevice, error) {
	return []drivers.BootDevice{drivers.BootPXE, drivers.BootDisk, drivers.BootCDROM, drivers.BootBIOS, drivers.BootSafe, drivers.BootUSB}, nil
}

// SetBootDevice implements drivers.BootDeviceSetter.
func (d *Driver) SetBootDevice(ctx context.Context, n drivers.Node, dev drivers.BootDevice, opts drivers.BootOptions) error {
	m, err := d.enter(ctx, n, fmt.Sprintf("set boot device to %s", dev))
	if err != nil {
		return err
	}
	defer d.mu.Unlock()
	if !slices.Contains([]drivers.BootDevice{drivers.BootPXE, drivers.BootDisk, drivers.BootCDROM, drivers.BootBIOS, drivers.BootSafe, drivers.BootUSB}, dev) {
		return d.wrap(n, "set boot device", fmt.Errorf("%w: device %q not supported", drivers.ErrBMCRejected, dev))
	}
	m.device, m.persistent = dev, opts.Persistent
	if opts.Mode != drivers.NoBootMode {
		m.mode = opts.Mode
	}
	return nil
}

// BootMode implements drivers.BootModeGetter.
func (d *Driver) BootMode(ctx context.Context, n drivers.Node) (drivers.BootMode, error) {
	m, err := d.enter(ctx, n, "get boot mode")
	if err != nil {
		return drivers.NoBootMode, err
	}
	defer d.mu.Unlock()
	return m.mode, nil
}

// SetBootMode implements drivers.BootModeSetter.
func (d *Driver) SetBootMode(ctx context.Context, n drivers.Node, mode drivers.BootMode) error {
	m, err := d.enter(ctx, n, fmt.Sprintf("set boot mode to %s", mode))
	if err != nil {
		return err
	}
	defer d.mu.Unlock()
	m.mode = mode
	return nil
}

// InjectNMI implements drivers.NMIInjector. It fails on a node that is off,
// as real BMCs do.
func (d *Driver) InjectNMI(ctx context.Context, n drivers.Node) error {
	m, err := d.enter(ctx, n, "inject NMI")
	if err != nil {
		return err
	}
	defer d.mu.Unlock()
	if m.power != drivers.PowerOn {
		return d.wrap(n, "inject NMI", fmt.Errorf("%w: node is powered off", drivers.ErrBMCRejected))
	}
	m.nmis++
	return nil
}

// Media implements drivers.MediaGetter.
func (d *Driver) Media(ctx context.Context, n drivers.Node) ([]drivers.Media, error) {
	m, err := d.enter(ctx, n, "list virtual media")
	if err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	return slices.Clone(m.media), nil
}

// errOccupied reports an insert into a device that holds an image.
var errOccupied = errors.New("device already holds an image")

// InsertMedia implements drivers.MediaInserter.
func (d *Driver) InsertMedia(ctx context.Context, n drivers.Node, req drivers.MediaRequest) error {
	op := fmt.Sprintf("insert %s into %s", req.Image, req.Type)
	m, err := d.enter(ctx, n, op)
	if err != nil {
		return err
	}
	defer d.mu.Unlock()
	for i := range m.media {
		md := &m.media[i]
		if !slices.Contains(md.Types, req.Type) {
			continue
		}
		if md.Inserted && !req.EjectFirst {
			return d.wrap(n, op, fmt.Errorf("%w: %s: %w", drivers.ErrBMCRejected, md.ID, errOccupied))
		}
		md.Image, md.Inserted, md.WriteProtected = req.Image, true, req.WriteProtected
		return nil
	}
	return d.wrap(n, op, fmt.Errorf("%w: no device takes %s media", drivers.ErrBMCRejected, req.Type))
}

// EjectMedia implements drivers.MediaEjecter.
func (d *Driver) EjectMedia(ctx context.Context, n drivers.Node, t drivers.MediaType) error {
	m, err := d.enter(ctx, n, "eject virtual media")
	if err != nil {
		return err
	}
	defer d.mu.Unlock()
	for i := range m.media {
		md := &m.media[i]
		if t == drivers.AnyMedia || slices.Contains(md.Types, t) {
			md.Image, md.Inserted, md.WriteProtected = "", false, false
		}
	}
	return nil
}

// Check implements drivers.Checker.
func (d *Driver) Check(ctx context.Context, n drivers.Node) error {
	_, err := d.enter(ctx, n, "check BMC")
	if err != nil {
		return err
	}
	d.mu.Unlock()
	return nil
}

// Interface guards.
var (
	_ drivers.Driver           = (*Driver)(nil)
	_ drivers.Checker          = (*Driver)(nil)
	_ drivers.PowerGetter      = (*Driver)(nil)
	_ drivers.PowerSetter      = (*Driver)(nil)
	_ drivers.BootDeviceGetter = (*Driver)(nil)
	_ drivers.BootDeviceSetter = (*Driver)(nil)
	_ drivers.BootModeGetter   = (*Driver)(nil)
	_ drivers.BootModeSetter   = (*Driver)(nil)
	_ drivers.NMIInjector      = (*Driver)(nil)
	_ drivers.MediaGetter      = (*Driver)(nil)
	_ drivers.MediaInserter    = (*Driver)(nil)
	_ drivers.MediaEjecter     = (*Driver)(nil)
)

// Firmware implements drivers.FirmwareGetter: a fixed inventory, a BIOS and
// a BMC version.
func (d *Driver) Firmware(ctx context.Context, n drivers.Node) ([]drivers.FirmwareComponent, error) {
	if _, err := d.enter(ctx, n, "read firmware inventory"); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	return []drivers.FirmwareComponent{
		{Component: drivers.FirmwareBIOS, Version: "fake-bios-1.0"},
		{Component: drivers.FirmwareBMC, Version: "fake-bmc-1.0"},
	}, nil
}
