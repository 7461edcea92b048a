package metrics_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/internal/testutil"
	"github.com/bmc-agent/bmc-agent/metrics"
	"github.com/bmc-agent/bmc-agent/telemetry"
	prom "github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// entries is a fixed TelemetrySource.
type entries struct {
	list    []*telemetry.Entry
	dropped uint64
}

func (e *entries) Entries() []*telemetry.Entry { return slices.Clone(e.list) } // the caller's, as the cache's
func (e *entries) Dropped() uint64             { return e.dropped }
func (e *entries) MaxSensors() int             { return 250 }

func ptr(v float64) *float64 { return &v }

// Every reading the cache holds is a series in base units, with the node's
// labels; what a BMC does not report (node b has no power reading, no
// current sensor anywhere, a driver without telemetry) has no series; a
// BMC that stopped answering keeps its last readings with bmc_up 0.
func TestTelemetryExposition(t *testing.T) {
	ok := time.Unix(1700000000, 0)
	src := &entries{dropped: 3, list: []*telemetry.Entry{
		{UUID: "uuid-a", Name: "a", Up: true, Duration: 1500 * time.Millisecond, LastSuccess: ok, Telemetry: &drivers.Telemetry{
			Health: drivers.HealthWarning, PowerWatts: ptr(312.5),
			Parts: []drivers.HealthPart{{Resource: "System", ID: "1", Health: drivers.HealthWarning}, {Resource: "Chassis", ID: "1", Health: drivers.HealthOK}},
			Sensors: []drivers.Sensor{
				{Kind: drivers.SensorTemperature, Name: "CPU1 Temp", Context: "CPU", Reading: 61},
				{Kind: drivers.SensorFan, Name: "Fan1", Context: "SystemBoard", Reading: 7200},
				{Kind: drivers.SensorFan, Name: "Fan2", Reading: 45, Percent: true},
				{Kind: drivers.SensorVoltage, Name: "12V", Reading: 12.1},
				{Kind: drivers.SensorPower, Name: "CPU Rail", Reading: 90},
			},
			PowerSupplies: []drivers.PowerSupply{{Name: "PSU1", Health: drivers.HealthOK, InputWatts: ptr(160)}, {Name: "PSU2", Health: drivers.HealthCritical}},
			Vendor:        "Dell Inc.", Model: "PowerEdge R650", FirmwareVersion: "7.00.00.00",
		}},
		{UUID: "uuid-b", Name: "b", Up: false, Duration: 30 * time.Second, LastSuccess: ok, ErrorKind: "timeout", Telemetry: &drivers.Telemetry{
			Sensors: []drivers.Sensor{{Kind: drivers.SensorCurrent, Name: "PSU1 Current", Reading: 1.2}},
		}},
		{UUID: "uuid-c", Name: "c", Up: false, Duration: time.Second, ErrorKind: "unreachable"},
		{UUID: "uuid-d", Name: "d", Unsupported: true},
	}}
	want := `
# HELP bmc_component_health Health rollup of one resource the BMC reports on (System, Chassis): 1 OK, 2 Warning, 3 Critical.
# TYPE bmc_component_health gauge
bmc_component_health{node_name="a",node_uuid="uuid-a",resource="Chassis",resource_id="1"} 1
bmc_component_health{node_name="a",node_uuid="uuid-a",resource="System",resource_id="1"} 2
# HELP bmc_current_amperes Current sensor reading.
# TYPE bmc_current_amperes gauge
bmc_current_amperes{node_name="b",node_uuid="uuid-b",sensor="PSU1 Current",sensor_context=""} 1.2
# HELP bmc_fan_speed_ratio Fan speed of a fan the BMC reports in percent of full speed, as a ratio (0 to 1).
# TYPE bmc_fan_speed_ratio gauge
bmc_fan_speed_ratio{node_name="a",node_uuid="uuid-a",sensor="Fan2",sensor_context=""} 0.45
# HELP bmc_fan_speed_rpm Fan speed of a fan the BMC reports in RPM.
# TYPE bmc_fan_speed_rpm gauge
bmc_fan_speed_rpm{node_name="a",node_uuid="uuid-a",sensor="Fan1",sensor_context="SystemBoard"} 7200
# HELP bmc_health The BMC's health rollup of the node: 1 OK, 2 Warning, 3 Critical (redfish_exporter's encoding). No series when the BMC gives none (IPMI).
# TYPE bmc_health gauge
bmc_health{node_name="a",node_uuid="uuid-a"} 2
# HELP bmc_info The machine and its BMC: vendor, model, BMC firmware version. Always 1.
# TYPE bmc_info gauge
bmc_info{firmware="7.00.00.00",model="PowerEdge R650",node_name="a",node_uuid="uuid-a",vendor="Dell Inc."} 1
# HELP bmc_last_success_timestamp_seconds When the last good telemetry read of the node started (Unix time); the readings are that old. No series before the first one.
# TYPE bmc_last_success_timestamp_seconds gauge
bmc_last_success_timestamp_seconds{node_name="a",node_uuid="uuid-a"} 1.7e+09
bmc_last_success_timestamp_seconds{node_name="b",node_uuid="uuid-b"} 1.7e+09
# HELP bmc_power_consumption_watts The node's power consumption (Redfish PowerConsumedWatts or PowerWatts, IPMI DCMI power reading).
# TYPE bmc_power_consumption_watts gauge
bmc_power_consumption_watts{node_name="a",node_uuid="uuid-a"} 312.5
# HELP bmc_power_supply_health Health of a power supply: 1 OK, 2 Warning, 3 Critical.
# TYPE bmc_power_supply_health gauge
bmc_power_supply_health{node_name="a",node_uuid="uuid-a",power_supply="PSU1"} 1
bmc_power_supply_health{node_name="a",node_uuid="uuid-a",power_supply="PSU2"} 3
# HELP bmc_power_supply_input_watts Input power of a power supply.
# TYPE bmc_power_supply_input_watts gauge
bmc_power_supply_input_watts{node_name="a",node_uuid="uuid-a",power_supply="PSU1"} 160
# HELP bmc_read_duration_seconds How long the last telemetry read of the node's BMC took, failed or not.
# TYPE bmc_read_duration_seconds gauge
bmc_read_duration_seconds{node_name="a",node_uuid="uuid-a"} 1.5
bmc_read_duration_seconds{node_name="b",node_uuid="uuid-b"} 30
bmc_read_duration_seconds{node_name="c",node_uuid="uuid-c"} 1
# HELP bmc_sensor_power_watts Power sensor reading (a rail's or a unit's, not the node's consumption).
# TYPE bmc_sensor_power_watts gauge
bmc_sensor_power_watts{node_name="a",node_uuid="uuid-a",sensor="CPU Rail",sensor_context=""} 90
# HELP bmc_sensors_cap The most sensors kept per node (--telemetry-max-sensors).
# TYPE bmc_sensors_cap gauge
bmc_sensors_cap 250
# HELP bmc_sensors_dropped_total Sensors, power supplies and health parts left out of the cache because a node reported more of one kind than the per-node cap (bmc_sensors_cap), over all reads.
# TYPE bmc_sensors_dropped_total counter
bmc_sensors_dropped_total 3
# HELP bmc_temperature_celsius Temperature sensor reading.
# TYPE bmc_temperature_celsius gauge
bmc_temperature_celsius{node_name="a",node_uuid="uuid-a",sensor="CPU1 Temp",sensor_context="CPU"} 61
# HELP bmc_up Whether the last telemetry read of the node's BMC succeeded (1) or not (0). No series for a driver that reads no telemetry.
# TYPE bmc_up gauge
bmc_up{node_name="a",node_uuid="uuid-a"} 1
bmc_up{node_name="b",node_uuid="uuid-b"} 0
bmc_up{node_name="c",node_uuid="uuid-c"} 0
# HELP bmc_voltage_volts Voltage sensor reading.
# TYPE bmc_voltage_volts gauge
bmc_voltage_volts{node_name="a",node_uuid="uuid-a",sensor="12V",sensor_context=""} 12.1
`
	if err := prom.CollectAndCompare(metrics.NewTelemetry(src), strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if problems, err := prom.CollectAndLint(metrics.NewTelemetry(src)); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	// The text the agent's /metrics streams is the same series.
	var text bytes.Buffer
	if err := metrics.NewTelemetry(src).WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := prom.CollectAndCompare(metrics.NewTelemetry(src), bytes.NewReader(text.Bytes())); err != nil {
		t.Fatalf("WriteText differs from Collect: %v\n%s", err, text.String())
	}

	// /metrics: in text (gzip or not) the registry's series and the
	// stream's; in protobuf the same through the registry.
	reg := metrics.New(nil)
	if err := reg.RegisterStream(metrics.NewTelemetry(src)); err != nil {
		t.Fatal(err)
	}
	for _, h := range []map[string]string{
		{},
		{"Accept-Encoding": "gzip"},
		{"Accept": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		reg.Handler().ServeHTTP(rec, req)
		var body io.Reader = rec.Body
		if rec.Header().Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = gz
		}
		format := expfmt.ResponseFormat(rec.Header())
		dec := expfmt.NewDecoder(body, format)
		names := map[string]int{}
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%v: %v", h, err)
			}
			names[mf.GetName()] = len(mf.GetMetric())
		}
		if names["bmc_up"] != 3 || names["bmc_temperature_celsius"] != 1 || names["go_goroutines"] != 1 || names["bmc_sensors_dropped_total"] != 1 {
			t.Fatalf("/metrics with %v (%s): %v", h, format, names)
		}
	}
}

