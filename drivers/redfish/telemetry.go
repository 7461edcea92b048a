package redfish

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Telemetry reads the health rollups, the power draw, the sensors and the
// power supplies of a node, from whichever schema generation its Chassis
// links, in as few requests as the BMC allows:
//
//   - the System with its Links expanded (?$expand=~) where the BMC
//     advertises ExpandQuery.Links, which brings the Chassis and the
//     Manager in the same answer; else the three one by one. They give the
//     System's and the Chassis' Status.HealthRollup, Manufacturer, Model
//     and the Manager's FirmwareVersion;
//   - where the Chassis links the generation DMTF introduced in Redfish
//     2020.4 (PowerSubsystem, ThermalSubsystem, EnvironmentMetrics,
//     Sensors), that one: EnvironmentMetrics.PowerWatts, the Sensors
//     collection with its members (?$expand=.), the PowerSubsystem with its
//     power supplies and their Metrics (?$expand=.($levels=3)); where the
//     Chassis has no Sensors collection, the temperatures of
//     ThermalSubsystem's ThermalMetrics and its Fans instead;
//   - else the deprecated Power (PowerControl[].PowerConsumedWatts,
//     PowerSupplies, Voltages) and Thermal (Temperatures, Fans).
//
// The service root's ProtocolFeaturesSupported is read once per client
// (the BMC and user), not once per read. A property the BMC does not give
// is absent from the result, never a zero: a sensor without a reading is
// left out, a power supply without input watts has InputWatts nil. Only
// GETs are sent. Requests per read on the simulator's profiles are in
// docs/drivers.md.

// Telemetry implements drivers.TelemetryReader. Read-only.
func (d *Driver) Telemetry(ctx context.Context, n drivers.Node) (*drivers.Telemetry, error) {
	var t *drivers.Telemetry
	err := d.run(ctx, n, drivers.ManagementInterface, "read telemetry", func(cl *call) (err error) {
		t, err = readTelemetry(cl)
		return err
	})
	return t, err
}

var _ drivers.TelemetryReader = (*Driver)(nil)

// Schema generations, as Telemetry.Schema names them.
const (
	schemaLegacy = "Power/Thermal"
	schemaModern = "PowerSubsystem/ThermalSubsystem"
)

// expandFeatures is what a BMC's service root says of $expand.
type expandFeatures struct {
	// members: ?$expand=. expands a collection's members.
	members bool
	// links: ?$expand=~ expands the references in Links.
	links bool
	// maxLevels is the deepest $levels the BMC takes (0: no $levels).
	maxLevels int
}

// features returns the BMC's $expand support, read from the service root
// on the client's first telemetry read and kept with the client.
func (cl *call) features() (expandFeatures, error) {
	cl.c.mu.Lock()
	f := cl.c.expand
	cl.c.mu.Unlock()
	if f != nil {
		return *f, nil
	}
	var root struct {
		ProtocolFeaturesSupported struct {
			ExpandQuery *struct {
				ExpandAll, Levels, Links, NoLinks bool
				MaxLevels                         int
			}
		}
	}
	if err := cl.getJSON(serviceRoot, &root); err != nil {
		return expandFeatures{}, err
	}
	var out expandFeatures
	if q := root.ProtocolFeaturesSupported.ExpandQuery; q != nil {
		out.members = q.NoLinks || q.ExpandAll
		out.links = q.Links || q.ExpandAll
		if q.Levels {
			out.maxLevels = q.MaxLevels
		}
	}
	cl.c.mu.Lock()
	cl.c.expand = &out
	cl.c.mu.Unlock()
	return out, nil
}

// rfStatus is a Resource.Status.
type rfStatus struct {
	State, Health, HealthRollup string
}

// rollup is the resource's HealthRollup, or its own Health where the BMC
// gives no rollup.
func (s rfStatus) rollup() drivers.Health {
	if s.HealthRollup != "" {
		return drivers.Health(s.HealthRollup)
	}
	return drivers.Health(s.Health)
}

