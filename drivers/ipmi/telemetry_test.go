package ipmi_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/internal/ipmitest"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// frozen is a simulator clock that does not move, so that the model's
// readings stay the same between the driver's read and the test's.
func frozen() time.Time { return time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC) }

// ipmiContexts are the PhysicalContexts an IPMI entity ID expresses: the
// face gives the others (Exhaust) the "unspecified" entity.
var ipmiContexts = map[string]bool{"CPU": true, "Intake": true, "SystemBoard": true, "Fan": true, "PowerSupply": true}

// checkTelemetry compares a read with the model at the same clock: the
// same sensors (none more, none less) with their kinds, contexts and
// health, readings within the SDR's conversion resolution (the face's steps
// are at most 1/255 of a quarter above the threshold, 0.5 Cel, 100 RPM or
// 0.5 percent; ipmitool prints two decimals), and the DCMI draw.
func checkTelemetry(t *testing.T, got *drivers.Telemetry, want simulator.Telemetry, dcmi bool) {
	t.Helper()
	if got.Schema != "IPMI" || got.Health != drivers.HealthUnknown || len(got.Parts) != 0 {
		t.Errorf("schema %q health %q parts %v, want IPMI, unknown, none", got.Schema, got.Health, got.Parts)
	}
	byName := make(map[string]drivers.Sensor, len(got.Sensors))
	for _, s := range got.Sensors {
		byName[s.Name] = s
	}
	if len(got.Sensors) != len(want.Sensors) || len(byName) != len(want.Sensors) {
		t.Errorf("%d sensors, want the model's %d: %+v", len(got.Sensors), len(want.Sensors), got.Sensors)
	}
	for _, w := range want.Sensors {
		g, ok := byName[w.Name]
		if !ok {
			t.Errorf("%s: absent", w.Name)
			continue
		}
		tol := 0.5
		switch {
		case w.Units == "RPM":
			tol = 50
		case w.UpperCritical > 0:
			tol = w.UpperCritical * 1.25 / 255
		}
		tol += 0.005
		if string(g.Kind) != w.Kind || math.Abs(g.Reading-w.Reading) > tol || g.Percent != (w.Units == "Percent") {
			t.Errorf("%s: %s %v (percent %v), want %s %v %s (+/- %.3f)", w.Name, g.Kind, g.Reading, g.Percent, w.Kind, w.Reading, w.Units, tol)
		}
		wantCtx := ""
		if ipmiContexts[w.Context] {
			wantCtx = w.Context
		}
		if g.Context != wantCtx || string(g.Health) != w.Health {
			t.Errorf("%s: context %q health %q, want %q %q", w.Name, g.Context, g.Health, wantCtx, w.Health)
		}
	}
	switch {
	case !dcmi && got.PowerWatts != nil:
		t.Errorf("power %v W from a BMC without DCMI, want none", *got.PowerWatts)
	case dcmi && got.PowerWatts == nil:
		t.Errorf("no power reading, want %v W", want.PowerWatts)
	case dcmi && math.Abs(*got.PowerWatts-want.PowerWatts) > 0.5:
		t.Errorf("power %v W, want %v W", *got.PowerWatts, want.PowerWatts)
	}
	if len(got.PowerSupplies) != 0 {
		t.Errorf("power supplies %+v over IPMI, want none (the face has no PSU SDRs)", got.PowerSupplies)
	}
}

