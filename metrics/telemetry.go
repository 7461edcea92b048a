package metrics

import (
	"bufio"
	"cmp"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/telemetry"
	"github.com/prometheus/client_golang/prometheus"
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

// Health values of bmc_health, bmc_component_health and
// bmc_power_supply_health: redfish_exporter's (jenningsloy318) encoding, so
// that its dashboards and alerts carry over. An unknown health has no series.
var healthValue = map[drivers.Health]float64{drivers.HealthOK: 1, drivers.HealthWarning: 2, drivers.HealthCritical: 3}

// family is one metric of the telemetry: its name, help, labels (sorted by
// name, the order the exposition wants), and the samples of one entry,
// passed to emit with the label values in that order.
type family struct {
	name, help string
	labels     []string
	samples    func(e *telemetry.Entry, emit func(v float64, labels ...string))
	// always: the family has series for an entry without readings too.
	always bool
	desc   *prometheus.Desc
}

// Labels of the per-node families (sorted by name).
var (
	nodeLabels   = []string{"node_name", "node_uuid"}
	sensorLabels = []string{"node_name", "node_uuid", "sensor", "sensor_context"}
	psuLabels    = []string{"node_name", "node_uuid", "power_supply"}
)

// Telemetry exports the telemetry cache: every series is made at scrape
// time from the cache, so a scrape never calls a BMC and costs the BMCs the
// same whatever the scrape interval. It is the one collector whose series
// carry node labels (node_uuid, node_name): the node is what a hardware
// metric is about. Cardinality is bounded by the nodes this agent owns times
// (about ten series per node plus one per sensor, at most the cache's
// per-node sensor cap); a sensor the BMC does not report has no series,
// never a zero.
//
// It is a prometheus.Collector (const metrics), and also writes the same
// series straight in the text exposition format (WriteText), which the
// agent's /metrics uses: a fleet's scrape is 500,000 series, and building a
// protobuf message, a label hash and a sort key for each costs seconds and
// a few hundred MB where streaming the text costs a fraction of a second and
// a buffer (see Registry.Handler).
type Telemetry struct {
	src      TelemetrySource
	families []*family // per node, sorted by name
	dropped  *prometheus.Desc
	cap      *prometheus.Desc
}

// NewTelemetry returns the collector of src.
func NewTelemetry(src TelemetrySource) *Telemetry {
	sensors := func(kind drivers.SensorKind, percent bool) func(*telemetry.Entry, func(float64, ...string)) {
		return func(e *telemetry.Entry, emit func(float64, ...string)) {
			for _, s := range e.Telemetry.Sensors {
				if s.Kind == kind && s.Percent == percent {
					v := s.Reading
					if percent {
						v /= 100
					}
					emit(v, e.Name, e.UUID, s.Name, s.Context)
				}
			}
		}
	}
	health := func(h drivers.Health, emit func(float64, ...string), labels ...string) {
		if v, ok := healthValue[h]; ok {
			emit(v, labels...)
		}
	}
	psu := func(watts func(p drivers.PowerSupply) *float64) func(*telemetry.Entry, func(float64, ...string)) {
		return func(e *telemetry.Entry, emit func(float64, ...string)) {
			for _, p := range e.Telemetry.PowerSupplies {
				if w := watts(p); w != nil {
					emit(*w, e.Name, e.UUID, p.Name)
				}
			}
		}
	}
	fs := []*family{
		{name: "up", labels: nodeLabels, always: true,
			help: "Whether the last telemetry read of the node's BMC succeeded (1) or not (0). No series for a driver that reads no telemetry.",
			samples: func(e *telemetry.Entry, emit func(float64, ...string)) {
				emit(b2f(e.Up), e.Name, e.UUID)
			}},
		{name: "read_duration_seconds", labels: nodeLabels, always: true,
			help: "How long the last telemetry read of the node's BMC took, failed or not.",
			samples: func(e *telemetry.Entry, emit func(float64, ...string)) {
				emit(e.Duration.Seconds(), e.Name, e.UUID)
			}},
		{name: "last_success_timestamp_seconds", labels: nodeLabels,
			help: "When the last good telemetry read of the node started (Unix time); the readings are that old. No series before the first one.",
			samples: func(e *telemetry.Entry, emit func(float64, ...string)) {
				if e.Telemetry != nil {
					emit(float64(e.LastSuccess.UnixNano())/1e9, e.Name, e.UUID)
				}
			}},
		{name: "health", labels: nodeLabels,
			help: "The BMC's health rollup of the node: 1 OK, 2 Warning, 3 Critical (redfish_exporter's encoding). No series when the BMC gives none (IPMI).",
			samples: func(e *telemetry.Entry, emit func(float64, ...string)) {
				health(e.Telemetry.Health, emit, e.Name, e.UUID)
			}},
		{name: "component_health", labels: []string{"node_name", "node_uuid", "resource", "resource_id"},
			help: "Health rollup of one resource the BMC reports on (System, Chassis): 1 OK, 2 Warning, 3 Critical.",
			samples: func(e *telemetry.Entry, emit func(float64, ...string)) {
				for _, p := range e.Telemetry.Parts {
					health(p.Health, emit, e.Name, e.UUID, p.Resource, p.ID)
				}
			}},
		{name: "power_consumption_watts", labels: nodeLabels,
			help: "The node's power consumption (Redfish PowerConsumedWatts or PowerWatts, IPMI DCMI power reading).",
			samples: func(e *telemetry.Entry, emit func(float64, ...string)) {
				if w := e.Telemetry.PowerWatts; w != nil {
					emit(*w, e.Name, e.UUID)
				}
			}},
		{name: "info", labels: []string{"firmware", "model", "node_name", "node_uuid", "vendor"},
			help: "The machine and its BMC: vendor, model, BMC firmware version. Always 1.",
			samples: func(e *telemetry.Entry, emit func(float64, ...string)) {
				if t := e.Telemetry; t.Vendor != "" || t.Model != "" || t.FirmwareVersion != "" {
					emit(1, t.FirmwareVersion, t.Model, e.Name, e.UUID, t.Vendor)
				}
			}},
		{name: "temperature_celsius", labels: sensorLabels, help: "Temperature sensor reading.",
			samples: sensors(drivers.SensorTemperature, false)},
		{name: "fan_speed_rpm", labels: sensorLabels, help: "Fan speed of a fan the BMC reports in RPM.",
			samples: sensors(drivers.SensorFan, false)},
		{name: "fan_speed_ratio", labels: sensorLabels, help: "Fan speed of a fan the BMC reports in percent of full speed, as a ratio (0 to 1).",
			samples: sensors(drivers.SensorFan, true)},
		{name: "voltage_volts", labels: sensorLabels, help: "Voltage sensor reading.",
			samples: sensors(drivers.SensorVoltage, false)},
		{name: "current_amperes", labels: sensorLabels, help: "Current sensor reading.",
			samples: sensors(drivers.SensorCurrent, false)},
		{name: "sensor_power_watts", labels: sensorLabels, help: "Power sensor reading (a rail's or a unit's, not the node's consumption).",
			samples: sensors(drivers.SensorPower, false)},
		{name: "power_supply_health", labels: psuLabels, help: "Health of a power supply: 1 OK, 2 Warning, 3 Critical.",
			samples: func(e *telemetry.Entry, emit func(float64, ...string)) {
				for _, p := range e.Telemetry.PowerSupplies {
					health(p.Health, emit, e.Name, e.UUID, p.Name)
				}
			}},
		{name: "power_supply_input_watts", labels: psuLabels, help: "Input power of a power supply.",
			samples: psu(func(p drivers.PowerSupply) *float64 { return p.InputWatts })},
		{name: "power_supply_output_watts", labels: psuLabels, help: "Output power of a power supply.",
			samples: psu(func(p drivers.PowerSupply) *float64 { return p.OutputWatts })},
	}
	for _, f := range fs {
		f.name = telemetryPrefix + f.name
		f.desc = prometheus.NewDesc(f.name, f.help, f.labels, nil)
	}
	slices.SortFunc(fs, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	return &Telemetry{
		src: src, families: fs,
		dropped: prometheus.NewDesc(telemetryPrefix+"sensors_dropped_total",
			"Sensors, power supplies and health parts left out of the cache because a node reported more of one kind than the per-node cap (bmc_sensors_cap), over all reads.", nil, nil),
		cap: prometheus.NewDesc(telemetryPrefix+"sensors_cap", "The most sensors kept per node (--telemetry-max-sensors).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Telemetry) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range c.families {
		ch <- f.desc
	}
	ch <- c.dropped
	ch <- c.cap
}

// Collect implements prometheus.Collector.
func (c *Telemetry) Collect(ch chan<- prometheus.Metric) {
	c.walk(func(f *family, e *telemetry.Entry) {
		f.samples(e, func(v float64, labels ...string) {
			for i, l := range labels {
				labels[i] = validUTF8(l)
			}
			ch <- prometheus.MustNewConstMetric(f.desc, prometheus.GaugeValue, v, labels...)
		})
	}, nil)
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(c.src.Dropped()))
	ch <- prometheus.MustNewConstMetric(c.cap, prometheus.GaugeValue, float64(c.src.MaxSensors()))
}

// walk calls each for every family and every entry that has series, the
// entries sorted by node name and UUID (the registry's order), and start
// before each family's first entry.
func (c *Telemetry) walk(each func(*family, *telemetry.Entry), start func(*family)) {
	list := c.src.Entries()
	slices.SortFunc(list, func(a, b *telemetry.Entry) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.UUID, b.UUID))
	})
	list = slices.DeleteFunc(list, func(e *telemetry.Entry) bool { return e.Unsupported })
	for _, f := range c.families {
		if start != nil {
			start(f)
		}
		for _, e := range list {
			if f.always || e.Telemetry != nil {
				each(f, e)
			}
		}
	}
}