// absentPart reports whether a part is not installed (Status.State Absent):
// such a sensor or supply is left out.
func (s rfStatus) absentPart() bool { return s.State == "Absent" }

// telSystem, telChassis and telManager are what a read needs of the System,
// its Chassis and its Manager.
type telSystem struct {
	ID                  string `json:"Id"`
	Manufacturer, Model string
	Status              rfStatus
	Links               struct {
		Chassis, ManagedBy []json.RawMessage
	}
}

type telChassis struct {
	ID                                                                   string `json:"Id"`
	Status                                                               rfStatus
	Power, Thermal, PowerSubsystem, ThermalSubsystem, EnvironmentMetrics *ref
	Sensors                                                              *ref
}

type telManager struct {
	FirmwareVersion string
}

// readTelemetry makes one read.
func readTelemetry(cl *call) (*drivers.Telemetry, error) {
	f, err := cl.features()
	if err != nil {
		return nil, err
	}
	sp, err := cl.systemPath()
	if err != nil {
		return nil, err
	}
	in := &inspector{cl: cl, expand: f.members}
	path := sp
	if f.links {
		path += "?$expand=~"
	}
	var sys telSystem
	if err := in.get(path, &sys); err != nil {
		return nil, err
	}
	t := &drivers.Telemetry{Vendor: sys.Manufacturer, Model: sys.Model}
	t.Parts = append(t.Parts, drivers.HealthPart{Resource: "System", ID: sys.ID, Health: sys.Status.rollup()})
	var ch telChassis
	var mgr telManager
	var chErr, mgrErr error
	var wg sync.WaitGroup
	if len(sys.Links.ManagedBy) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mgrErr = inlineOr(in, sys.Links.ManagedBy[0], &mgr)
		}()
	}
	if len(sys.Links.Chassis) > 0 {
		chErr = inlineOr(in, sys.Links.Chassis[0], &ch)
	}
	wg.Wait()
	if err := errors.Join(chErr, mgrErr); err != nil {
		return nil, err
	}
	t.FirmwareVersion = mgr.FirmwareVersion
	if len(sys.Links.Chassis) > 0 {
		t.Parts = append(t.Parts, drivers.HealthPart{Resource: "Chassis", ID: ch.ID, Health: ch.Status.rollup()})
	}
	for _, p := range t.Parts {
		t.Health = t.Health.Worse(p.Health)
	}
	switch {
	case ch.Sensors != nil || ch.PowerSubsystem != nil || ch.EnvironmentMetrics != nil || ch.ThermalSubsystem != nil:
		t.Schema = schemaModern
		err = readModern(in, f, &ch, t)
	case ch.Power != nil || ch.Thermal != nil:
		t.Schema = schemaLegacy
		err = readLegacy(in, &ch, t)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// isLink reports whether a JSON object is a bare reference (an @odata.id,
// maybe with its etag) rather than the resource expanded in place.
func isLink(m map[string]json.RawMessage) bool {
	_, ok := m["@odata.id"]
	return ok && len(m) <= 2
}

// inlineOr decodes a reference into v: the resource itself where the BMC
// expanded it, else read from its link.
func inlineOr(in *inspector, raw json.RawMessage, v any) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return rejected("a link that is not an object: %v", err)
	}
	if !isLink(m) {
		return json.Unmarshal(raw, v)
	}
	var l ref
	if err := json.Unmarshal(raw, &l); err != nil || l.ID == "" {
		return rejected("a link without @odata.id")
	}
	return in.get(l.ID, v)
}

// parallel runs fns concurrently and joins their errors.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// reading is a SensorExcerpt ({"Reading": x}) or a Sensor's Reading.
type reading struct {
	Reading *float64
}

// rfSensor is a member of the Sensors collection.
type rfSensor struct {
	ID                                               string `json:"@odata.id"`
	Name, ReadingType, ReadingUnits, PhysicalContext string
	Reading                                          *float64
	Status                                           rfStatus
}