// FleetEntries is a cache's worth of entries: nodes nodes with sensors
// sensors each, for the scrape benchmark.
func fleetEntries(nodes, sensors int) *entries {
	src := &entries{}
	for i := range nodes {
		t := &drivers.Telemetry{Health: drivers.HealthOK, PowerWatts: ptr(250), Vendor: "Fake", Model: "M", FirmwareVersion: "1",
			Parts: []drivers.HealthPart{{Resource: "System", ID: "1", Health: drivers.HealthOK}}}
		for k := range sensors {
			t.Sensors = append(t.Sensors, drivers.Sensor{Kind: drivers.SensorTemperature, Name: fmt.Sprintf("Temp%02d", k), Context: "CPU", Reading: 40})
		}
		src.list = append(src.list, &telemetry.Entry{UUID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Name: fmt.Sprintf("node-%05d", i),
			Up: true, Duration: time.Second, LastSuccess: time.Now(), Telemetry: t})
	}
	return src
}

// BenchmarkTelemetryScrape is GET /metrics of the agent's registry with
// the telemetry of 10,000 nodes of 40 sensors (BMC_AGENT_TELEMETRY_NODES,
// BMC_AGENT_TELEMETRY_SENSORS change them) in the cache, as Prometheus asks
// for it (gzip: scrape_gzip_s) and uncompressed (scrape_s); the target is
// under 1 s (x_target_1s is the gzip one's ratio to it). Also reported: the
// series and the MB of uncompressed exposition.
func BenchmarkTelemetryScrape(b *testing.B) {
	nodes, sensors := testutil.EnvInt("BMC_AGENT_TELEMETRY_NODES", 10000), testutil.EnvInt("BMC_AGENT_TELEMETRY_SENSORS", 40)
	reg := metrics.New(nil)
	if err := reg.RegisterStream(metrics.NewTelemetry(fleetEntries(nodes, sensors))); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()
	plain := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer plain.CloseIdleConnections()
	scrape := func(gzip bool) (int64, time.Duration) {
		start := time.Now()
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		client := plain
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		n, _ := io.Copy(io.Discard, resp.Body)
		return n, time.Since(start)
	}
	var size int64
	var gz, id time.Duration
	b.ResetTimer()
	for range b.N {
		_, d := scrape(true)
		gz += d
		n, d2 := scrape(false)
		size, id = n, id+d2
	}
	b.StopTimer()
	g := gz.Seconds() / float64(b.N)
	b.ReportMetric(g, "scrape_gzip_s")
	b.ReportMetric(id.Seconds()/float64(b.N), "scrape_s")
	b.ReportMetric(g/1, "x_target_1s")
	b.ReportMetric(float64(nodes*(sensors+7)), "series")
	b.ReportMetric(float64(size)/1e6, "body_MB")
	b.ReportMetric(0, "ns/op")
}