// WriteText writes every series in the Prometheus text exposition format
// (version 0.0.4), the same series Collect gives, family by family.
func (c *Telemetry) WriteText(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf []byte
	var name string
	var labels []string
	emit := func(v float64, values ...string) {
		buf = append(buf[:0], name...)
		buf = append(buf, '{')
		for i, l := range labels {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, l...)
			buf = append(buf, '=', '"')
			buf = appendEscaped(buf, values[i])
			buf = append(buf, '"')
		}
		buf = append(buf, '}', ' ')
		buf = appendFloat(buf, v)
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	c.walk(func(f *family, e *telemetry.Entry) { f.samples(e, emit) }, func(f *family) {
		name, labels = f.name, f.labels
		writeHeader(bw, f.name, f.help, "gauge")
	})
	writeHeader(bw, telemetryPrefix+"sensors_cap", "The most sensors kept per node (--telemetry-max-sensors).", "gauge")
	bw.WriteString(telemetryPrefix + "sensors_cap " + strconv.Itoa(c.src.MaxSensors()) + "\n")
	writeHeader(bw, telemetryPrefix+"sensors_dropped_total",
		"Sensors, power supplies and health parts left out of the cache because a node reported more of one kind than the per-node cap (bmc_sensors_cap), over all reads.", "counter")
	bw.WriteString(telemetryPrefix + "sensors_dropped_total " + strconv.FormatUint(c.src.Dropped(), 10) + "\n")
	return bw.Flush()
}

func writeHeader(w *bufio.Writer, name, help, typ string) {
	w.WriteString("# HELP " + name + " " + strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help) + "\n# TYPE " + name + " " + typ + "\n")
}

// validUTF8 returns s with each run of bytes that are not UTF-8 replaced
// by U+FFFD. Label values come from BMCs, and an IPMI SDR's ID string is
// bytes, not text (Latin-1 on some BMCs): a label value that is not UTF-8
// makes the client library panic (MustNewConstMetric) and Prometheus refuse
// the whole scrape ("invalid metric name or label names"), the fleet's with
// that one node.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// appendEscaped appends a label value escaped as the text format wants:
// backslash, double quote and line feed; it is made UTF-8 first
// (validUTF8).
func appendEscaped(b []byte, s string) []byte {
	s = validUTF8(s)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat formats a sample value as the text format does.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var _ prometheus.Collector = (*Telemetry)(nil)
