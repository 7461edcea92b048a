package redfish_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// checkTelemetry compares a read with what the simulated system serves at
// the same clock: every sensor and power supply with its values, units and
// health, nothing more, and absent readings absent.
func checkTelemetry(t *testing.T, got *drivers.Telemetry, sys *simulator.System) {
	t.Helper()
	want := sys.Telemetry()
	if got.PowerWatts == nil || *got.PowerWatts != want.PowerWatts {
		t.Errorf("power %v, serves %v W", got.PowerWatts, want.PowerWatts)
	}
	type key struct {
		kind drivers.SensorKind
		name string
	}
	seen := map[key]drivers.Sensor{}
	for _, s := range got.Sensors {
		seen[key{s.Kind, s.Name}] = s
	}
	if len(seen) != len(got.Sensors) || len(got.Sensors) != len(want.Sensors) {
		t.Errorf("%d sensors read, %d served:\n got %+v\nwant %+v", len(got.Sensors), len(want.Sensors), got.Sensors, want.Sensors)
	}
	for _, w := range want.Sensors {
		s, ok := seen[key{drivers.SensorKind(w.Kind), w.Name}]
		if !ok {
			t.Errorf("sensor %s %q not read", w.Kind, w.Name)
			continue
		}
		if s.Reading != w.Reading || s.Percent != (w.Units == "Percent") || string(s.Health) != w.Health || s.Context != w.Context {
			t.Errorf("sensor %+v, serves %+v", s, w)
		}
	}
	if len(got.PowerSupplies) != len(want.PowerSupplies) {
		t.Fatalf("power supplies %+v, serves %+v", got.PowerSupplies, want.PowerSupplies)
	}
	same := func(p *float64, w float64) bool { return (p == nil && w == 0) || (p != nil && *p == w) }
	for i, w := range want.PowerSupplies {
		p := got.PowerSupplies[i]
		if p.Name != w.Name || string(p.Health) != w.Health || p.State != w.State || !same(p.InputWatts, w.InputWatts) || !same(p.OutputWatts, w.OutputWatts) {
			t.Errorf("power supply %+v (in %v out %v), serves %+v", p, p.InputWatts, p.OutputWatts, w)
		}
	}
	if len(got.Parts) != 2 || string(got.Parts[0].Health) != want.SystemHealth || string(got.Parts[1].Health) != want.ChassisHealth {
		t.Errorf("parts %+v, serves system %s chassis %s", got.Parts, want.SystemHealth, want.ChassisHealth)
	}
	if worst := drivers.Health(want.SystemHealth).Worse(drivers.Health(want.ChassisHealth)); got.Health != worst {
		t.Errorf("health %s, want %s", got.Health, worst)
	}
	hw := sys.Hardware()
	if got.Vendor != hw.Manufacturer || got.Model != hw.Model || got.FirmwareVersion == "" {
		t.Errorf("vendor %q model %q firmware %q, serves %s %s", got.Vendor, got.Model, got.FirmwareVersion, hw.Manufacturer, hw.Model)
	}
}

