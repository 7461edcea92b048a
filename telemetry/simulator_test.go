package telemetry_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/metrics"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/ipmisim"
	"github.com/bmc-agent/bmc-agent/simulator/simtest"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
	"github.com/bmc-agent/bmc-agent/telemetry"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// simAgent is an agent (embedded database, Redfish driver, task manager,
// telemetry collector, /metrics) over a simulator's systems.
type simAgent struct {
	sim     *simulator.Simulator
	db      *sqlstore.DB
	c       *telemetry.Collector
	metrics *httptest.Server
	nodes   map[string]string // system id -> node UUID
}

// startAgent is an agent with the one driver d and no nodes yet.
func startAgent(t *testing.T, d drivers.Driver) *simAgent {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "agent.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := drivers.NewRegistry(d)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := taskmanager.New(taskmanager.Config{
		AgentID: "agent-a", Store: db, Drivers: reg,
		Locker: lock.NewLocker(db, lock.Policy{Attempts: 1, Interval: time.Millisecond}, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := telemetry.New(telemetry.Config{AgentID: "agent-a", HealthFault: true}, tm, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	mreg := metrics.New(nil)
	if err := mreg.RegisterStream(metrics.NewTelemetry(c.Cache())); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mreg.Handler())
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tm.Shutdown(ctx)
		reg.Close(ctx)
		db.Close()
	})
	return &simAgent{db: db, c: c, metrics: srv, nodes: map[string]string{}}
}

// addNode enrolls the system id as an active node with driver_info info.
func (a *simAgent) addNode(t *testing.T, id, driver string, info store.JSON) {
	t.Helper()
	n := &store.Node{Name: id, Driver: driver, ProvisionState: taskmanager.StateActive, DriverInfo: info}
	if err := a.db.CreateNode(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	a.nodes[id] = n.UUID
}

// startSimAgent is an agent over the Redfish systems of a simulator
// started with cfg (PortPerSystem: a BMC per system).
func startSimAgent(t *testing.T, cfg simulator.Config) *simAgent {
	t.Helper()
	sim := simtest.Start(t, cfg)
	a := startAgent(t, redfish.New(redfish.Options{}))
	a.sim = sim
	for _, id := range sim.SystemIDs() {
		a.addNode(t, id, redfish.Name, store.JSON{ // the driver finds the BMC's one system
			redfish.InfoAddress: sim.Endpoint(id), redfish.InfoUsername: "admin", redfish.InfoPassword: "password",
		})
	}
	return a
}

func (a *simAgent) cycle(t *testing.T) {
	t.Helper()
	r, err := a.c.Cycle(context.Background(), 0)
	if err != nil || r.Failed != 0 || r.Read != len(a.nodes) {
		for id, uuid := range a.nodes {
			if e, ok := a.c.Cache().Get(uuid); ok && e.LastError != "" {
				t.Errorf("%s: %s", id, e.LastError)
			}
		}
		t.Fatalf("cycle: %+v %v", r, err)
	}
}

// scrape GETs /metrics as Prometheus does and returns its families.
func (a *simAgent) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.metrics.URL, nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	resp, err := a.metrics.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// requests sums the Redfish requests every system has received.
func (a *simAgent) requests() uint64 {
	var n uint64
	for _, id := range a.sim.SystemIDs() {
		c := a.sim.System(id).Requests()
		n += c.Reads + c.Writes
	}
	return n
}

// series is one sample of a scrape: family, sensor or power supply, value.
type series struct {
	family, name string
}

// nodeSeries returns the node's samples of every bmc_* family, keyed by
// family and sensor, power supply or resource.
func nodeSeries(t *testing.T, mfs map[string]*dto.MetricFamily, uuid string) map[series]float64 {
	t.Helper()
	out := map[series]float64{}
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "bmc_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["node_uuid"] != uuid {
				continue
			}
			k := series{name, labels["sensor"] + labels["power_supply"] + labels["resource"] + labels["vendor"] + "/" + labels["model"]}
			if _, dup := out[k]; dup {
				t.Fatalf("%s %s twice", name, k.name)
			}
			out[k] = m.GetGauge().GetValue()
		}
	}
	return out
}

var sensorFamily = map[string]string{
	"temperature": "bmc_temperature_celsius", "fan": "bmc_fan_speed_rpm", "voltage": "bmc_voltage_volts",
	"current": "bmc_current_amperes", "power": "bmc_sensor_power_watts",
}

