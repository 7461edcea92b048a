package ipmi

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Telemetry implements drivers.TelemetryReader over IPMI: the analog
// sensors of the BMC's SDR repository (temperatures, fans, voltages,
// currents, power meters), as `ipmitool sdr elist full` shows them, and the
// DCMI power reading (DCMI v1.5 §6.6.1) as the node's power draw. IPMI has
// no health rollup, so Health stays unknown; a sensor's own Health comes
// from the threshold status ipmitool shows (ok, nc, cr, nr). A BMC without
// DCMI gives PowerWatts nil, not an error.
//
// One read is one ipmitool run, so one session: ipmitool's exec command
// runs the DCMI request (as `raw`) and the SDR listing in the same session,
// and with the SDR repository cached on disk (Config.SDRCacheTTL, `ipmitool
// sdr dump` then `-S FILE`, as FreeIPMI's SDR cache serves
// prometheus-community's ipmi_exporter) the run reads only the sensors, not
// the whole repository. The cache is refreshed by one extra run after
// Config.SDRCacheTTL. A BMC found without DCMI costs one more run once, then
// is not asked again until its SDR cache is refreshed.
func (d *Driver) Telemetry(ctx context.Context, n drivers.Node) (*drivers.Telemetry, error) {
	b, err := d.bmcOf(n, drivers.ManagementInterface)
	if err != nil {
		return nil, err
	}
	st := d.tel.state(b.addr())
	cache, err := d.sdrCache(ctx, b, st)
	if err != nil {
		return nil, err
	}
	dcmi := st.dcmi()
	out, err := d.readTelemetry(ctx, b, cache, dcmi)
	if err != nil && dcmi && errors.Is(err, drivers.ErrBMCRejected) && dcmiRefused(out) {
		// The BMC has no DCMI: read again without it, and do not ask it
		// again until the SDR cache is refreshed.
		st.setNoDCMI()
		dcmi = false
		out, err = d.readTelemetry(ctx, b, cache, false)
	}
	if err != nil {
		return nil, err
	}
	t := parseTelemetry(out)
	if !dcmi {
		t.PowerWatts = nil
	}
	return t, nil
}

// dcmiPowerReading is DCMI Get Power Reading (NetFn 2Ch, command 02h, group
// DCh) in basic mode (DCMI v1.5 §6.6.1), sent as `ipmitool raw`: ipmitool's
// own `dcmi power reading` cannot run under exec in ipmitool 1.8.19 (it
// reads an argument exec leaves uninitialised and fails with "Invalid
// sample time").
const dcmiPowerReading = "raw 0x2c 0x02 0xdc 0x01 0x00 0x00"

// sdrList is the SDR listing: full sensor records only (the analog
// sensors), extended format (sensor number, status, entity).
const sdrList = "sdr elist full"

// readTelemetry runs one read: the SDR listing, with the DCMI power reading
// in the same session when dcmi is set, with the SDR cache file when cache
// is not "".
func (d *Driver) readTelemetry(ctx context.Context, b bmc, cache string, dcmi bool) (string, error) {
	var args []string
	if cache != "" {
		args = append(args, "-S", cache)
	}
	if dcmi {
		batch, err := d.tel.batch()
		if err != nil {
			return "", &drivers.DriverError{Driver: Name, Op: "telemetry", BMC: b.addr(), Err: err}
		}
		args = append(args, "exec", batch)
	} else {
		args = append(args, strings.Fields(sdrList)...)
	}
	return d.raw(ctx, b, "telemetry", args...)
}

// sdrCache returns the BMC's SDR cache file, dumping the repository first
// when there is none or it is older than Config.SDRCacheTTL; "" when the
// cache is off or the BMC would not dump its repository (the read then
// walks the repository itself).
func (d *Driver) sdrCache(ctx context.Context, b bmc, st *telemetryState) (string, error) {
	if d.cfg.SDRCacheTTL < 0 {
		return "", nil
	}
	file, fresh := st.cache(d.cfg.SDRCacheTTL)
	if fresh && file != "" {
		if _, err := os.Stat(file); err == nil {
			return file, nil
		}
		// Removed behind the driver's back (a temporary-file cleaner):
		// dump again.
	} else if fresh {
		return "", nil
	}
	dir, err := d.tel.directory()
	if err != nil {
		return "", &drivers.DriverError{Driver: Name, Op: "telemetry", BMC: b.addr(), Err: err}
	}
	file = filepath.Join(dir, cacheName(b.addr()))
	tmp := file + ".new"
	_, err = d.raw(ctx, b, "sdr dump", "sdr", "dump", tmp)
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		_ = os.Remove(tmp)
		switch {
		case errors.Is(err, drivers.ErrBMCRejected):
			// The BMC refuses what a dump asks: no cache until the
			// next refresh, every read walks the repository.
			d.log.Debug("no SDR cache: reading the repository each time", "bmc", b.addr(), "error", err)
			st.setCache("")
			return "", nil
		case errors.Is(err, drivers.ErrBMCFailed):
			// Failed this time: read without the cache, dump again
			// next time.
			return "", nil
		}
		return "", err
	}
	st.setCache(file)
	return file, nil
}