// sensorKinds maps a Sensor's ReadingType to the contract's kinds;
// Percent is a fan's only where the sensor says it is one (fanPercent).
var sensorKinds = map[string]drivers.SensorKind{
	"Temperature": drivers.SensorTemperature, "Rotational": drivers.SensorFan,
	"Voltage": drivers.SensorVoltage, "Current": drivers.SensorCurrent, "Power": drivers.SensorPower,
}

// unitKinds is the kind of a sensor without ReadingType, from its
// ReadingUnits (DMTF's public-rackmount1 mockup gives its temperatures no
// ReadingType).
var unitKinds = map[string]drivers.SensorKind{
	"Cel": drivers.SensorTemperature, "RPM": drivers.SensorFan, "V": drivers.SensorVoltage,
	"A": drivers.SensorCurrent, "W": drivers.SensorPower,
}

// fanPercent reports whether a Percent sensor is a fan's speed (bmcweb
// reports fan_pwm sensors so; a Percent humidity or battery health sensor
// is not a fan).
func fanPercent(s rfSensor) bool {
	percent := s.ReadingType == "Percent" || (s.ReadingType == "" && s.ReadingUnits == "%")
	return percent && (s.PhysicalContext == "Fan" || strings.Contains(strings.ToLower(s.Name), "fan"))
}

// sensorOf converts a Sensor resource; ok is false for a sensor of another
// kind, without a reading, or not installed.
func sensorOf(s rfSensor) (drivers.Sensor, bool) {
	kind, ok := sensorKinds[s.ReadingType]
	if s.ReadingType == "" {
		kind, ok = unitKinds[s.ReadingUnits]
	}
	pct := fanPercent(s)
	if pct {
		kind, ok = drivers.SensorFan, true
	}
	if !ok || s.Reading == nil || s.Status.absentPart() {
		return drivers.Sensor{}, false
	}
	return drivers.Sensor{
		Kind: kind, Name: s.Name, Context: s.PhysicalContext, Reading: *s.Reading,
		Percent: pct, Health: drivers.Health(s.Status.Health),
	}, true
}

// readModern reads EnvironmentMetrics, the Sensors collection and the
// PowerSubsystem's power supplies, concurrently. The sensor
// EnvironmentMetrics.PowerWatts names as its source is the node's draw,
// PowerWatts, and not a sensor.
func readModern(in *inspector, f expandFeatures, ch *telChassis, t *drivers.Telemetry) error {
	var env struct {
		PowerWatts struct {
			Reading       *float64
			DataSourceURI string `json:"DataSourceUri"`
		}
	}
	var sensors []rfSensor
	var fns []func() error
	if ch.EnvironmentMetrics != nil {
		fns = append(fns, func() error { return in.get(ch.EnvironmentMetrics.ID, &env) })
	}
	if ch.Sensors != nil {
		fns = append(fns, func() (err error) {
			sensors, err = members[rfSensor](in, ch.Sensors.ID)
			return err
		})
	}
	var thermal []drivers.Sensor
	if ch.Sensors == nil && ch.ThermalSubsystem != nil {
		fns = append(fns, func() (err error) {
			thermal, err = thermalSubsystem(in, ch.ThermalSubsystem.ID)
			return err
		})
	}
	if ch.PowerSubsystem != nil {
		fns = append(fns, func() (err error) {
			t.PowerSupplies, err = powerSubsystem(in, f, ch.PowerSubsystem.ID)
			return err
		})
	}
	if err := parallel(fns...); err != nil {
		return err
	}
	t.Sensors = thermal
	t.PowerWatts = env.PowerWatts.Reading
	for _, s := range sensors {
		if s.ID != "" && s.ID == env.PowerWatts.DataSourceURI {
			continue
		}
		if sn, ok := sensorOf(s); ok {
			t.Sensors = append(t.Sensors, sn)
		}
	}
	return nil
}