// TestTelemetryMatchesSimulator reads each profile's systems, one on, one
// off with failed parts, and compares with the simulator's model: the
// schema generation the profile links, absent readings absent, the
// rollups, and a read that sends only GETs, as few as the profile allows.
func TestTelemetryMatchesSimulator(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock } // a fixed clock: the model and the read see one snapshot
	// The requests one read sends with $expand: the System with its
	// Chassis and Manager, then Power and Thermal, or EnvironmentMetrics,
	// Sensors and the PowerSubsystem.
	perRead := map[string]uint64{redfishSchemaLegacy: 3, redfishSchemaModern: 4}
	for _, p := range simulator.Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			sim := startSim(t, simulator.Config{Systems: 2, Profile: p.Name, PortPerSystem: true, Now: now})
			d := newDriver(t, fastOptions())
			ids := sim.SystemIDs()
			if err := sim.System(ids[0]).SetPowerState(simulator.PowerOn); err != nil {
				t.Fatal(err)
			}
			failed := sim.System(ids[1])
			for part, h := range map[string]string{"PSU1": simulator.HealthCritical, "CPU2 Temp": simulator.HealthWarning, "Fan3": simulator.HealthCritical} {
				if err := failed.SetPartHealth(part, h); err != nil {
					t.Fatal(err)
				}
			}
			schema := redfishSchemaModern
			if p.Quirks.Telemetry == simulator.TelemetryLegacy {
				schema = redfishSchemaLegacy
			}
			for _, id := range ids {
				n := nodeOf(sim.Endpoint(id), "", drivers.Info{redfish.InfoSystemID: nil})
				if _, err := d.Telemetry(ctx(t), n); err != nil { // logs in, reads the root once
					t.Fatalf("%s: %v", id, err)
				}
				before, sent := sim.System(id).Requests(), d.Stats().Requests
				got, err := d.Telemetry(ctx(t), n)
				if err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				after := sim.System(id).Requests()
				if got.Schema != schema {
					t.Errorf("%s: schema %q, the profile links %q", id, got.Schema, schema)
				}
				checkTelemetry(t, got, sim.System(id))
				reads, writes := after.Reads-before.Reads, after.Writes-before.Writes
				if writes != 0 || reads != perRead[schema] || d.Stats().Requests-sent != reads {
					t.Errorf("%s: a read made %d GETs and %d other requests (driver sent %d), want %d GETs only",
						id, reads, writes, d.Stats().Requests-sent, perRead[schema])
				}
			}
			if got := failed.Telemetry().ChassisHealth; got != simulator.HealthCritical {
				t.Fatalf("the failed system's chassis is %s", got)
			}
		})
	}
}

// The schema generations as Telemetry.Schema names them.
const (
	redfishSchemaLegacy = "Power/Thermal"
	redfishSchemaModern = "PowerSubsystem/ThermalSubsystem"
)

// TestTelemetryMockup reads DMTF's public-rackmount1 mockup, a Chassis
// with both generations captured from DMTF's own model: the new one is
// read, temperatures without a ReadingType are known by their units, the
// chassis' total power is the draw and not a sensor, and the absent second
// power supply and its sensors are absent.
func TestTelemetryMockup(t *testing.T) {
	sim := startSim(t, simulator.Config{MockupDir: mockups + "/public-rackmount1"})
	d := newDriver(t, fastOptions())
	id := sim.SystemIDs()[0]
	got, err := d.Telemetry(ctx(t), simNode(sim, id, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != redfishSchemaModern || got.PowerWatts == nil || *got.PowerWatts != 374 {
		t.Errorf("schema %q power %v, the mockup has both generations and 374 W", got.Schema, got.PowerWatts)
	}
	bySensor := map[string]drivers.Sensor{}
	for _, s := range got.Sensors {
		bySensor[s.Name] = s
	}
	want := map[string]drivers.Sensor{
		"CPU #1 Temperature":                 {Kind: drivers.SensorTemperature, Name: "CPU #1 Temperature", Context: "CPU", Reading: 44, Health: drivers.HealthWarning},
		"Chassis Fan #1":                     {Kind: drivers.SensorFan, Name: "Chassis Fan #1", Context: "Chassis", Reading: 45, Percent: true, Health: drivers.HealthOK},
		"Power Supply #1 12V Output Voltage": {Kind: drivers.SensorVoltage, Name: "Power Supply #1 12V Output Voltage", Context: "PowerSupply", Reading: 12.08, Health: drivers.HealthOK},
		"Power Supply #1 Input Power":        {Kind: drivers.SensorPower, Name: "Power Supply #1 Input Power", Context: "PowerSupply", Reading: 374, Health: drivers.HealthOK},
	}
	for name, w := range want {
		if s := bySensor[name]; s != w {
			t.Errorf("sensor %q: %+v, want %+v", name, s, w)
		}
	}
	for _, s := range got.Sensors {
		if strings.HasPrefix(s.Name, "Power Supply #2") || s.Name == "Power reading for the Chassis" || s.Name == "Battery #1 State of Health" {
			t.Errorf("sensor %+v read: absent, the draw, or not a fan", s)
		}
	}
	if len(got.PowerSupplies) != 1 {
		t.Fatalf("power supplies %+v, want Bay1 only (Bay2 is Absent)", got.PowerSupplies)
	}
	if ps := got.PowerSupplies[0]; ps.Health != drivers.HealthWarning || ps.InputWatts == nil || *ps.InputWatts != 937.4 {
		t.Errorf("power supply %+v, want Warning with 937.4 W in", ps)
	}
	if got.Health == drivers.HealthUnknown || len(got.Parts) != 2 {
		t.Errorf("health %q parts %+v", got.Health, got.Parts)
	}
}

// TestTelemetryWithoutExpand reads the same mockup from a root that
// advertises no $expand (as BMCs without ProtocolFeaturesSupported do):
// the driver reads member by member and gets the same telemetry, in more
// requests.
func TestTelemetryWithoutExpand(t *testing.T) {
	src := mockups + "/public-rackmount1"
	dir := editedMockup(t, "public-rackmount1", "index.json", func(root map[string]any) {
		delete(root, "ProtocolFeaturesSupported")
	})
	read := func(mockup string) (*drivers.Telemetry, uint64) {
		sim := startSim(t, simulator.Config{MockupDir: mockup})
		d := newDriver(t, fastOptions())
		n := simNode(sim, sim.SystemIDs()[0], nil)
		if _, err := d.Telemetry(ctx(t), n); err != nil { // logs in, reads the root
			t.Fatal(err)
		}
		before := d.Stats().Requests
		got, err := d.Telemetry(ctx(t), n)
		if err != nil {
			t.Fatal(err)
		}
		return got, d.Stats().Requests - before
	}
	expanded, few := read(src)
	plain, many := read(dir)
	if !reflect.DeepEqual(expanded, plain) {
		t.Errorf("with $expand:\n%+v\nwithout:\n%+v", expanded, plain)
	}
	if few != 4 || many <= few {
		t.Errorf("%d requests with $expand, %d without: want 4, and more without", few, many)
	}
	t.Logf("public-rackmount1: %d requests per read with $expand, %d without", few, many)
}

// editedMockup copies a DMTF mockup bundle and edits one of its documents.
func editedMockup(t *testing.T, bundle, doc string, edit func(map[string]any)) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(mockups+"/"+bundle)); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	readJSON(t, filepath.Join(dir, doc), &v)
	edit(v)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, doc), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTelemetryThermalSubsystem reads a Chassis that links