// TestTelemetrySimulator reads telemetry from the simulator's IPMI face
// and compares it with the model: on and off, with failing parts, fans in
// percent, and a BMC without DCMI.
func TestTelemetrySimulator(t *testing.T) {
	sim, face := simFleet(t, 3, simulator.Config{Now: frozen})
	ids := sim.SystemIDs()
	d := ipmi.New(fastConfig())
	t.Cleanup(func() { d.Close(t.Context()) })
	ctx := ctxFor(t)
	read := func(t *testing.T, id string) *drivers.Telemetry {
		t.Helper()
		got, err := d.Telemetry(ctx, nodeFor(id, faceClient(face, id)))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("on", func(t *testing.T) {
		sys := sim.System(ids[0])
		if err := sys.SetPowerState(simulator.PowerOn); err != nil {
			t.Fatal(err)
		}
		checkTelemetry(t, read(t, ids[0]), sys.Telemetry(), true)
	})
	t.Run("failing parts", func(t *testing.T) {
		sys := sim.System(ids[0])
		for part, h := range map[string]string{"CPU1 Temp": simulator.HealthCritical, "Fan2": simulator.HealthWarning, "12V": simulator.HealthWarning, "Fan3": simulator.HealthCritical} {
			if err := sys.SetPartHealth(part, h); err != nil {
				t.Fatal(err)
			}
		}
		checkTelemetry(t, read(t, ids[0]), sys.Telemetry(), true)
	})
	t.Run("off, fans in percent", func(t *testing.T) {
		sys := sim.System(ids[1])
		q := sys.Quirks()
		q.FanPercent = true
		if err := sys.SetQuirks(q); err != nil {
			t.Fatal(err)
		}
		checkTelemetry(t, read(t, ids[1]), sys.Telemetry(), true)
	})
	t.Run("no DCMI", func(t *testing.T) {
		if err := face.SetDCMI(ids[2], false); err != nil {
			t.Fatal(err)
		}
		for range 2 { // found missing, then not asked
			checkTelemetry(t, read(t, ids[2]), sim.System(ids[2]).Telemetry(), false)
		}
		if n := face.Requests(ids[2])["Get DCMI Power Reading"]; n != 1 {
			t.Errorf("%d DCMI requests over two reads, want 1 (not asked again)", n)
		}
	})
}

// TestTelemetryProfiles reads every vendor profile's system over IPMI:
// the IPMI face serves the same model whatever the Redfish shapes, with
// the profile's quirks (fans in percent) showing through.
func TestTelemetryProfiles(t *testing.T) {
	d := ipmi.New(fastConfig())
	t.Cleanup(func() { d.Close(t.Context()) })
	for _, p := range simulator.Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			sim, face := simFleet(t, 1, simulator.Config{Now: frozen, Profile: p.Name})
			id := sim.SystemIDs()[0]
			sys := sim.System(id)
			if err := sys.SetPowerState(simulator.PowerOn); err != nil {
				t.Fatal(err)
			}
			got, err := d.Telemetry(ctxFor(t), nodeFor(id, faceClient(face, id)))
			if err != nil {
				t.Fatal(err)
			}
			checkTelemetry(t, got, sys.Telemetry(), true)
		})
	}
}

// TestTelemetryRunsPerRead counts what one read costs: ipmitool runs (each
// a session) and the IPMI requests the BMC receives, with and without the
// SDR cache, with and without DCMI. The figures are logged for the docs.
func TestTelemetryRunsPerRead(t *testing.T) {
	sim, face := simFleet(t, 3, simulator.Config{Now: frozen})
	ids := sim.SystemIDs()
	sensors := len(sim.System(ids[0]).Telemetry().Sensors)
	ctx := ctxFor(t)
	total := func(m map[string]int) (n int) {
		for _, v := range m {
			n += v
		}
		return n
	}
	type cost struct{ runs, requests, getSDR, readings, dcmi int }
	measure := func(d *ipmi.Driver, id string) cost {
		t.Helper()
		before, runs := face.Requests(id), d.Stats().Runs
		if _, err := d.Telemetry(ctx, nodeFor(id, faceClient(face, id))); err != nil {
			t.Fatal(err)
		}
		after := face.Requests(id)
		return cost{
			runs:     int(d.Stats().Runs - runs),
			requests: total(after) - total(before),
			getSDR:   after["Get SDR"] - before["Get SDR"],
			readings: after["Get Sensor Reading"] - before["Get Sensor Reading"],
			dcmi:     after["Get DCMI Power Reading"] - before["Get DCMI Power Reading"],
		}
	}
	// check compares a cost with the runs, SDR walk, sensor listings and
	// DCMI requests wanted.
	check := func(name string, c cost, runs int, walk bool, listings, dcmi int) {
		t.Helper()
		t.Logf("%s: %d ipmitool runs, %d IPMI requests (%d Get SDR, %d Get Sensor Reading, %d DCMI)", name, c.runs, c.requests, c.getSDR, c.readings, c.dcmi)
		if c.runs != runs || c.readings != listings*sensors || c.dcmi != dcmi {
			t.Errorf("%s: %d runs, %d readings, %d DCMI requests, want %d, %d, %d", name, c.runs, c.readings, c.dcmi, runs, listings*sensors, dcmi)
		}
		// A walk reads every record at least once; a cached read none.
		if walk != (c.getSDR >= sensors) || !walk && c.getSDR != 0 {
			t.Errorf("%s: %d Get SDR requests for %d records, want a walk: %v", name, c.getSDR, sensors, walk)
		}
	}

	cached := ipmi.New(fastConfig())
	t.Cleanup(func() { cached.Close(t.Context()) })
	check("cached, first read (dump + read)", measure(cached, ids[0]), 2, true, 1, 1)
	check("cached, next read", measure(cached, ids[0]), 1, false, 1, 1)
	check("cached, next read again", measure(cached, ids[0]), 1, false, 1, 1)

	cfg := fastConfig()
	cfg.SDRCacheTTL = -1
	uncached := ipmi.New(cfg)
	t.Cleanup(func() { uncached.Close(t.Context()) })
	check("uncached, first read", measure(uncached, ids[1]), 1, true, 1, 1)
	check("uncached, next read", measure(uncached, ids[1]), 1, true, 1, 1)

	if err := face.SetDCMI(ids[2], false); err != nil {
		t.Fatal(err)
	}
	// The refused read listed the sensors too; the driver reads again
	// rather than trust a listing from a run that failed.
	check("no DCMI, first read (dump + refused + read)", measure(cached, ids[2]), 3, true, 2, 1)
	check("no DCMI, next read", measure(cached, ids[2]), 1, false, 1, 0)
}