// rfFan is a Fan of a ThermalSubsystem.
type rfFan struct {
	Name, PhysicalContext string
	Status                rfStatus
	SpeedPercent          *struct{ Reading, SpeedRPM *float64 }
}

// thermalSubsystem reads the temperatures of ThermalMetrics and the fans
// of the Fans collection, for a Chassis without a Sensors collection. A
// temperature is named by its DeviceName and has no health of its own
// there; a fan reads SpeedRPM where given, else its percent.
func thermalSubsystem(in *inspector, path string) ([]drivers.Sensor, error) {
	var sub struct{ ThermalMetrics, Fans *ref }
	if err := in.get(path, &sub); err != nil {
		return nil, err
	}
	var temps []drivers.Sensor
	var fans []rfFan
	var fns []func() error
	if sub.ThermalMetrics != nil {
		fns = append(fns, func() error {
			var m struct {
				TemperatureReadingsCelsius []struct {
					DeviceName, PhysicalContext string
					Reading                     *float64
				}
			}
			if err := in.get(sub.ThermalMetrics.ID, &m); err != nil {
				return err
			}
			for _, r := range m.TemperatureReadingsCelsius {
				if r.Reading != nil {
					temps = append(temps, drivers.Sensor{Kind: drivers.SensorTemperature, Name: r.DeviceName, Context: r.PhysicalContext, Reading: *r.Reading})
				}
			}
			return nil
		})
	}
	if sub.Fans != nil {
		fns = append(fns, func() (err error) {
			fans, err = members[rfFan](in, sub.Fans.ID)
			return err
		})
	}
	if err := parallel(fns...); err != nil {
		return nil, err
	}
	for _, f := range fans {
		if f.SpeedPercent == nil || f.Status.absentPart() {
			continue
		}
		s := drivers.Sensor{Kind: drivers.SensorFan, Name: f.Name, Context: f.PhysicalContext, Health: drivers.Health(f.Status.Health)}
		switch {
		case f.SpeedPercent.SpeedRPM != nil:
			s.Reading = *f.SpeedPercent.SpeedRPM
		case f.SpeedPercent.Reading != nil:
			s.Reading, s.Percent = *f.SpeedPercent.Reading, true
		default:
			continue
		}
		temps = append(temps, s)
	}
	return temps, nil
}

// rfSupply is a PowerSupply of a PowerSubsystem, with its Metrics inline
// where the BMC expanded them.
type rfSupply struct {
	Name    string
	Status  rfStatus
	Metrics json.RawMessage
}

// rfSupplyMetrics is a PowerSupplyMetrics.
type rfSupplyMetrics struct {
	InputPowerWatts, OutputPowerWatts *reading
}

// powerSubsystem reads the power supplies and their metrics: in one
// request where the BMC expands three levels (the collection, its members,
// their Metrics), else the collection (with its members where it expands
// one level) and each unit's Metrics; what a BMC leaves as a link is read
// from it.
func powerSubsystem(in *inspector, f expandFeatures, path string) ([]drivers.PowerSupply, error) {
	p := path
	if f.members && f.maxLevels >= 3 {
		p += "?$expand=.($levels=3)"
	}
	var sub struct{ PowerSupplies map[string]json.RawMessage }
	if err := in.get(p, &sub); err != nil {
		return nil, err
	}
	if sub.PowerSupplies == nil {
		return nil, nil
	}
	var supplies []rfSupply
	if isLink(sub.PowerSupplies) {
		var l ref
		if err := json.Unmarshal(sub.PowerSupplies["@odata.id"], &l.ID); err != nil {
			return nil, rejected("%s links its PowerSupplies without a URI", path)
		}
		var err error
		if supplies, err = members[rfSupply](in, l.ID); err != nil {
			return nil, err
		}
	} else {
		var ms []json.RawMessage
		if err := json.Unmarshal(sub.PowerSupplies["Members"], &ms); err != nil {
			return nil, rejected("%s lists its PowerSupplies without Members", path)
		}
		supplies = make([]rfSupply, len(ms))
		for i, raw := range ms {
			if err := inlineOr(in, raw, &supplies[i]); err != nil {
				return nil, err
			}
		}
	}
	out := make([]drivers.PowerSupply, 0, len(supplies))
	metrics := make([]rfSupplyMetrics, len(supplies))
	var fns []func() error
	for i, s := range supplies {
		if s.Status.absentPart() {
			continue
		}
		if len(s.Metrics) > 0 && string(s.Metrics) != "null" {
			fns = append(fns, func() error { return inlineOr(in, s.Metrics, &metrics[i]) })
		}
	}
	if err := parallel(fns...); err != nil {
		return nil, err
	}
	for i, s := range supplies {
		if s.Status.absentPart() {
			continue
		}
		ps := drivers.PowerSupply{Name: s.Name, Health: drivers.Health(s.Status.Health), State: s.Status.State}
		if m := metrics[i].InputPowerWatts; m != nil {
			ps.InputWatts = m.Reading
		}
		if m := metrics[i].OutputPowerWatts; m != nil {
			ps.OutputWatts = m.Reading
		}
		out = append(out, ps)
	}
	return out, nil
}

