package taskmanager_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// BenchmarkAcquireRelease measures an exclusive Acquire (lock taken, node
// loaded, driver bound) and its Release, per backend, with 1 and 8
// concurrent clients each working on its own node. For PostgreSQL it also
// runs pgbench on the same server with the same two conditional UPDATEs, in
// the same run, and reports the ratio to that ceiling. Both sides share two
// cores with the server and vary by a fifth from one few-second window to
// the next, so PostgreSQL is measured in rounds: the agent for 2 s, then
// pgbench for 2 s, five times, and the ratio reported is the median of the
// rounds' ratios (the rates are the medians of their own).
//
//	go test -run '^$' -bench AcquireRelease -benchtime 3s ./taskmanager/
func BenchmarkAcquireRelease(b *testing.B) {
	var (
		pgOnce    sync.Once
		pgCluster *pgtest.Cluster
		pgErr     error
	)
	defer func() {
		if pgCluster != nil {
			pgCluster.Stop()
		}
	}()
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, clients := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/clients=%d", backend, clients), func(b *testing.B) {
				dsn := filepath.Join(b.TempDir(), "bench.db")
				if backend == "postgres" {
					pgOnce.Do(func() {
						// Durable, as in production: fsync and synchronous commit on.
						pgCluster, pgErr = pgtest.Start(pgtest.Options{Durable: true})
					})
					if pgErr != nil {
						b.Fatal(pgErr)
					}
					dsn = pgCluster.NewDatabase(b)
				}
				ids, tm, cleanup := benchEnv(b, dsn, clients)
				defer cleanup()
				if backend == "sqlite" {
					rate := runAcquireRelease(b, tm, ids)
					b.ReportMetric(rate, "acquires/s")
					b.ReportMetric(rate/5000, "x_target_5000/s")
					return
				}
				const rounds = 5
				var ours, theirs, ratios []float64
				b.ResetTimer()
				for range rounds {
					rate := acquireReleaseFor(b, tm, ids, 2*time.Second)
					ceiling := pgbenchCeiling(b, pgCluster, dsn, clients, 2)
					ours, theirs, ratios = append(ours, rate), append(theirs, ceiling), append(ratios, rate/ceiling)
				}
				b.StopTimer()
				b.ReportMetric(median(ours), "acquires/s")
				b.ReportMetric(median(theirs), "pgbench_tps")
				b.ReportMetric(median(ratios), "x_pgbench")
			})
		}
	}
}

func benchEnv(b *testing.B, dsn string, clients int) ([]string, *taskmanager.Manager, func()) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{MaxConns: clients + 2})
	if err != nil {
		b.Fatal(err)
	}
	reg, _ := drivers.NewRegistry(fake.New())
	tm, err := taskmanager.New(taskmanager.Config{AgentID: "bench", Store: db, Locker: lock.NewLocker(db, lock.DefaultPolicy, nil), Drivers: reg})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, clients)
	for i := range ids {
		n := &store.Node{Name: fmt.Sprintf("bench-%d", i), Driver: "fake", ProvisionState: "available",
			DriverInfo: store.JSON{"redfish_address": "https://10.0.0.1", "redfish_username": "admin", "redfish_password": "secret"},
			Properties: store.JSON{"cpus": 64, "memory_mb": 262144}}
		if err := db.CreateNode(ctx, n); err != nil {
			b.Fatal(err)
		}
		if err := db.CreatePort(ctx, &store.Port{NodeUUID: n.UUID, Address: fmt.Sprintf("52:54:00:00:01:%02x", i), PXEEnabled: true}); err != nil {
			b.Fatal(err)
		}
		ids[i] = n.UUID
	}
	return ids, tm, func() { tm.Shutdown(ctx); db.Close() }
}

// runAcquireRelease runs b.N Acquire+Release cycles spread over one
// goroutine per node and returns the rate.
func runAcquireRelease(b *testing.B, tm *taskmanager.Manager, ids []string) float64 {
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := max(b.N/len(ids), 1)
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				t, err := tm.Acquire(ctx, id, taskmanager.Purpose("bench"))
				if err != nil {
					b.Error(err)
					return
				}
				t.Release()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	return float64(per*len(ids)) / time.Since(start).Seconds()
}

// acquireReleaseFor runs Acquire+Release cycles, one goroutine per node,
// for d and returns the rate.
func acquireReleaseFor(b *testing.B, tm *taskmanager.Manager, ids []string, d time.Duration) float64 {
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	start := time.Now()
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for time.Since(start) < d {
				t, err := tm.Acquire(ctx, id, taskmanager.Purpose("bench"))
				if err != nil {
					b.Error(err)
					return
				}
				t.Release()
				n++
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+)`)

// pgbenchCeiling runs the agent's two lock statements with pgbench, each
// client on its own node, and returns the transactions (take + release) per
// second. Like the agent's, the take returns the fencing token and the
// release is conditional on it.
func pgbenchCeiling(b *testing.B, c *pgtest.Cluster, dsn string, clients, seconds int) float64 {
	script := filepath.Join(b.TempDir(), "lock.sql")
	body := `\set n :client_id
UPDATE nodes SET reservation = 'pgbench', reservation_purpose = 'bench', reserved_at = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT, lock_token = lock_token + 1 WHERE name = 'bench-' || :n AND reservation IS NULL RETURNING lock_token \gset
UPDATE nodes SET reservation = NULL, reservation_purpose = NULL, reserved_at = NULL WHERE name = 'bench-' || :n AND reservation = 'pgbench' AND lock_token = :lock_token;
`
	if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(c.Bin("pgbench"), "-n", "-M", "prepared", "-f", script, "-c", strconv.Itoa(clients), "-j", strconv.Itoa(clients), "-T", strconv.Itoa(seconds), dsn)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		b.Fatalf("pgbench printed no tps:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	return tps
}

// BenchmarkFencedMutation measures what fencing costs a mutating driver
// call: SetPowerState through an exclusive task's driver handle (the fence
// reads the node's lock row before the call) against the same call on the
// bare fake driver, one client, per backend.
//
//	go test -run '^$' -bench FencedMutation ./taskmanager/
func BenchmarkFencedMutation(b *testing.B) {
	var c *pgtest.Cluster
	defer func() {
		if c != nil {
			c.Stop()
		}
	}()
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			dsn := filepath.Join(b.TempDir(), "bench.db")
			if backend == "postgres" {
				if c == nil {
					var err error
					if c, err = pgtest.Start(pgtest.Options{Durable: true}); err != nil {
						b.Fatal(err)
					}
				}
				dsn = c.NewDatabase(b)
			}
			ids, tm, cleanup := benchEnv(b, dsn, 1)
			defer cleanup()
			ctx := context.Background()
			task, err := tm.Acquire(ctx, ids[0], taskmanager.Purpose("bench"))
			if err != nil {
				b.Fatal(err)
			}
			defer task.Release()
			bare := fake.New()
			node := task.DriverNode()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := task.Driver().SetPowerState(ctx, drivers.ActionPowerOn, 0); err != nil {
					b.Fatal(err)
				}
			}
			fenced := time.Since(start)
			start = time.Now()
			for range b.N {
				if err := bare.SetPowerState(ctx, node, drivers.ActionPowerOn, 0); err != nil {
					b.Fatal(err)
				}
			}
			unfenced := time.Since(start)
			b.StopTimer()
			us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
			b.ReportMetric(us(fenced), "fenced-us/call")
			b.ReportMetric(us(unfenced), "bare-us/call")
			b.ReportMetric(us(fenced-unfenced), "fence-us/mutation")
		})
	}
}
