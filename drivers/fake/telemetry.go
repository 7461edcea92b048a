package fake

import (
	"context"
	"fmt"
	"strconv"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// InfoSensors is the driver_info key giving the number of sensors the fake
// BMC reports (default DefaultSensors), e.g. 40 for a fleet benchmark.
const InfoSensors = "fake_sensors"

// DefaultSensors is the number of sensors of a fake node without
// InfoSensors.
const DefaultSensors = 12

// MaxSensors bounds InfoSensors.
const MaxSensors = 1000

// SetHealth sets the health rollup the node's fake BMC reports; the zero
// Health is OK, the default.
func (d *Driver) SetHealth(uuid string, h drivers.Health) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.machineLocked(uuid).health = h
}

// SetTelemetry makes the node's fake BMC report t (a copy of it) instead of
// the generated readings; nil goes back to them. Faults still apply.
func (d *Driver) SetTelemetry(uuid string, t *drivers.Telemetry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.machineLocked(uuid).telemetry = cloneTelemetry(t)
}

// Telemetry implements drivers.TelemetryReader. Unless SetTelemetry fixed
// them, the readings follow the power state (a powered-off machine draws a
// little standby power and is cool), and the fake reports no current sensor
// and no power supply output, so that absent readings can be told from
// zeros: the kinds it reports are temperatures, fans (one in percent),
// voltages and power supply input.
func (d *Driver) Telemetry(ctx context.Context, n drivers.Node) (*drivers.Telemetry, error) {
	m, err := d.enter(ctx, n, "read telemetry")
	if err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	if m.telemetry != nil {
		return cloneTelemetry(m.telemetry), nil
	}
	count := DefaultSensors
	if s, ok := n.Info.String(InfoSensors); ok {
		if v, err := strconv.Atoi(s); err == nil {
			count = v
		}
	}
	return generated(m, count), nil
}

// generated is the fake BMC's reading of m with count sensors.
func generated(m *machine, count int) *drivers.Telemetry {
	on := m.power == drivers.PowerOn
	watts, temp, rpm := 12.0, 24.0, 0.0 // standby
	if on {
		watts, temp, rpm = 245.0, 52.0, 6200.0
	}
	health := m.health
	if health == drivers.HealthUnknown {
		health = drivers.HealthOK
	}
	t := &drivers.Telemetry{
		Health: health,
		Parts: []drivers.HealthPart{
			{Resource: "System", ID: "1", Health: health},
			{Resource: "Chassis", ID: "1", Health: drivers.HealthOK},
		},
		PowerWatts: &watts,
		Vendor:     "Fake", Model: "Fake Machine", FirmwareVersion: "fake-bmc-1.0",
		Schema: "Fake",
	}
	psuIn := watts / 2
	for i := range 2 {
		t.PowerSupplies = append(t.PowerSupplies, drivers.PowerSupply{
			Name: fmt.Sprintf("PSU%d", i+1), Health: drivers.HealthOK, State: "Enabled", InputWatts: &psuIn,
		})
	}
	for i := range count {
		var s drivers.Sensor
		switch i % 4 {
		case 0:
			s = drivers.Sensor{Kind: drivers.SensorTemperature, Name: fmt.Sprintf("CPU%d Temp", i/4+1), Context: "CPU", Reading: temp + float64(i%7)}
		case 1:
			s = drivers.Sensor{Kind: drivers.SensorFan, Name: fmt.Sprintf("Fan%d", i/4+1), Context: "SystemBoard", Reading: rpm}
		case 2:
			s = drivers.Sensor{Kind: drivers.SensorVoltage, Name: fmt.Sprintf("Rail%d", i/4+1), Context: "SystemBoard", Reading: 12}
		default:
			s = drivers.Sensor{Kind: drivers.SensorTemperature, Name: fmt.Sprintf("Inlet%d Temp", i/4+1), Context: "Intake", Reading: 22}
		}
		s.Health = drivers.HealthOK
		t.Sensors = append(t.Sensors, s)
	}
	if count > 1 {
		t.Sensors[1].Percent, t.Sensors[1].Reading = true, rpm/100 // a fan the BMC reports in percent
	}
	return t
}

func cloneTelemetry(t *drivers.Telemetry) *drivers.Telemetry {
	if t == nil {
		return nil
	}
	c := *t
	c.Parts = append([]drivers.HealthPart(nil), t.Parts...)
	c.Sensors = append([]drivers.Sensor(nil), t.Sensors...)
	c.PowerSupplies = append([]drivers.PowerSupply(nil), t.PowerSupplies...)
	c.PowerWatts = clonePtr(t.PowerWatts)
	for i := range c.PowerSupplies {
		c.PowerSupplies[i].InputWatts = clonePtr(c.PowerSupplies[i].InputWatts)
		c.PowerSupplies[i].OutputWatts = clonePtr(c.PowerSupplies[i].OutputWatts)
	}
	return &c
}

func clonePtr(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

var _ drivers.TelemetryReader = (*Driver)(nil)