// cacheName is the SDR cache file name of a BMC address.
func cacheName(addr string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '_'
	}, addr) + ".sdr"
}

// dcmiRefused reports whether ipmitool's output says the BMC answered the
// DCMI request with an error completion code (ipmitool: "Unable to send RAW
// command (... netfn=0x2c ... rsp=0xc1): Invalid command").
func dcmiRefused(out string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Unable to send RAW command") && strings.Contains(line, "netfn=0x2c") {
			return true
		}
	}
	return false
}

// telemetryCache is the driver's telemetry state: the directory of SDR
// caches and the batch file, and what it learnt of each BMC.
type telemetryCache struct {
	cfgDir string

	mu      sync.Mutex
	dir     string // "" until first needed
	own     bool   // dir was created by the driver: Close removes it
	batchAt string
	bmcs    map[string]*telemetryState
	now     func() time.Time
}

// telemetryState is what the driver knows of one BMC's telemetry.
type telemetryState struct {
	mu      sync.Mutex
	now     func() time.Time
	file    string    // SDR cache file, "" when none
	dumped  time.Time // when file was written (or found impossible)
	noDCMI  bool
	checked bool // dumped is set
}

func (c *telemetryCache) state(addr string) *telemetryState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bmcs == nil {
		c.bmcs = make(map[string]*telemetryState)
	}
	st := c.bmcs[addr]
	if st == nil {
		st = &telemetryState{now: c.now}
		c.bmcs[addr] = st
	}
	return st
}

// cache returns the cache file and whether it is fresh (younger than ttl;
// a BMC that would not dump counts as fresh with no file, for ttl too).
func (s *telemetryState) cache(ttl time.Duration) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.file, s.checked && s.now().Sub(s.dumped) < ttl
}

// setCache records a new dump (file "" when the BMC would not dump) and
// forgets that the BMC lacked DCMI, so that a firmware update that added it
// is found.
func (s *telemetryState) setCache(file string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.file, s.dumped, s.checked, s.noDCMI = file, s.now(), true, false
}

func (s *telemetryState) dcmi() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.noDCMI
}

func (s *telemetryState) setNoDCMI() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noDCMI = true
}

// directory returns the directory of the SDR caches, creating it on first
// use.
func (c *telemetryCache) directory() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.directoryLocked()
}

func (c *telemetryCache) directoryLocked() (string, error) {
	if c.dir != "" {
		return c.dir, nil
	}
	if c.cfgDir != "" {
		if err := os.MkdirAll(c.cfgDir, 0o700); err != nil {
			return "", fmt.Errorf("SDR cache directory: %w", err)
		}
		c.dir = c.cfgDir
		return c.dir, nil
	}
	dir, err := os.MkdirTemp("", "bmc-agent-ipmi-")
	if err != nil {
		return "", fmt.Errorf("SDR cache directory: %w", err)
	}
	c.dir, c.own = dir, true
	return dir, nil
}

// batch returns the exec file of a read with DCMI, writing it on first use.
func (c *telemetryCache) batch() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.batchAt != "" {
		return c.batchAt, nil
	}
	dir, err := c.directoryLocked()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "telemetry.ipmitool")
	if err := os.WriteFile(p, []byte(dcmiPowerReading+"\n"+sdrList+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("ipmitool batch file: %w", err)
	}
	c.batchAt = p
	return p, nil
}

// close removes the directory if the driver created it.
func (c *telemetryCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.own || c.dir == "" {
		return nil
	}
	err := os.RemoveAll(c.dir)
	c.dir, c.own, c.batchAt, c.bmcs = "", false, "", nil
	return err
}

// Close implements drivers.Closer: it removes the SDR caches the driver
// created in a temporary directory (Config.SDRCacheDir is left alone).
func (d *Driver) Close(context.Context) error { return d.tel.close() }

// units maps ipmitool's unit names (lib/ipmi_sdr.c unit_desc, IPMI v2.0
// Table 43-15) to sensor kinds.
var units = map[string]drivers.SensorKind{
	"degrees C": drivers.SensorTemperature,
	"RPM":       drivers.SensorFan,
	"Volts":     drivers.SensorVoltage,
	"Amps":      drivers.SensorCurrent,
	"Watts":     drivers.SensorPower,
}

// entityContexts maps IPMI entity IDs (IPMI v2.0 Table 43-13, and the 40h-42h
// that DCMI v1.5's Get Temperature Readings names for the same places) to
// Redfish PhysicalContext values. Other entities give no Context.
var entityContexts = map[int]string{
	0x03: "CPU",         // processor
	0x07: "SystemBoard", // system board
	0x08: "Memory",      // memory module
	0x0a: "PowerSupply", // power supply
	0x1d: "Fan",         // fan / cooling device
	0x20: "Memory",      // memory device
	0x37: "Intake",      // air inlet
	0x40: "Intake",      // DCMI: air inlet
	0x41: "CPU",         // DCMI: processor
	0x42: "SystemBoard", // DCMI: baseboard
}