// ThermalSubsystem but no Sensors collection: temperatures come from
// ThermalMetrics, fans from the Fans collection (RPM where given).
func TestTelemetryThermalSubsystem(t *testing.T) {
	dir := editedMockup(t, "public-rackmount1", "Chassis/1U/index.json", func(ch map[string]any) {
		delete(ch, "Sensors")
	})
	sim := startSim(t, simulator.Config{MockupDir: dir})
	d := newDriver(t, fastOptions())
	got, err := d.Telemetry(ctx(t), simNode(sim, sim.SystemIDs()[0], nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []drivers.Sensor{
		{Kind: drivers.SensorTemperature, Name: "Intake", Reading: 24.8},
		{Kind: drivers.SensorTemperature, Name: "Exhaust", Reading: 40.5},
		{Kind: drivers.SensorFan, Name: "Fan Bay 1", Context: "Chassis", Reading: 2200, Health: drivers.HealthOK},
		{Kind: drivers.SensorFan, Name: "Fan Bay 2", Context: "Chassis", Reading: 2400, Health: drivers.HealthOK},
		{Kind: drivers.SensorFan, Name: "Fan for CPU 1", Context: "CPU", Reading: 1490, Health: drivers.HealthOK},
		{Kind: drivers.SensorFan, Name: "Fan for CPU 2", Context: "CPU", Reading: 1490, Health: drivers.HealthOK},
	}
	if !reflect.DeepEqual(got.Sensors, want) {
		t.Errorf("sensors\n got %+v\nwant %+v", got.Sensors, want)
	}
	if got.Schema != redfishSchemaModern || got.PowerWatts == nil || *got.PowerWatts != 374 || len(got.PowerSupplies) != 1 {
		t.Errorf("schema %q power %v supplies %+v", got.Schema, got.PowerWatts, got.PowerSupplies)
	}
}
