package simulator

import (
	"maps"
	"math"
	"slices"
	"time"
)

// This file is the simulator's sensor model: what a system's temperatures,
// fans, voltages, power supplies and power draw read at a given moment. It
// holds no state of its own but the parts a test made fail: every reading is
// computed on read from the system's power state, its index and the
// simulator's clock, so 10,000 systems cost no goroutine, no timer and no
// memory per sensor. The Redfish face (telemetry.go) and the IPMI face
// render the same Telemetry, so what a client reads through either matches
// System.Telemetry at the same clock.

// Sensor is one sensor of a simulated system and its reading now.
type Sensor struct {
	// Kind is "temperature", "fan", "voltage", "current" or "power".
	Kind string
	// Name is unique within the system: "CPU1 Temp", "Fan1", "12V".
	Name string
	// Context is the Redfish PhysicalContext: "CPU", "Intake", "Exhaust",
	// "SystemBoard", "Fan", "PowerSupply", ...
	Context string
	// Reading is in the base unit: Cel, RPM (or percent for Percent fans),
	// V, A, W.
	Reading float64
	// Units is the Redfish ReadingUnits: "Cel", "RPM", "Percent", "V", "A",
	// "W".
	Units string
	// Health is "OK", "Warning" or "Critical".
	Health string
	// UpperCritical is the upper critical threshold, 0 when the sensor has
	// none.
	UpperCritical float64
}

// PowerSupply is one power supply unit of a simulated system. InputWatts
// and OutputWatts are 0 when the unit reports no reading: a failed unit, or
// a BMC that gives no per-unit input power (Quirks.NoPSUInputWatts).
type PowerSupply struct {
	Name, Health, State     string
	InputWatts, OutputWatts float64
}

// Telemetry is a snapshot of a system's sensors at the simulator's clock.
type Telemetry struct {
	// PowerWatts is the system's power draw now.
	PowerWatts    float64
	Sensors       []Sensor
	PowerSupplies []PowerSupply
	// SystemHealth is the ComputerSystem's Status.HealthRollup: the worst
	// health of the CPU sensors (the processors are the System's).
	// ChassisHealth is the Chassis' HealthRollup: the worst of every sensor
	// and power supply.
	SystemHealth, ChassisHealth string
}

// The health values of the model (Redfish Resource.Health).
const (
	HealthOK       = "OK"
	HealthWarning  = "Warning"
	HealthCritical = "Critical"
)

// sensorSpec is one sensor of the layout every system has.
type sensorSpec struct {
	kind, name, context, units string
	// on and off are the nominal readings powered on and off (standby);
	// spread is the per-system offset range and jitter the variation over
	// the clock, both as +/- amplitudes.
	on, off, spread, jitter float64
	upperCritical           float64
}

// Fan speeds: rpmMax is full speed, for Percent fans.
const (
	fanRPMOff = 1200.0  // standby: fans low
	fanRPMMin = 3000.0  // running, cool
	fanRPMPer = 120.0   // RPM per degree of the hottest CPU above 30 Cel
	fanRPMMax = 16000.0 // full speed
	// variationStep is how long one reading holds before the clock moves
	// it: readings change in steps, as a BMC's polled sensors do.
	variationStep = 10 * time.Second
	// psuEfficiency is output over input watts.
	psuEfficiency = 0.94
)

// sensorLayout is every system's sensors. The fans' readings follow the
// CPU temperatures (fanReading), the other readings follow the power state.
var sensorLayout = []sensorSpec{
	{kind: "temperature", name: "CPU1 Temp", context: "CPU", units: "Cel", on: 52, off: 26, spread: 4, jitter: 1.5, upperCritical: 95},
	{kind: "temperature", name: "CPU2 Temp", context: "CPU", units: "Cel", on: 49, off: 26, spread: 4, jitter: 1.5, upperCritical: 95},
	{kind: "temperature", name: "Inlet Temp", context: "Intake", units: "Cel", on: 23, off: 22, spread: 2, jitter: 0.3, upperCritical: 42},
	{kind: "temperature", name: "Exhaust Temp", context: "Exhaust", units: "Cel", on: 38, off: 24, spread: 3, jitter: 1, upperCritical: 75},
	{kind: "fan", name: "Fan1", context: "Fan", units: "RPM"},
	{kind: "fan", name: "Fan2", context: "Fan", units: "RPM"},
	{kind: "fan", name: "Fan3", context: "Fan", units: "RPM"},
	{kind: "fan", name: "Fan4", context: "Fan", units: "RPM"},
	{kind: "voltage", name: "12V", context: "SystemBoard", units: "V", on: 12.05, off: 12.0, spread: 0.05, jitter: 0.03, upperCritical: 12.6},
	{kind: "voltage", name: "5V", context: "SystemBoard", units: "V", on: 5.02, off: 5.0, spread: 0.02, jitter: 0.01, upperCritical: 5.25},
	{kind: "voltage", name: "3.3V", context: "SystemBoard", units: "V", on: 3.31, off: 3.3, spread: 0.01, jitter: 0.01, upperCritical: 3.47},
}