var healthCode = map[string]float64{"OK": 1, "Warning": 2, "Critical": 3}

// wantSeries is what /metrics must serve for a system: its model, read
// through the Redfish driver, in the agent's metric names; what the
// system does not report has no series.
func wantSeries(sys *simulator.System) map[series]float64 {
	tel, hw := sys.Telemetry(), sys.Hardware()
	want := map[series]float64{
		{"bmc_up", "/"}:                                1,
		{"bmc_power_consumption_watts", "/"}:           tel.PowerWatts,
		{"bmc_component_health", "System/"}:            healthCode[tel.SystemHealth],
		{"bmc_component_health", "Chassis/"}:           healthCode[tel.ChassisHealth],
		{"bmc_health", "/"}:                            max(healthCode[tel.SystemHealth], healthCode[tel.ChassisHealth]),
		{"bmc_info", hw.Manufacturer + "/" + hw.Model}: 1,
	}
	for _, s := range tel.Sensors {
		f, v := sensorFamily[s.Kind], s.Reading
		if s.Units == "Percent" {
			f, v = "bmc_fan_speed_ratio", s.Reading/100
		}
		want[series{f, s.Name + "/"}] = v
	}
	for _, p := range tel.PowerSupplies {
		want[series{"bmc_power_supply_health", p.Name + "/"}] = healthCode[p.Health]
		if p.InputWatts != 0 {
			want[series{"bmc_power_supply_input_watts", p.Name + "/"}] = p.InputWatts
		}
		if p.OutputWatts != 0 {
			want[series{"bmc_power_supply_output_watts", p.Name + "/"}] = p.OutputWatts
		}
	}
	return want
}

// For the generic simulator and each vendor profile, read through the real
// Redfish driver: the metrics are what the simulator serves
// (System.Telemetry), no more (absent readings are absent, never 0); a
// scrape makes no BMC request; and the BMC requests depend on the
// collector's cycles alone, the same whether Prometheus scrapes sixty times
// per interval (every second of a minute) or once.
func TestMetricsMatchSimulator(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range simulator.Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			a := startSimAgent(t, simulator.Config{Systems: 2, Profile: p.Name, PortPerSystem: true,
				Now: func() time.Time { return clock }}) // one snapshot: the model and the read agree
			ids := a.sim.SystemIDs()
			if err := a.sim.System(ids[0]).SetPowerState(simulator.PowerOn); err != nil {
				t.Fatal(err)
			}
			if err := a.sim.System(ids[1]).SetPartHealth("PSU1", simulator.HealthCritical); err != nil {
				t.Fatal(err)
			}
			a.cycle(t) // logs in
			a.cycle(t)
			mfs := a.scrape(t)
			for _, id := range ids {
				got, want := nodeSeries(t, mfs, a.nodes[id]), wantSeries(a.sim.System(id))
				for k, v := range want {
					if g, ok := got[k]; !ok || g != v {
						t.Errorf("%s: %s %q = %v (served: %v), want %v", id, k.family, k.name, g, ok, v)
					}
				}
				for k, v := range got {
					if _, ok := want[k]; !ok && k.family != "bmc_read_duration_seconds" && k.family != "bmc_last_success_timestamp_seconds" {
						t.Errorf("%s: %s %q = %v is served; the BMC does not report it", id, k.family, k.name, v)
					}
				}
			}
			// The Critical power supply's node went into maintenance.
			n, err := a.db.Node(context.Background(), a.nodes[ids[1]])
			if err != nil || n.Fault != telemetry.FaultHealthFailure || !n.Maintenance {
				t.Fatalf("node of a system with a Critical PSU: fault %q maintenance %v (%v)", n.Fault, n.Maintenance, err)
			}

			// Scrapes cost the BMCs nothing.
			before := a.requests()
			for range 5 {
				a.scrape(t)
			}
			if after := a.requests(); after != before {
				t.Fatalf("5 scrapes made %d BMC requests", after-before)
			}
			// An interval scraped every second, then one scraped once: the
			// same BMC requests.
			rate := func(scrapesPerCycle int) uint64 {
				start := a.requests()
				a.cycle(t)
				for range scrapesPerCycle {
					a.scrape(t)
				}
				return a.requests() - start
			}
			perSecond, perMinute := rate(60), rate(1)
			if perSecond != perMinute || perSecond == 0 {
				t.Fatalf("BMC requests in an interval: %d scraping every second, %d scraping every minute", perSecond, perMinute)
			}
			t.Logf("%s: %d BMC requests per interval for 2 nodes, whatever the scrape rate", p.Name, perSecond)
		})
	}
}

