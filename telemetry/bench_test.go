package telemetry_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/internal/childproc"
	"github.com/bmc-agent/bmc-agent/internal/simfleet"
	"github.com/bmc-agent/bmc-agent/internal/testutil"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/metrics"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
	"github.com/bmc-agent/bmc-agent/telemetry"
)

// inFlight is a drivers.Middleware that counts the telemetry reads reaching
// the driver and the most in flight at once.
type inFlight struct {
	mu              sync.Mutex
	now, max, reads int
}

func (f *inFlight) middleware(ctx context.Context, c drivers.Call, next func(context.Context) error) error {
	if c.Method.Name != drivers.MethodTelemetry.Name {
		return next(ctx)
	}
	f.mu.Lock()
	f.now++
	f.reads++
	f.max = max(f.max, f.now)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.now--
		f.mu.Unlock()
	}()
	return next(ctx)
}

func (f *inFlight) counts() (reads, most int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads, f.max
}

// BenchmarkTelemetryFleet is one agent reading the telemetry of 10,000
// nodes of 40 sensors, each read costing what a Redfish read of five
// requests at 200 ms each costs (one second), within a 60 s interval with
// 300 workers: the same load per worker as the default 3 minutes with 100
// (BMC_AGENT_TELEMETRY_NODES, _SENSORS, _LATENCY, _REQUESTS, _INTERVAL and
// _WORKERS change them). The BMCs are the fake driver's, in this process, so
// that the figures are the agent's own: the embedded database with the
// nodes, the task manager, the collector and its cache. Each iteration is
// one cycle spread as Run spreads it; then /metrics is scraped (as
// Prometheus asks for it, gzip) from the cache, and the scrape is checked to
// have made no driver call.
//
// Reported: cycle_s (the cycle, start of the first read to end of the
// last), interval_s, x_interval (their ratio; at most 1 means the reads fit
// the interval), max_in_flight (reads at once, at most one per node's
// BMC), rss_MB (this process's resident memory after the cycles, before the
// scrape) and x_target_150MB, peak_rss_MB (its high-water mark over the
// whole run: node creation, every cycle and the scrape; the kernel's VmHWM
// of this process alone, the simulator being another) and
// peak_x_target_150MB, heap_MB (Go heap in use after a GC), stacks_MB
// (goroutine stacks then), scrape_s and x_target_1s (one scrape of every
// series), series.
func BenchmarkTelemetryFleet(b *testing.B) {
	nodes := testutil.EnvInt("BMC_AGENT_TELEMETRY_NODES", 10000)
	sensors := testutil.EnvInt("BMC_AGENT_TELEMETRY_SENSORS", 40)
	latency := testutil.EnvDuration("BMC_AGENT_TELEMETRY_LATENCY", 200*time.Millisecond)
	requests := testutil.EnvInt("BMC_AGENT_TELEMETRY_REQUESTS", 5)
	interval := testutil.EnvDuration("BMC_AGENT_TELEMETRY_INTERVAL", 60*time.Second)
	workers := testutil.EnvInt("BMC_AGENT_TELEMETRY_WORKERS", 300)
	ctx := context.Background()

	db, err := sqlstore.Open(ctx, filepath.Join(b.TempDir(), "agent.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() }) // after the task manager (fleetCollector)
	read := latency * time.Duration(requests)
	for i := range nodes {
		n := &store.Node{
			Name: fmt.Sprintf("node-%05d", i), Driver: fake.Name, ProvisionState: taskmanager.StateActive,
			DriverInfo: store.JSON{
				fake.InfoDelay: read.String(), fake.InfoSensors: strconv.Itoa(sensors),
				"fake_address": fmt.Sprintf("10.1.%d.%d", i/250, i%250), // a BMC per node
			},
		}
		if err := db.CreateNode(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	c, count, cycle := fleetCollector(b, db, fake.New(), nodes, interval, workers)
	b.ResetTimer()
	var took time.Duration
	for range b.N {
		took += cycle()
	}
	b.StopTimer()
	reportFleet(b, c, count, took.Seconds()/float64(b.N), interval)
}

// fleetCollector is the agent of a fleet benchmark over db's nodes: a
// registry of the one driver d, a task manager counting the telemetry reads
// in flight, a collector; and a function that runs a cycle spread as Run
// spreads it, checks it read all nodes and returns how long it took.
func fleetCollector(b *testing.B, db *sqlstore.DB, d drivers.Driver, nodes int, interval time.Duration, workers int) (*telemetry.Collector, *inFlight, func() time.Duration) {
	reg, err := drivers.NewRegistry(d)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { reg.Close(context.Background()) })
	count := &inFlight{}
	tm, err := taskmanager.New(taskmanager.Config{
		AgentID: "bench", Store: db, Drivers: reg, Locker: lock.NewLocker(db, lock.Policy{}, nil),
		Middleware: []drivers.Middleware{count.middleware, drivers.Timeout(2 * time.Minute)},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tm.Shutdown(context.Background()) })
	c, err := telemetry.New(telemetry.Config{AgentID: "bench", Interval: interval, Workers: workers, HealthFault: true}, tm, db, nil)
	if err != nil {
		b.Fatal(err)
	}
	return c, count, func() time.Duration {
		r, err := c.Cycle(context.Background(), c.Spread())
		if err != nil || r.Read != nodes {
			b.Fatalf("cycle: %+v %v", r, err)
		}
		return r.Took
	}
}

// reportFleet reports a fleet benchmark's figures (see
// BenchmarkTelemetryFleet) after its cycles: memory, then one scrape,
// checked to have made no driver call, whose series it counts.
func reportFleet(b *testing.B, c *telemetry.Collector, count *inFlight, cycle float64, interval time.Duration) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, _, err := childproc.Memory(0)
	if err != nil {
		b.Fatal(err)
	}

	mreg := metrics.New(nil)
	if err := mreg.RegisterStream(metrics.NewTelemetry(c.Cache())); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(mreg.Handler())
	defer srv.Close()
	before, most := count.counts()
	start := time.Now()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		b.Fatal(err)
	}
	gz, err := gzip.NewReader(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	series := 0
	lines := bufio.NewScanner(gz)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		if !bytes.HasPrefix(lines.Bytes(), []byte("#")) {
			series++
		}
	}
	resp.Body.Close()
	scrape := time.Since(start)
	if after, _ := count.counts(); after != before {
		b.Fatalf("the scrape made %d telemetry reads", after-before)
	}
	_, peak, _ := childproc.Memory(0)

	b.ReportMetric(cycle, "cycle_s")
	b.ReportMetric(interval.Seconds(), "interval_s")
	b.ReportMetric(cycle/interval.Seconds(), "x_interval")
	b.ReportMetric(float64(most), "max_in_flight")
	b.ReportMetric(rss/1e6, "rss_MB")
	b.ReportMetric(rss/1e6/150, "x_target_150MB")
	b.ReportMetric(peak/1e6, "peak_rss_MB")
	b.ReportMetric(peak/1e6/150, "peak_x_target_150MB")
	b.ReportMetric(float64(ms.HeapInuse)/1e6, "heap_MB")
	b.ReportMetric(float64(ms.StackInuse)/1e6, "stacks_MB")
	b.ReportMetric(scrape.Seconds(), "scrape_s")
	b.ReportMetric(scrape.Seconds()/1, "x_target_1s")
	b.ReportMetric(float64(series), "series")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkTelemetryFleetRedfish is BenchmarkTelemetryFleet against real
// Redfish: 10,000 simulated BMCs, each on its own port (a client, a session
// and connections per BMC, as in a real fleet), answering every request
// after 200 ms, in a child process so that the figures are the agent's; the
// agent reads them with the Redfish driver (3 or 4 GETs per read with
// $expand). Same environment variables as BenchmarkTelemetryFleet but
// _REQUESTS. The first cycle logs in to every BMC (first_cycle_s, and
// first_cycle_peak_rss_MB: the high-water mark at its end, node creation
// included); each iteration is a cycle after it. Same figures as
// BenchmarkTelemetryFleet.
func BenchmarkTelemetryFleetRedfish(b *testing.B) {
	nodes := testutil.EnvInt("BMC_AGENT_TELEMETRY_NODES", 10000)
	latency := testutil.EnvDuration("BMC_AGENT_TELEMETRY_LATENCY", 200*time.Millisecond)
	interval := testutil.EnvDuration("BMC_AGENT_TELEMETRY_INTERVAL", 60*time.Second)
	workers := testutil.EnvInt("BMC_AGENT_TELEMETRY_WORKERS", 300)
	ctx := context.Background()

	url := childproc.Start(b, simfleet.Name, simfleet.Arg(nodes, latency, true)).URL
	systems := simfleet.Systems(b, url)
	db, err := sqlstore.Open(ctx, filepath.Join(b.TempDir(), "agent.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() }) // after the task manager (fleetCollector)
	for id, u := range systems {
		addr, system := simfleet.Split(u)
		n := &store.Node{
			Name: id, Driver: redfish.Name, ProvisionState: taskmanager.StateActive,
			DriverInfo: store.JSON{
				redfish.InfoAddress: addr, redfish.InfoSystemID: system,
				redfish.InfoUsername: "admin", redfish.InfoPassword: "password",
			},
		}
		if err := db.CreateNode(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	c, count, cycle := fleetCollector(b, db, redfish.New(redfish.Options{}), len(systems), interval, workers)
	first := cycle()
	_, firstPeak, err := childproc.Memory(0)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var took time.Duration
	for range b.N {
		took += cycle()
	}
	b.StopTimer()
	b.ReportMetric(first.Seconds(), "first_cycle_s")
	b.ReportMetric(firstPeak/1e6, "first_cycle_peak_rss_MB")
	reportFleet(b, c, count, took.Seconds()/float64(b.N), interval)
}