// psuNames are every system's power supplies; they share the load.
var psuNames = []string{"PSU1", "PSU2"}

// Power draw: standby when off, a per-system base and a load variation when
// on.
const (
	powerOffWatts  = 9.0
	powerOnWatts   = 210.0
	powerSpread    = 40.0
	powerJitter    = 12.0
	cpuWattsPerCel = 0.08 // CPU temperature rises with the draw above nominal
)

// Telemetry returns the system's sensor readings now. Two calls at the same
// simulator clock on the same system return the same readings; they move
// with the power state and, while on, vary a little in steps of ten seconds
// of the clock. Generated systems serve these readings over Redfish; a
// mockup system's Chassis serves its bundle's documents instead.
func (s *System) Telemetry() Telemetry {
	now := s.now()
	s.mu.Lock()
	s.settleLocked(now)
	on := s.power == PowerOn
	failed := s.parts // replaced, never mutated: safe to read unlocked
	s.mu.Unlock()
	return s.telemetryAt(now, on, failed, s.q())
}

// telemetryAt computes the readings of the system at now.
func (s *System) telemetryAt(now time.Time, on bool, failed map[string]string, q *Quirks) Telemetry {
	step := uint64(now.UnixNano() / int64(variationStep))
	seed := uint64(s.index)*0x9e3779b97f4a7c15 + 1
	// vary is a deterministic value in [-1, 1) for sensor k, fixed per
	// system (static) or per step of the clock.
	vary := func(k uint64, static bool) float64 {
		x := seed ^ k*0xbf58476d1ce4e5b9
		if !static {
			x ^= step * 0x94d049bb133111eb
		}
		return unitNoise(x)
	}
	t := Telemetry{PowerWatts: powerOffWatts + vary(100, true)}
	load := 0.0 // the draw's deviation from nominal, in watts
	if on {
		load = powerSpread*vary(101, true) + powerJitter*vary(102, false)
		t.PowerWatts = powerOnWatts + load
	}
	t.PowerWatts = round(t.PowerWatts, 1)

	t.Sensors = make([]Sensor, 0, len(sensorLayout))
	hottest := 0.0
	for i, sp := range sensorLayout {
		if sp.kind == "fan" {
			continue
		}
		k := uint64(i)
		r := sp.off + sp.spread*vary(k, true)/2
		if on {
			r = sp.on + sp.spread*vary(k, true) + sp.jitter*vary(k, false)
			if sp.context == "CPU" {
				r += load * cpuWattsPerCel
			}
		}
		sn := Sensor{Kind: sp.kind, Name: sp.name, Context: sp.context, Reading: r, Units: sp.units, Health: HealthOK, UpperCritical: sp.upperCritical}
		if h := failed[sp.name]; h != "" {
			sn.Health = h
			sn.Reading = failedReading(sp, h)
		}
		sn.Reading = round(sn.Reading, 2)
		if sp.context == "CPU" {
			hottest = math.Max(hottest, sn.Reading)
		}
		t.Sensors = append(t.Sensors, sn)
	}
	// Fans follow the hottest CPU; they come after the temperatures in the
	// layout's order.
	fans := make([]Sensor, 0, 4)
	for i, sp := range sensorLayout {
		if sp.kind != "fan" {
			continue
		}
		rpm := fanRPMOff + 100*vary(uint64(i), true)
		if on {
			rpm = fanRPMMin + fanRPMPer*math.Max(0, hottest-30) + 150*vary(uint64(i), false)
		}
		sn := Sensor{Kind: sp.kind, Name: sp.name, Context: sp.context, Units: "RPM", Health: HealthOK}
		switch failed[sp.name] {
		case HealthCritical:
			sn.Health, rpm = HealthCritical, 0 // stopped
		case HealthWarning:
			sn.Health, rpm = HealthWarning, fanRPMOff/2 // failing bearing
		}
		sn.Reading = math.Round(rpm)
		if q.FanPercent {
			sn.Units, sn.Reading = "Percent", math.Round(100*rpm/fanRPMMax)
		}
		fans = append(fans, sn)
	}
	// Keep the layout's order: temperatures, fans, voltages.
	nTemp := 0
	for _, sn := range t.Sensors {
		if sn.Kind == "temperature" {
			nTemp++
		}
	}
	t.Sensors = slices.Insert(t.Sensors, nTemp, fans...)

	working := 0
	for _, name := range psuNames {
		if failed[name] != HealthCritical {
			working++
		}
	}
	t.PowerSupplies = make([]PowerSupply, len(psuNames))
	for i, name := range psuNames {
		ps := PowerSupply{Name: name, Health: HealthOK, State: "Enabled"}
		if h := failed[name]; h != "" {
			ps.Health = h
		}
		if ps.Health != HealthCritical && working > 0 {
			in := round(t.PowerWatts/float64(working), 1)
			ps.OutputWatts = round(in*psuEfficiency, 1)
			if !q.NoPSUInputWatts {
				ps.InputWatts = in
			}
		}
		t.PowerSupplies[i] = ps
	}

	t.SystemHealth, t.ChassisHealth = rollupsOf(failed)
	return t
}