// A label value that is not UTF-8 (an IPMI sensor named in Latin-1) is
// made UTF-8 in both paths: the client library panics on one, and
// Prometheus refuses the whole scrape for one.
func TestTelemetryLabelsUTF8(t *testing.T) {
	src := &entries{list: []*telemetry.Entry{
		{UUID: "uuid-a", Name: "a", Up: true, Telemetry: &drivers.Telemetry{
			Sensors: []drivers.Sensor{{Kind: drivers.SensorTemperature, Name: "Temp \xb0C", Context: "CPU\xff", Reading: 40}},
			Vendor:  "Fujitsu\xe9",
		}},
	}}
	want := `
# HELP bmc_temperature_celsius Temperature sensor reading.
# TYPE bmc_temperature_celsius gauge
bmc_temperature_celsius{node_name="a",node_uuid="uuid-a",sensor="Temp ` + "\uFFFD" + `C",sensor_context="CPU` + "\uFFFD" + `"} 40
`
	if err := prom.CollectAndCompare(metrics.NewTelemetry(src), strings.NewReader(want), "bmc_temperature_celsius"); err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := metrics.NewTelemetry(src).WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(text.Bytes()) {
		t.Fatalf("the text exposition is not UTF-8:\n%q", text.String())
	}
	if !strings.Contains(text.String(), `vendor="Fujitsu`+"\uFFFD"+`"`) {
		t.Fatalf("bmc_info's vendor not made UTF-8:\n%s", text.String())
	}
}