// TestTelemetryIPMISim reads telemetry from OpenIPMI's ipmi_sim as
// internal/ipmitest configures it: an MC with an empty SDR repository and
// no DCMI. The read succeeds with no sensors and no power reading: nothing
// the BMC does not offer is made up.
func TestTelemetryIPMISim(t *testing.T) {
	s := ipmitest.StartSim(t)
	d := ipmi.New(fastConfig())
	t.Cleanup(func() { d.Close(t.Context()) })
	n := nodeFor("sim", s.Client)
	for i := range 2 {
		got, err := d.Telemetry(ctxFor(t), n)
		if err != nil {
			t.Fatalf("read %d: %v", i+1, err)
		}
		if got.Schema != "IPMI" || len(got.Sensors) != 0 || got.PowerWatts != nil || got.Health != drivers.HealthUnknown {
			t.Errorf("read %d: %+v, want IPMI with no sensors, no power, no health", i+1, got)
		}
	}
}

// TestParseTelemetry covers what ipmitool prints for BMCs unlike the
// simulator: `sdr list` status names, Fahrenheit, sensors without a reading,
// discrete sensors, units of no kind, two sensors of one name, ipmitool's
// messages, and a DCMI answer whose measurement is not active.
func TestParseTelemetry(t *testing.T) {
	out := `Get SDR 0000 command failed: Requested sensor, data, or record not found
 dc 10 01 00 00 00 00 00 00 00 00 00 00 00 00 00
 00 00
CPU Temp         | 30h | nr  |  3.1 | 120 degrees C
Ambient          | 31h | nc  | 64.1 | 86 degrees F
Fan 5            | 32h | ns  | 29.5 | no reading
PS Status        | 33h | ok  | 10.1 | 0x01
Pwr Consumption  | 34h | lcr |  7.1 | 280 Watts
Fan Duty         | 35h | ok  | 29.1 | 40 percent
CPU Usage        | 36h | ok  |  3.1 | 12 percent
Airflow          | 37h | ok  |  7.1 | 35 CFM
Temp             | 0Eh | ok  |  3.1 | 40 degrees C
Temp             | 0Fh | unc |  3.2 | 81 degrees C
`
	got := ipmi.ParseTelemetry(out)
	want := []drivers.Sensor{
		{Kind: drivers.SensorTemperature, Name: "CPU Temp", Context: "CPU", Reading: 120, Health: drivers.HealthCritical},
		{Kind: drivers.SensorTemperature, Name: "Ambient", Context: "Intake", Reading: 30, Health: drivers.HealthWarning},
		{Kind: drivers.SensorPower, Name: "Pwr Consumption", Context: "SystemBoard", Reading: 280, Health: drivers.HealthCritical},
		{Kind: drivers.SensorFan, Name: "Fan Duty", Context: "Fan", Reading: 40, Percent: true, Health: drivers.HealthOK},
		{Kind: drivers.SensorTemperature, Name: "Temp (0Eh)", Context: "CPU", Reading: 40, Health: drivers.HealthOK},
		{Kind: drivers.SensorTemperature, Name: "Temp (0Fh)", Context: "CPU", Reading: 81, Health: drivers.HealthWarning},
	}
	if len(got.Sensors) != len(want) {
		t.Fatalf("sensors %+v, want %+v", got.Sensors, want)
	}
	for i := range want {
		if g := got.Sensors[i]; g != want[i] {
			t.Errorf("sensor %d: %+v, want %+v", i, g, want[i])
		}
	}
	if got.PowerWatts != nil {
		t.Errorf("power %v W from an inactive measurement, want none", *got.PowerWatts)
	}
}

