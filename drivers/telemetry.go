package drivers

import "context"

// TelemetryReader reads a node's health and sensor readings from its BMC:
// the health rollup, power draw, temperatures, fans, voltages and power
// supplies. Read-only; safe on a shared task. A driver reports what its BMC
// offers and leaves out what it does not: a sensor the BMC has no reading
// for is absent from Telemetry, never a zero.
type TelemetryReader interface {
	Telemetry(ctx context.Context, n Node) (*Telemetry, error)
}

// MethodTelemetry is TelemetryReader.Telemetry in the method table. It
// belongs to the management interface, as the firmware reader does: Ironic
// has no telemetry interface of its own.
var MethodTelemetry = Method{ManagementInterface, "Telemetry", false, has[TelemetryReader]}

// Telemetry reads the node's health and sensors (TelemetryReader).
func (h *Handle) Telemetry(ctx context.Context) (t *Telemetry, err error) {
	err = h.invoke(ctx, MethodTelemetry, 0, func(ctx context.Context, n Node) (err error) {
		t, err = h.d.(TelemetryReader).Telemetry(ctx, n)
		return err
	})
	return t, err
}

// Health is a Redfish health value (Resource.Health): OK, Warning or
// Critical. The zero value means the BMC did not say.
type Health string

// The health values of the Redfish Resource schema.
const (
	HealthUnknown  Health = ""
	HealthOK       Health = "OK"
	HealthWarning  Health = "Warning"
	HealthCritical Health = "Critical"
)

// Worse returns the worse of h and o (Critical > Warning > OK > unknown).
func (h Health) Worse(o Health) Health {
	if healthRank(o) > healthRank(h) {
		return o
	}
	return h
}

func healthRank(h Health) int {
	switch h {
	case HealthOK:
		return 1
	case HealthWarning:
		return 2
	case HealthCritical:
		return 3
	}
	return 0
}

// SensorKind is what a sensor measures; each kind has one unit.
type SensorKind string

// The sensor kinds and their units.
const (
	SensorTemperature SensorKind = "temperature" // degrees Celsius
	SensorFan         SensorKind = "fan"         // RPM, or percent of full speed (Sensor.Percent)
	SensorVoltage     SensorKind = "voltage"     // volts
	SensorCurrent     SensorKind = "current"     // amperes
	SensorPower       SensorKind = "power"       // watts (a power supply's or a rail's, not the node's draw)
)

// Sensor is one reading of one sensor, in the base unit of its Kind.
type Sensor struct {
	Kind SensorKind `json:"kind"`
	// Name is the sensor's name as the BMC gives it ("CPU1 Temp", "Fan1",
	// "12V"), unique per Kind within one node's Telemetry.
	Name string `json:"name"`
	// Context is where the sensor sits, from the BMC's PhysicalContext
	// (Redfish) or entity id (IPMI) when it says: "CPU", "Intake",
	// "SystemBoard", ... Empty when unknown.
	Context string `json:"context,omitempty"`
	// Reading is the value in the kind's base unit; always finite (a BMC's
	// NaN or infinity is no reading, and the sensor is absent).
	Reading float64 `json:"reading"`
	// Percent is set for a fan whose BMC reports percent of full speed
	// instead of RPM (Redfish ReadingUnits "Percent").
	Percent bool `json:"percent,omitempty"`
	// Health is the sensor's own status, if the BMC gives one.
	Health Health `json:"health,omitempty"`
}

// PowerSupply is one power supply unit.
type PowerSupply struct {
	Name   string `json:"name"`
	Health Health `json:"health,omitempty"`
	// State is the Redfish Status.State: Enabled, Absent, UnavailableOffline,
	// ... Empty when unknown.
	State string `json:"state,omitempty"`
	// InputWatts and OutputWatts are the unit's power, nil when not
	// reported.
	InputWatts  *float64 `json:"input_watts,omitempty"`
	OutputWatts *float64 `json:"output_watts,omitempty"`
}

// HealthPart is the health rollup of one resource the BMC reports on: the
// System, a Chassis, ...
type HealthPart struct {
	// Resource is the kind of resource: "System", "Chassis", "Manager".
	Resource string `json:"resource"`
	// ID is the resource's id on the BMC ("1", "System.Embedded.1").
	ID     string `json:"id"`
	Health Health `json:"health"`
}

// Telemetry is one read of a node's telemetry.
type Telemetry struct {
	// Health is the worst HealthRollup over Parts; HealthUnknown when the
	// protocol has none (IPMI).
	Health Health       `json:"health,omitempty"`
	Parts  []HealthPart `json:"parts,omitempty"`
	// PowerWatts is the node's current power consumption (Redfish
	// PowerControl.PowerConsumedWatts or the PowerSubsystem's/
	// EnvironmentMetrics' PowerWatts; IPMI DCMI power reading), nil when the
	// BMC offers none.
	PowerWatts    *float64      `json:"power_watts,omitempty"`
	Sensors       []Sensor      `json:"sensors,omitempty"`
	PowerSupplies []PowerSupply `json:"power_supplies,omitempty"`
	// Vendor, Model and FirmwareVersion describe the machine and its BMC
	// (System.Manufacturer, System.Model, Manager.FirmwareVersion), each
	// empty when unknown.
	Vendor          string `json:"vendor,omitempty"`
	Model           string `json:"model,omitempty"`
	FirmwareVersion string `json:"firmware_version,omitempty"`
	// Schema names the schema generation read, for operators and tests:
	// "Power/Thermal", "PowerSubsystem/ThermalSubsystem" or "IPMI".
	Schema string `json:"schema,omitempty"`
}
