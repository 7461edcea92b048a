package metrics_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/metrics"
	"github.com/bmc-agent/bmc-agent/powersync"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// agent is the part of an agent the metrics watch, wired as serve wires it.
type agent struct {
	db   *sqlstore.DB
	tm   *taskmanager.Manager
	fake *fake.Driver
	reg  *metrics.Registry
	sync *metrics.Sync
}

func newAgent(t *testing.T) *agent {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := fake.New()
	dreg, err := drivers.NewRegistry(f)
	if err != nil {
		t.Fatal(err)
	}
	reg := metrics.New(nil)
	drv, lk, sy := metrics.NewDriver(), metrics.NewLock(), metrics.NewSync()
	tm, err := taskmanager.New(taskmanager.Config{
		AgentID: "agent-a", Store: db, Drivers: dreg, Workers: 4,
		Locker:     lock.NewLocker(db, lock.Policy{Attempts: 2, Interval: time.Millisecond}, lk),
		Middleware: []drivers.Middleware{drv.Middleware(), drivers.Timeout(time.Minute)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(drv, lk, sy, metrics.NewPool(tm), metrics.NewNodes(db, "", 0)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tm.Shutdown(ctx)
		db.Close()
	})
	return &agent{db: db, tm: tm, fake: f, reg: reg, sync: sy}
}

// work does a little of everything: nodes in several states, power actions,
// a failing BMC, a held lock with a contender, a sync cycle.
func (a *agent) work(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i, st := range []string{taskmanager.StateAvailable, taskmanager.StateAvailable, taskmanager.StateAvailable, taskmanager.StateActive, taskmanager.StateManageable} {
		n := &store.Node{Name: fmt.Sprintf("n%d", i), Driver: fake.Name, DriverInfo: store.JSON{"password": "s3cret-bmc-pw"},
			ProvisionState: st, PowerState: string(drivers.PowerOff)}
		if err := a.db.CreateNode(ctx, n); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.UUID)
	}
	// Two power-ons through exclusive tasks.
	for _, id := range ids[3:] {
		err := a.tm.Do(ctx, id, []taskmanager.Option{taskmanager.Purpose("power on")}, func(ctx context.Context, t *taskmanager.Task) error {
			if err := t.Driver().SetPowerState(ctx, drivers.ActionPowerOn, 0); err != nil {
				return err
			}
			t.Node().PowerState = string(drivers.PowerOn)
			return t.Save(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// An unreachable BMC: one failed sync read.
	a.fake.Inject(ids[2], fake.Fault{Err: fmt.Errorf("no route: %w", drivers.ErrBMCUnreachable)})
	// A lock held by another agent, and a contender that gives up.
	if _, err := a.db.Reserve(ctx, ids[0], lock.Reservation{Holder: "agent-b", Purpose: "deploy"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.tm.Acquire(ctx, ids[0], taskmanager.Purpose("power off")); !errors.Is(err, lock.ErrNodeLocked) {
		t.Fatalf("acquire of a held node: %v", err)
	}
	// One node changed out of band; one maintenance node.
	a.fake.SetPower(ids[1], drivers.PowerOn)
	n, _ := a.db.Node(ctx, ids[4])
	n.Maintenance, n.MaintenanceReason = true, "by hand"
	if err := a.db.UpdateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	l, err := powersync.New(powersync.Config{AgentID: "agent-a", Observer: a.sync}, a.tm, a.db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Cycle(ctx); err != nil {
		t.Fatal(err)
	}
}

var update = flag.Bool("update", false, "rewrite testdata/metrics.golden")

// goldenNames are the series whose values do not depend on timing.
var goldenNames = []string{
	"bmc_agent_bmc_errors_total", "bmc_agent_lock_contention_failures_total", "bmc_agent_locks_held",
	"bmc_agent_workers", "bmc_agent_workers_busy", "bmc_agent_worker_spawns_rejected_total",
	"bmc_agent_nodes", "bmc_agent_nodes_locked",
	"bmc_agent_power_sync_nodes_total", "bmc_agent_power_sync_errors_total", "bmc_agent_power_sync_cycles_total",
	"bmc_agent_power_sync_owned_nodes", "bmc_agent_power_sync_agents", "bmc_agent_power_sync_overruns_total",
}

// The golden file holds every series whose value does not depend on timing,
// after the same work; go test -run Golden -update rewrites it.
func TestGolden(t *testing.T) {
	a := newAgent(t)
	a.work(t)
	const golden = "testdata/metrics.golden"
	if *update {
		b, err := testutil.GatherAndFormat(a.reg.Gatherer(), expfmt.TypeTextPlain, goldenNames...)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.GatherAndCompare(a.reg.Gatherer(), f, goldenNames...); err != nil {
		t.Fatal(err)
	}
}

// Every metric follows Prometheus' naming conventions.
func TestLint(t *testing.T) {
	a := newAgent(t)
	a.work(t)
	problems, err := testutil.GatherAndLint(a.reg.Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "bmc_agent_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

// Scrape /metrics over HTTP after some work and check the series a dashboard
// relies on, with values that follow from the work and from the store.
func TestScrape(t *testing.T) {
	a := newAgent(t)
	a.work(t)
	srv := httptest.NewServer(a.reg.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	if strings.Contains(string(body), "s3cret-bmc-pw") {
		t.Fatal("a BMC password is in /metrics")
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}

	// Driver calls: histogram by driver/interface/method/result, no node label.
	calls := fams["bmc_agent_driver_call_duration_seconds"]
	if calls == nil || calls.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("no driver call histogram:\n%s", body)
	}
	count := func(labels map[string]string) uint64 {
		var n uint64
		for _, m := range calls.Metric {
			if matches(m, labels) {
				n += m.GetHistogram().GetSampleCount()
			}
		}
		return n
	}
	for _, m := range calls.Metric {
		for _, l := range m.Label {
			switch l.GetName() {
			case "driver", "interface", "method", "result":
			default:
				t.Errorf("unexpected label %s on the driver histogram", l.GetName())
			}
		}
	}
	if n := count(map[string]string{"driver": "fake", "interface": "power", "method": "SetPowerState", "result": "ok"}); n != 2 {
		t.Errorf("SetPowerState ok count = %d, want 2", n)
	}
	// The sync read the 3 nodes that are neither locked nor in maintenance
	// (the locked one is skipped before any read): 2 answered, the one
	// changed out of band twice (the second time under its lock, before the
	// change was recorded), and 1 was unreachable.
	if n := count(map[string]string{"method": "PowerState", "result": "ok"}); n != 3 {
		t.Errorf("PowerState ok count = %d, want 3", n)
	}
	if n := count(map[string]string{"method": "PowerState", "result": "unreachable"}); n != 1 {
		t.Errorf("PowerState unreachable count = %d, want 1", n)
	}

	// Lock wait histogram: the two power-ons and the sync's upgrade for the
	// out-of-band change took a lock.
	if h := fams["bmc_agent_lock_wait_seconds"]; h == nil || h.Metric[0].GetHistogram().GetSampleCount() != 3 {
		t.Errorf("lock waits: %v", h)
	}
	// The sync cycle's duration was observed once.
	if h := fams["bmc_agent_power_sync_cycle_duration_seconds"]; h == nil || h.Metric[0].GetHistogram().GetSampleCount() != 1 {
		t.Errorf("sync cycle duration: %v", h)
	}
	if g := fams["bmc_agent_power_sync_last_success_timestamp_seconds"]; g == nil || g.Metric[0].GetGauge().GetValue() < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("last success: %v", g)
	}
	// Process metrics are there, for resident memory.
	if g := fams["process_resident_memory_bytes"]; g == nil || g.Metric[0].GetGauge().GetValue() <= 0 {
		t.Errorf("process_resident_memory_bytes: %v", g)
	}

	// Node gauges match the store.
	all, err := a.db.Nodes(context.Background(), store.NodeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for _, n := range all {
		ps := n.PowerState
		if ps == "" {
			ps = "none"
		}
		want[fmt.Sprintf("%s/%s/%t", ps, n.ProvisionState, n.Maintenance)]++
	}
	got := map[string]float64{}
	for _, m := range fams["bmc_agent_nodes"].GetMetric() {
		got[fmt.Sprintf("%s/%s/%s", label(m, "power_state"), label(m, "provision_state"), label(m, "maintenance"))] = m.GetGauge().GetValue()
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("node gauges %v, store %v", got, want)
	}
}

// A store that fails leaves its series out of the scrape; the rest is served.
func TestNodesStoreDown(t *testing.T) {
	reg := metrics.New(nil)
	if err := reg.Register(metrics.NewNodes(downStore{}, "", time.Second), metrics.NewLock()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "bmc_agent_locks_held") ||
		strings.Contains(rec.Body.String(), "bmc_agent_nodes{") {
		t.Fatalf("scrape with the store down: %d\n%s", rec.Code, rec.Body.String())
	}
}

type downStore struct{}

func (downStore) Nodes(context.Context, store.NodeFilter) ([]*store.Node, error) {
	return nil, store.ErrUnavailable
}

func matches(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		if label(m, k) != v {
			return false
		}
	}
	return true
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