// statuses maps ipmitool's threshold status (ipmi_sdr_get_thresh_status:
// short names in `sdr list`, with the side in `sdr elist`) to health.
// Non-recoverable is worse than critical; the contract has nothing worse.
var statuses = map[string]drivers.Health{
	"ok": drivers.HealthOK,
	"nc": drivers.HealthWarning, "lnc": drivers.HealthWarning, "unc": drivers.HealthWarning,
	"cr": drivers.HealthCritical, "lcr": drivers.HealthCritical, "ucr": drivers.HealthCritical,
	"nr": drivers.HealthCritical, "lnr": drivers.HealthCritical, "unr": drivers.HealthCritical,
}

// parseTelemetry reads the output of one read: `sdr elist full` lines
// ("CPU1 Temp | 01h | ok | 3.1 | 52.50 degrees C") and the DCMI answer as
// `raw` prints it (hex bytes, 16 a line). Lines it does not know (ipmitool's
// messages) are skipped; sensors without a reading ("no reading",
// "disabled") or with a unit of no kind are absent.
func parseTelemetry(out string) *drivers.Telemetry {
	t := &drivers.Telemetry{Schema: "IPMI"}
	var raw []byte
	var numbers []string
	type kindName struct {
		kind drivers.SensorKind
		name string
	}
	seen := make(map[kindName]int)
	for _, line := range strings.Split(out, "\n") {
		if b, ok := hexLine(line); ok {
			raw = append(raw, b...)
			continue
		}
		if s, number, ok := sensorLine(line); ok {
			t.Sensors = append(t.Sensors, s)
			numbers = append(numbers, number)
			seen[kindName{s.Kind, s.Name}]++
		}
	}
	// IPMI does not make sensor ID strings unique (a BMC may call two
	// sensors "Temp"); the contract does, per kind: such names get their
	// sensor number.
	for i, s := range t.Sensors {
		if seen[kindName{s.Kind, s.Name}] > 1 {
			t.Sensors[i].Name = s.Name + " (" + numbers[i] + ")"
		}
	}
	t.PowerWatts = powerReading(raw)
	return t
}

// sensorLine parses one `sdr elist full` line into the sensor and its
// number ("0Fh").
func sensorLine(line string) (drivers.Sensor, string, bool) {
	f := strings.Split(line, "|")
	if len(f) != 5 {
		return drivers.Sensor{}, "", false
	}
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	value, unit, ok := strings.Cut(f[4], " ")
	if !ok {
		return drivers.Sensor{}, "", false
	}
	v, err := strconv.ParseFloat(value, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		// ipmitool prints "inf" or "nan" where a sensor's linearisation
		// (1/x, ln, sqrt: sdr_convert_sensor_reading in ipmitool's
		// lib/ipmi_sdr.c) meets a raw reading out of its domain: that is
		// no reading, and JSON has no number for it.
		return drivers.Sensor{}, "", false
	}
	s := drivers.Sensor{Name: f[0], Health: statuses[f[2]]}
	switch unit = strings.TrimSpace(unit); {
	case units[unit] != "":
		s.Kind = units[unit]
	case unit == "degrees F":
		s.Kind, v = drivers.SensorTemperature, (v-32)*5/9
	case unit == "percent" || strings.HasPrefix(unit, "% "):
		// Only fans report percent (of full speed) among the kinds;
		// ipmitool 1.8 prints "percent", later versions "% unit".
		if entity(f[3]) != 0x1d {
			return drivers.Sensor{}, "", false
		}
		s.Kind, s.Percent = drivers.SensorFan, true
	default:
		return drivers.Sensor{}, "", false
	}
	s.Reading = v
	s.Context = entityContexts[entity(f[3])]
	return s, f[1], true
}

// entity reads the entity ID of an "id.instance" field, -1 when unreadable.
func entity(field string) int {
	id, _, _ := strings.Cut(field, ".")
	n, err := strconv.Atoi(strings.TrimSpace(id))
	if err != nil {
		return -1
	}
	return n
}

// hexLine reads a line of `ipmitool raw` output: hex bytes separated by
// spaces, nothing else.
func hexLine(line string) ([]byte, bool) {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return nil, false
	}
	out := make([]byte, 0, len(fields))
	for _, f := range fields {
		if len(f) != 2 {
			return nil, false
		}
		b, err := hex.DecodeString(f)
		if err != nil {
			return nil, false
		}
		out = append(out, b...)
	}
	return out, true
}

// powerReading reads a DCMI Get Power Reading answer (DCMI v1.5 §6.6.1,
// without the completion code ipmitool strips): group extension DCh,
// current, minimum, maximum and average power (watts, 2 bytes LS first
// each), timestamp (4), statistics period (4), power reading state (bit 6:
// measurement active). nil when absent, malformed or not active.
func powerReading(b []byte) *float64 {
	if len(b) < 18 || b[0] != 0xdc || b[17]&0x40 == 0 {
		return nil
	}
	w := float64(binary.LittleEndian.Uint16(b[1:3]))
	return &w
}

// Interface guards.
var (
	_ drivers.TelemetryReader = (*Driver)(nil)
	_ drivers.Closer          = (*Driver)(nil)
)