// legacyItem is a member of Power's or Thermal's arrays: a temperature, a
// fan, a voltage or a power supply, whichever properties it has.
type legacyItem struct {
	Name, FanName, PhysicalContext, ReadingUnits string
	Status                                       rfStatus
	ReadingCelsius, ReadingVolts, Reading        *float64
	// ReadingRPM is Thermal v1_0's fan reading, before Reading.
	ReadingRPM                                              *float64
	PowerInputWatts, PowerOutputWatts, LastPowerOutputWatts *float64
}

// readLegacy reads Power and Thermal, concurrently.
func readLegacy(in *inspector, ch *telChassis, t *drivers.Telemetry) error {
	var power struct {
		PowerControl            []struct{ PowerConsumedWatts *float64 }
		PowerSupplies, Voltages []legacyItem
	}
	var thermal struct{ Temperatures, Fans []legacyItem }
	var fns []func() error
	if ch.Power != nil {
		fns = append(fns, func() error { return in.get(ch.Power.ID, &power) })
	}
	if ch.Thermal != nil {
		fns = append(fns, func() error { return in.get(ch.Thermal.ID, &thermal) })
	}
	if err := parallel(fns...); err != nil {
		return err
	}
	for _, pc := range power.PowerControl {
		if pc.PowerConsumedWatts != nil {
			t.PowerWatts = pc.PowerConsumedWatts
			break
		}
	}
	add := func(kind drivers.SensorKind, it legacyItem, r *float64, pct bool) {
		if r == nil || it.Status.absentPart() {
			return
		}
		name := it.Name
		if name == "" {
			name = it.FanName
		}
		t.Sensors = append(t.Sensors, drivers.Sensor{
			Kind: kind, Name: name, Context: it.PhysicalContext, Reading: *r, Percent: pct,
			Health: drivers.Health(it.Status.Health),
		})
	}
	for _, it := range thermal.Temperatures {
		add(drivers.SensorTemperature, it, it.ReadingCelsius, false)
	}
	for _, it := range thermal.Fans {
		r := it.Reading
		if r == nil {
			r = it.ReadingRPM
		}
		add(drivers.SensorFan, it, r, it.ReadingUnits == "Percent")
	}
	for _, it := range power.Voltages {
		add(drivers.SensorVoltage, it, it.ReadingVolts, false)
	}
	for _, it := range power.PowerSupplies {
		if it.Status.absentPart() {
			continue
		}
		out := it.PowerOutputWatts
		if out == nil {
			out = it.LastPowerOutputWatts
		}
		t.PowerSupplies = append(t.PowerSupplies, drivers.PowerSupply{
			Name: it.Name, Health: drivers.Health(it.Status.Health), State: it.Status.State,
			InputWatts: it.PowerInputWatts, OutputWatts: out,
		})
	}
	return nil
}
