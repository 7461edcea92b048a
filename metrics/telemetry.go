package metrics

import (
	"cmp"
	"slices"
	"strings"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TelemetrySource is what the telemetry collector reads (*telemetry.Cache).
type TelemetrySource interface {
	Entries() []*telemetry.Entry
	Dropped() uint64
	MaxSensors() int
}

// telemetryPrefix prefixes the hardware's metrics: they describe BMCs and
// what they measure, not the agent, so they are bmc_*, not bmc_agent_*.
const telemetryPrefix = "bmc_"

// Telemetry exports the telemetry cache: every series is built at scrape
// time from the cache (const metrics), so a scrape never calls a BMC and
// costs the same whatever the scrape interval. It is the one collector
// whose series carry node labels (node_uuid, node_name): the node is what a
// hardware metric is about. Cardinality is bounded by the nodes this agent
// owns times (about ten series per node plus one per sensor, at most the
// cache's per-node sensor cap); a sensor the BMC does not report has no
// series, never a zero.
type Telemetry struct {
	src TelemetrySource

	up, duration, lastSuccess, health, component, power, info *prometheus.Desc
	byKind                                                    map[drivers.SensorKind]*prometheus.Desc
	fanRatio, psuHealth, psuIn, psuOut, dropped, maxSensors   *prometheus.Desc
}

// Health values of bmc_health, bmc_component_health and
// bmc_power_supply_health: redfish_exporter's (jenningsloy318) encoding, so
// that its dashboards and alerts carry over. An unknown health has no series.
var healthValue = map[drivers.Health]float64{drivers.HealthOK: 1, drivers.HealthWarning: 2, drivers.HealthCritical: 3}

// NewTelemetry returns the collector of src.
func NewTelemetry(src TelemetrySource) *Telemetry {
	node := []string{"node_uuid", "node_name"}
	sensor := []string{"node_uuid", "node_name", "sensor", "sensor_context"}
	psu := []string{"node_uuid", "node_name", "power_supply"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(telemetryPrefix+name, help, labels, nil)
	}
	return &Telemetry{
		src: src,
		up:  d("up", "Whether the last telemetry read of the node's BMC succeeded (1) or not (0). No series for a driver that reads no telemetry.", node),
		duration: d("read_duration_seconds",
			"How long the last telemetry read of the node's BMC took, failed or not.", node),
		lastSuccess: d("last_success_timestamp_seconds",
			"When the last good telemetry read of the node started (Unix time); the readings are that old. No series before the first one.", node),
		health: d("health", "The BMC's health rollup of the node: 1 OK, 2 Warning, 3 Critical (redfish_exporter's encoding). No series when the BMC gives none (IPMI).", node),
		component: d("component_health", "Health rollup of one resource the BMC reports on (System, Chassis): 1 OK, 2 Warning, 3 Critical.",
			[]string{"node_uuid", "node_name", "resource", "resource_id"}),
		power: d("power_consumption_watts", "The node's power consumption (Redfish PowerConsumedWatts or PowerWatts, IPMI DCMI power reading).", node),
		info: d("info", "The machine and its BMC: vendor, model, BMC firmware version. Always 1.",
			[]string{"node_uuid", "node_name", "vendor", "model", "firmware"}),
		byKind: map[drivers.SensorKind]*prometheus.Desc{
			drivers.SensorTemperature: d("temperature_celsius", "Temperature sensor reading.", sensor),
			drivers.SensorFan:         d("fan_speed_rpm", "Fan speed of a fan the BMC reports in RPM.", sensor),
			drivers.SensorVoltage:     d("voltage_volts", "Voltage sensor reading.", sensor),
			drivers.SensorCurrent:     d("current_amperes", "Current sensor reading.", sensor),
			drivers.SensorPower:       d("sensor_power_watts", "Power sensor reading (a rail's or a unit's, not the node's consumption).", sensor),
		},
		fanRatio:   d("fan_speed_ratio", "Fan speed of a fan the BMC reports in percent of full speed, as a ratio (0 to 1).", sensor),
		psuHealth:  d("power_supply_health", "Health of a power supply: 1 OK, 2 Warning, 3 Critical.", psu),
		psuIn:      d("power_supply_input_watts", "Input power of a power supply.", psu),
		psuOut:     d("power_supply_output_watts", "Output power of a power supply.", psu),
		dropped:    d("sensors_dropped_total", "Sensors left out of the cache because a node reported more than the per-node cap (bmc_sensors_cap), over all reads.", nil),
		maxSensors: d("sensors_cap", "The most sensors kept per node (--telemetry-max-sensors).", nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Telemetry) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.duration, c.lastSuccess, c.health, c.component, c.power, c.info,
		c.fanRatio, c.psuHealth, c.psuIn, c.psuOut, c.dropped, c.maxSensors} {
		ch <- d
	}
	for _, d := range c.byKind {
		ch <- d
	}
}

// Collect implements prometheus.Collector. It is built for a fleet: a
// scrape of 10,000 nodes of 40 sensors is 470,000 series. The label pairs of
// a node, and of a sensor name, are made once per scrape and shared by its
// series, and every family is emitted in the order the registry sorts it
// into (by node name, node UUID, sensor, sensor_context: entries sorted
// here, sensors sorted by the cache), so that the sort costs a pass.
func (c *Telemetry) Collect(ch chan<- prometheus.Metric) {
	list := c.src.Entries()
	slices.SortFunc(list, func(a, b *telemetry.Entry) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.UUID, b.UUID))
	})
	pairs := labelPairs{}
	for _, e := range list {
		if e.Unsupported {
			continue
		}
		node := []*dto.LabelPair{pairs.get("node_name", e.Name), pairs.get("node_uuid", e.UUID)}
		// with is the node's labels and kv, whose names sort after
		// node_uuid: label pairs go sorted by name.
		with := func(kv ...string) []*dto.LabelPair {
			out := make([]*dto.LabelPair, 2, 2+len(kv)/2)
			copy(out, node)
			for i := 0; i < len(kv); i += 2 {
				out = append(out, pairs.get(kv[i], kv[i+1]))
			}
			return out
		}
		ch <- newGauge(c.up, b2f(e.Up), node)
		ch <- newGauge(c.duration, e.Duration.Seconds(), node)
		if e.Telemetry == nil {
			continue
		}
		t := e.Telemetry
		ch <- newGauge(c.lastSuccess, float64(e.LastSuccess.UnixNano())/1e9, node)
		if v, ok := healthValue[t.Health]; ok {
			ch <- newGauge(c.health, v, node)
		}
		for _, p := range t.Parts {
			if v, ok := healthValue[p.Health]; ok {
				ch <- newGauge(c.component, v, with("resource", p.Resource, "resource_id", p.ID))
			}
		}
		if t.PowerWatts != nil {
			ch <- newGauge(c.power, *t.PowerWatts, node)
		}
		if t.Vendor != "" || t.Model != "" || t.FirmwareVersion != "" {
			ch <- newGauge(c.info, 1, []*dto.LabelPair{ // sorted by name
				pairs.get("firmware", t.FirmwareVersion), pairs.get("model", t.Model), node[0], node[1], pairs.get("vendor", t.Vendor)})
		}
		for _, s := range t.Sensors {
			d, v := c.byKind[s.Kind], s.Reading
			if s.Kind == drivers.SensorFan && s.Percent {
				d, v = c.fanRatio, s.Reading/100
			}
			if d != nil {
				ch <- newGauge(d, v, with("sensor", s.Name, "sensor_context", s.Context))
			}
		}
		for _, p := range t.PowerSupplies {
			psu := with("power_supply", p.Name)
			if v, ok := healthValue[p.Health]; ok {
				ch <- newGauge(c.psuHealth, v, psu)
			}
			if p.InputWatts != nil {
				ch <- newGauge(c.psuIn, *p.InputWatts, psu)
			}
			if p.OutputWatts != nil {
				ch <- newGauge(c.psuOut, *p.OutputWatts, psu)
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(c.src.Dropped()))
	ch <- prometheus.MustNewConstMetric(c.maxSensors, prometheus.GaugeValue, float64(c.src.MaxSensors()))
}

// labelPairs makes each label pair of a scrape once: sensor names and
// contexts repeat on every node.
type labelPairs map[[2]string]*dto.LabelPair

func (p labelPairs) get(name, value string) *dto.LabelPair {
	k := [2]string{name, value}
	lp, ok := p[k]
	if !ok {
		lp = &dto.LabelPair{Name: &k[0], Value: &k[1]}
		p[k] = lp
	}
	return lp
}

// gauge is a const gauge whose label pairs (sorted by name, as the
// registry wants them, and shared with other series) are made by the
// caller: prometheus.MustNewConstMetric makes and sorts them for every
// series, which dominates a fleet's scrape. One allocation per series.
type gauge struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	value  float64
	g      dto.Gauge
}

func newGauge(d *prometheus.Desc, v float64, labels []*dto.LabelPair) *gauge {
	return &gauge{desc: d, labels: labels, value: v}
}

// Desc implements prometheus.Metric.
func (m *gauge) Desc() *prometheus.Desc { return m.desc }

// Write implements prometheus.Metric.
func (m *gauge) Write(out *dto.Metric) error {
	m.g.Value = &m.value
	out.Label, out.Gauge = m.labels, &m.g
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var _ prometheus.Collector = (*Telemetry)(nil)
