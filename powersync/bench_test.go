package powersync_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/internal/childproc"
	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/internal/simfleet"
	"github.com/bmc-agent/bmc-agent/internal/testutil"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/powersync"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// BenchmarkSyncFleet is one agent syncing a fleet of simulated Redfish BMCs:
// 10,000 nodes with 200 ms of latency per request at a concurrency of 200
// by default (BMC_AGENT_SYNC_NODES, BMC_AGENT_SYNC_LATENCY,
// BMC_AGENT_SYNC_WORKERS change them). The simulator runs in a child
// process, all systems on one port (one Redfish client in the agent), or each
// on its own port with BMC_AGENT_SYNC_PORT_PER_BMC=1 (a client, a session and
// a connection per BMC, as in a real fleet); the agent is this process: the embedded database (SQLite, or the
// test PostgreSQL server with BMC_AGENT_SYNC_DB=postgres, whose reader pool
// BMC_AGENT_SYNC_DB_CONNS sizes) with the nodes, the task manager, the
// Redfish driver and the loop. Each iteration is one steady-state cycle, after
// a first cycle that opens the session and the connections (first_cycle_s).
//
// Reported: sync_s (mean cycle), ideal_s (nodes x latency / workers),
// x_ideal (their ratio; the target is 1.2), rss_MB (this process's resident
// memory after the cycles) and x_target_100MB (its ratio to issue 7's
// budget), peak_rss_MB
// (its high-water mark, node creation included), go_sys_MB (memory the Go
// runtime holds; the rest of the RSS is SQLite's page caches, which live
// outside the Go heap, and the binary) and heap_MB (Go heap in use).
func BenchmarkSyncFleet(b *testing.B) {
	nodes := testutil.EnvInt("BMC_AGENT_SYNC_NODES", 10000)
	latency := testutil.EnvDuration("BMC_AGENT_SYNC_LATENCY", 200*time.Millisecond)
	workers := testutil.EnvInt("BMC_AGENT_SYNC_WORKERS", 200)
	ctx := context.Background()

	perPort := os.Getenv("BMC_AGENT_SYNC_PORT_PER_BMC") != ""
	url := childproc.Start(b, simfleet.Name, simfleet.Arg(nodes, latency, perPort)).URL
	address := func(i int) (string, string) {
		return url, fmt.Sprintf("/redfish/v1/Systems/sys-%05d", i)
	}
	if perPort {
		systems := simfleet.Systems(b, url)
		address = func(i int) (string, string) { return simfleet.Split(systems[fmt.Sprintf("sys-%05d", i)]) }
	}
	dsn := filepath.Join(b.TempDir(), "agent.db")
	if os.Getenv("BMC_AGENT_SYNC_DB") == "postgres" {
		dsn = pgtest.DSN(b)
	}
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{MaxConns: testutil.EnvInt("BMC_AGENT_SYNC_DB_CONNS", 0)})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for i := 1; i <= nodes; i++ {
		addr, system := address(i)
		n := &store.Node{
			Name: fmt.Sprintf("sys-%05d", i), Driver: redfish.Name, ProvisionState: taskmanager.StateActive,
			PowerState: string(drivers.PowerOff), // the simulator's systems start off
			DriverInfo: store.JSON{
				redfish.InfoAddress: addr, redfish.InfoSystemID: system,
				redfish.InfoUsername: "admin", redfish.InfoPassword: "password",
			},
		}
		if err := db.CreateNode(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	opts := redfish.Options{}
	if !perPort {
		opts.MaxRequestsPerBMC = workers // one simulator port stands in for every BMC
	}
	rf := redfish.New(opts)
	reg, err := drivers.NewRegistry(rf)
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close(context.Background())
	tm, err := taskmanager.New(taskmanager.Config{
		AgentID: "bench", Store: db, Drivers: reg, Locker: lock.NewLocker(db, lock.Policy{}, nil),
		Middleware: []drivers.Middleware{drivers.Timeout(2 * time.Minute)},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer tm.Shutdown(context.Background())
	l, err := powersync.New(powersync.Config{AgentID: "bench", Workers: workers, Interval: time.Hour}, tm, db, nil)
	if err != nil {
		b.Fatal(err)
	}
	check := func(r powersync.Result, err error) powersync.Result {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
		if r.InSync != nodes {
			b.Fatalf("cycle: %+v", r)
		}
		return r
	}
	first := check(l.Cycle(ctx))
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		total += check(l.Cycle(ctx)).Took
	}
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sync := total.Seconds() / float64(b.N)
	ideal := float64(nodes) * latency.Seconds() / float64(workers)
	b.ReportMetric(first.Took.Seconds(), "first_cycle_s")
	b.ReportMetric(sync, "sync_s")
	b.ReportMetric(ideal, "ideal_s")
	b.ReportMetric(sync/ideal, "x_ideal")
	rss, peak, err := childproc.Memory(0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rss/1e6, "rss_MB")
	b.ReportMetric(rss/1e6/100, "x_target_100MB")
	b.ReportMetric(peak/1e6, "peak_rss_MB")
	b.ReportMetric(float64(ms.HeapInuse)/1e6, "heap_MB")
	b.ReportMetric(float64(ms.Sys)/1e6, "go_sys_MB")
	b.ReportMetric(0, "ns/op")
}