// TestTelemetrySDRCache follows the SDR cache's life: dumped at the first
// read, used until SDRCacheTTL has passed on the driver's clock, dumped
// again then (asking a BMC that lacked DCMI again) or when its file is
// gone, never holding the password, and removed by Close when the driver
// made its directory.
func TestTelemetrySDRCache(t *testing.T) {
	sim, face := simFleet(t, 1, simulator.Config{Now: frozen})
	id := sim.SystemIDs()[0]
	c := faceClient(face, id)
	c.Password = "sdr-cache-secret"
	if err := face.SetCredentials(id, c.Username, c.Password); err != nil {
		t.Fatal(err)
	}
	if err := face.SetDCMI(id, false); err != nil {
		t.Fatal(err)
	}
	d, n, ctx := ipmi.New(fastConfig()), nodeFor(id, c), ctxFor(t)
	now := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	d.SetTelemetryClock(func() time.Time { return now })
	runs := func(name string, want uint64) {
		t.Helper()
		before := d.Stats().Runs
		if _, err := d.Telemetry(ctx, n); err != nil {
			t.Fatal(err)
		}
		if got := d.Stats().Runs - before; got != want {
			t.Errorf("%s: %d runs, want %d", name, got, want)
		}
	}
	runs("first read: dump, refused DCMI, read", 3)
	now = now.Add(ipmi.DefaultSDRCacheTTL - time.Second)
	runs("within the TTL", 1)
	now = now.Add(time.Second)
	runs("TTL over: dump, DCMI asked again, read", 3)
	if got := face.Requests(id)["Get DCMI Power Reading"]; got != 2 {
		t.Errorf("%d DCMI requests, want 2 (once per cache life)", got)
	}

	dir := d.SDRCacheDirectory()
	dumps, err := filepath.Glob(filepath.Join(dir, "*.sdr"))
	if err != nil || len(dumps) != 1 {
		t.Fatalf("SDR dumps in %s: %v (%v), want one", dir, dumps, err)
	}
	if err := os.Remove(dumps[0]); err != nil {
		t.Fatal(err)
	}
	runs("dump removed behind the driver's back: dump again", 3)
	files, err := os.ReadDir(dir)
	if err != nil || len(files) == 0 {
		t.Fatalf("cache directory %q: %v, %d files", dir, err, len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), c.Password) {
			t.Errorf("%s holds the password", f.Name())
		}
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cache directory after Close: %v, want gone", err)
	}
}

// A reading ipmitool prints as inf or nan (a non-linear sensor's raw value
// outside its formula's domain) is no reading: absent, as JSON and the API
// document have no number for it.
func TestParseTelemetryNonFinite(t *testing.T) {
	out := `Inlet Temp       | 01h | ok  |  7.1 | inf degrees C
Fan 1            | 02h | ok  | 29.1 | -inf RPM
12V              | 03h | ok  |  7.1 | nan Volts
Exhaust Temp     | 04h | ok  |  7.1 | 41 degrees C
`
	got := ipmi.ParseTelemetry(out)
	if len(got.Sensors) != 1 || got.Sensors[0].Name != "Exhaust Temp" {
		t.Fatalf("sensors %+v, want only Exhaust Temp", got.Sensors)
	}
	if _, err := json.Marshal(got); err != nil {
		t.Fatalf("the read does not encode: %v", err)
	}
}

// FuzzParseTelemetry feeds the parser what a BMC could make ipmitool
// print: it never panics, every reading is finite (the API's JSON has no
// NaN), and a power reading only comes from a well-formed DCMI answer.
func FuzzParseTelemetry(f *testing.F) {
	for _, seed := range []string{
		"CPU Temp         | 30h | ok  |  3.1 | 52.50 degrees C\n dc 10 01 00 00 00 00 00 00 00 00 00 00 00 00 00\n 00 40\n",
		"Fan | 01h | ok | 29.1 | inf RPM\n12V | 02h | nc | 7.1 | NaN Volts\n",
		"A|B|C|D|1e400 Watts\n| | | | \n||||\n 0x 00\n zz\n",
		"Temp | 0Eh | ok | 3.1 | 40 degrees C\nTemp | 0Eh | ok | 3.1 | 41 degrees C\n",
		"Fan \xff | 32h | ok | 29.x | 40 % RPM\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, out string) {
		got := ipmi.ParseTelemetry(out)
		for _, s := range got.Sensors {
			if math.IsNaN(s.Reading) || math.IsInf(s.Reading, 0) {
				t.Fatalf("sensor %+v", s)
			}
		}
		if got.PowerWatts != nil && (*got.PowerWatts < 0 || *got.PowerWatts > 65535) {
			t.Fatalf("power %v", *got.PowerWatts)
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatal(err)
		}
	})
}