// Rollups returns the System's and the Chassis' HealthRollup, as Telemetry
// does, without computing the readings: health follows from the failed
// parts alone. The Redfish face renders it on every System and Chassis.
func (s *System) Rollups() (system, chassis string) {
	s.mu.Lock()
	failed := s.parts
	s.mu.Unlock()
	return rollupsOf(failed)
}

// rollupsOf is the System's and Chassis' rollup given the failed parts.
func rollupsOf(failed map[string]string) (system, chassis string) {
	system, chassis = HealthOK, HealthOK
	for _, sp := range sensorLayout {
		h := failed[sp.name]
		chassis = worseHealth(chassis, h)
		if sp.context == "CPU" {
			system = worseHealth(system, h)
		}
	}
	for _, name := range psuNames {
		chassis = worseHealth(chassis, failed[name])
	}
	return system, chassis
}

// failedReading is what a failing temperature or voltage reads: above its
// threshold when Critical, just below it when Warning.
func failedReading(sp sensorSpec, h string) float64 {
	margin := math.Max(0.02*sp.upperCritical, 0.05)
	if h == HealthCritical {
		return sp.upperCritical + margin
	}
	return sp.upperCritical - margin
}

// SetPartHealth makes one part of the system fail, or recover: part is a
// sensor's or power supply's name ("PSU1", "CPU1 Temp", "Fan2"), health is
// Warning or Critical, or OK (or "") to clear. A failed temperature or
// voltage reads above its UpperCritical (Critical) or just below it
// (Warning); a failed fan reads 0 (Critical) or slow (Warning); a Critical
// power supply reports no readings and the others carry the load. The
// rollups follow. Also PUT /sim/systems/{id}/parts/{part}.
func (s *System) SetPartHealth(part, health string) error {
	if !slices.Contains(partNames(), part) {
		return invalid("Part", part, partNames())
	}
	allowed := []string{HealthOK, HealthWarning, HealthCritical}
	if health != "" && !slices.Contains(allowed, health) {
		return invalid("Health", health, allowed)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := maps.Clone(s.parts)
	if next == nil {
		next = map[string]string{}
	}
	if health == "" || health == HealthOK {
		delete(next, part)
	} else {
		next[part] = health
	}
	if len(next) == 0 {
		next = nil
	}
	before := overallHealth(s.parts)
	s.parts = next
	s.gen.system++                               // the System's and Chassis' HealthRollup change
	s.healthChanged(before, overallHealth(next)) // an event to subscribers (eventservice.go)
	return nil
}

// overallHealth is the worse of the System's and Chassis' rollups: the
// machine's health as a health event reports it.
func overallHealth(failed map[string]string) string {
	sys, chassis := rollupsOf(failed)
	return worseHealth(sys, chassis)
}

// PartHealth returns the parts made to fail with SetPartHealth and their
// health.
func (s *System) PartHealth() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.parts)
}

// partNames are the names SetPartHealth takes.
func partNames() []string {
	names := make([]string, 0, len(sensorLayout)+len(psuNames))
	for _, sp := range sensorLayout {
		names = append(names, sp.name)
	}
	return append(names, psuNames...)
}

// worseHealth returns the worse of two health values.
func worseHealth(a, b string) string {
	rank := func(h string) int {
		switch h {
		case HealthWarning:
			return 1
		case HealthCritical:
			return 2
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// unitNoise maps x to [-1, 1) by the splitmix64 finalizer.
func unitNoise(x uint64) float64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11)/float64(1<<52) - 1
}

// round rounds x to the given decimals.
func round(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}