// The same over IPMI, through the simulator's IPMI face and the IPMI
// driver: the sensors and the DCMI draw are the model's (within the SDR's
// conversion resolution, as drivers/ipmi's own test allows), and what IPMI
// does not report has no series: no health rollup, no power supplies (the
// face has no PSU SDRs). Scrapes send the BMCs nothing, and an interval
// costs the same IPMI requests scraped sixty times or once.
func TestMetricsMatchSimulatorIPMI(t *testing.T) {
	ctx := context.Background()
	frozen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sim, err := simulator.New(simulator.Config{Systems: 2, Now: func() time.Time { return frozen }})
	if err != nil {
		t.Fatal(err)
	}
	face := ipmisim.New(sim, ipmisim.Config{})
	if err := face.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { face.Close(); sim.Close() })
	ids := sim.SystemIDs()
	if err := sim.System(ids[0]).SetPowerState(simulator.PowerOn); err != nil {
		t.Fatal(err)
	}
	q := sim.System(ids[1]).Quirks()
	q.FanPercent = true
	if err := sim.System(ids[1]).SetQuirks(q); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, ipmi.New(ipmi.Config{MinCommandInterval: 5 * time.Millisecond, CommandTimeout: 10 * time.Second, RetryInterval: 20 * time.Millisecond}))
	for _, id := range ids {
		a.addNode(t, id, ipmi.Name, store.JSON{
			ipmi.InfoAddress: "127.0.0.1", ipmi.InfoPort: float64(face.Port(id)),
			ipmi.InfoUsername: "admin", ipmi.InfoPassword: "password", ipmi.InfoCipherSuite: "3",
		})
	}
	requests := func() int {
		n := 0
		for _, id := range ids {
			for _, c := range face.Requests(id) {
				n += c
			}
		}
		return n
	}
	a.cycle(t)
	a.cycle(t)
	mfs := a.scrape(t)
	for _, id := range ids {
		got := nodeSeries(t, mfs, a.nodes[id])
		tel := sim.System(id).Telemetry()
		want := map[series]float64{{"bmc_up", "/"}: 1, {"bmc_power_consumption_watts", "/"}: tel.PowerWatts}
		tolerance := map[series]float64{{"bmc_up", "/"}: 0, {"bmc_power_consumption_watts", "/"}: 0.5}
		for _, s := range tel.Sensors {
			f, v, tol := sensorFamily[s.Kind], s.Reading, 0.5
			switch {
			case s.Units == "RPM":
				tol = 50
			case s.UpperCritical > 0:
				tol = s.UpperCritical * 1.25 / 255
			}
			tol += 0.005
			if s.Units == "Percent" {
				f, v, tol = "bmc_fan_speed_ratio", v/100, tol/100
			}
			want[series{f, s.Name + "/"}], tolerance[series{f, s.Name + "/"}] = v, tol
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || math.Abs(g-v) > tolerance[k] {
				t.Errorf("%s: %s %q = %v (served: %v), want %v +/- %v", id, k.family, k.name, g, ok, v, tolerance[k])
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok && k.family != "bmc_read_duration_seconds" && k.family != "bmc_last_success_timestamp_seconds" && k.family != "bmc_info" {
				t.Errorf("%s: %s %q = %v is served; IPMI does not report it", id, k.family, k.name, v)
			}
		}
	}
	before := requests()
	for range 5 {
		a.scrape(t)
	}
	if after := requests(); after != before {
		t.Fatalf("5 scrapes made %d IPMI requests", after-before)
	}
	rate := func(scrapes int) int {
		start := requests()
		a.cycle(t)
		for range scrapes {
			a.scrape(t)
		}
		return requests() - start
	}
	perSecond, perMinute := rate(60), rate(1)
	if perSecond != perMinute || perSecond == 0 {
		t.Fatalf("IPMI requests in an interval: %d scraping every second, %d scraping every minute", perSecond, perMinute)
	}
	t.Logf("%d IPMI requests per interval for 2 nodes, whatever the scrape rate", perSecond)
}
