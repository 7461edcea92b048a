package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/cluster"
	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/internal/childproc"
	"github.com/bmc-agent/bmc-agent/internal/simfleet"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
	"github.com/bmc-agent/bmc-agent/telemetry"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	childproc.Serve(simfleet.Name, simfleet.Serve) // the simulated fleet of BenchmarkTelemetryFleetRedfish
	goleak.VerifyTestMain(m)
}

type env struct {
	db   *sqlstore.DB
	tm   *taskmanager.Manager
	fake *fake.Driver
	seq  int
}

func newEnv(t *testing.T, mw ...drivers.Middleware) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "agent.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := fake.New()
	reg, err := drivers.NewRegistry(f, fake.NewHardware())
	if err != nil {
		t.Fatal(err)
	}
	tm, err := taskmanager.New(taskmanager.Config{
		AgentID: "agent-a", Store: db, Drivers: reg, Middleware: mw,
		Locker: lock.NewLocker(db, lock.Policy{Attempts: 1, Interval: time.Millisecond}, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tm.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		reg.Close(ctx)
		db.Close()
	})
	return &env{db: db, tm: tm, fake: f}
}

// node creates a fake node with driver_info info.
func (e *env) node(t *testing.T, driver string, info store.JSON) *store.Node {
	t.Helper()
	e.seq++
	if info == nil {
		info = store.JSON{}
	}
	n := &store.Node{Name: fmt.Sprintf("node-%d", e.seq), Driver: driver, DriverInfo: info, ProvisionState: taskmanager.StateAvailable}
	if err := e.db.CreateNode(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) collector(t *testing.T, cfg telemetry.Config, rings cluster.Rings) *telemetry.Collector {
	t.Helper()
	if cfg.AgentID == "" {
		cfg.AgentID = "agent-a"
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	c, err := telemetry.New(cfg, e.tm, e.db, rings)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func cycle(t *testing.T, c *telemetry.Collector) telemetry.Result {
	t.Helper()
	r, err := c.Cycle(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A cycle reads every node into the cache; a read that fails marks the BMC
// down and keeps the last readings with their time; a driver without
// telemetry is neither up nor down.
func TestCycleCaches(t *testing.T) {
	e := newEnv(t)
	good, bad := e.node(t, fake.Name, nil), e.node(t, fake.Name, nil)
	e.fake.Inject(bad.UUID, fake.Fault{Err: fmt.Errorf("%w: no route", drivers.ErrBMCUnreachable)})
	hw := e.node(t, fake.HardwareName, nil)
	enrolling := &store.Node{Name: "enrolling", Driver: fake.Name, DriverInfo: store.JSON{}, ProvisionState: taskmanager.StateEnroll}
	if err := e.db.CreateNode(context.Background(), enrolling); err != nil {
		t.Fatal(err)
	}
	c := e.collector(t, telemetry.Config{}, nil)
	r := cycle(t, c)
	if r.Owned != 3 || r.Read != 1 || r.Failed != 1 || r.Skipped != 1 {
		t.Fatalf("cycle: %+v", r)
	}
	g, ok := c.Cache().Get(good.UUID)
	if !ok || !g.Up || g.Telemetry == nil || len(g.Telemetry.Sensors) != fake.DefaultSensors || g.LastSuccess.IsZero() || g.Name != good.Name {
		t.Fatalf("good node: %+v", g)
	}
	b, _ := c.Cache().Get(bad.UUID)
	if b.Up || b.Telemetry != nil || b.ErrorKind != "unreachable" {
		t.Fatalf("unreachable node: %+v", b)
	}
	if h, _ := c.Cache().Get(hw.UUID); !h.Unsupported || h.Up {
		t.Fatalf("driver without telemetry: %+v", h)
	}
	if _, ok := c.Cache().Get(enrolling.UUID); ok {
		t.Fatal("a node in enroll was read")
	}

	e.fake.Inject(good.UUID, fake.Fault{Err: drivers.ErrBMCTimeout})
	cycle(t, c)
	g2, _ := c.Cache().Get(good.UUID)
	if g2.Up || g2.Telemetry != g.Telemetry || !g2.LastSuccess.Equal(g.LastSuccess) || g2.ErrorKind != "timeout" || !g2.LastAttempt.After(g.LastAttempt) {
		t.Fatalf("after a failed read: %+v (before %+v)", g2, g)
	}
}

// bmcCounter is a drivers.Middleware that counts telemetry reads in flight
// per BMC (the fake_address of the node's driver_info).
type bmcCounter struct {
	mu       sync.Mutex
	inFlight map[string]int
	maxOne   map[string]int
	reads    map[string]int
}

func (b *bmcCounter) middleware(ctx context.Context, c drivers.Call, next func(context.Context) error) error {
	if c.Method.Name != drivers.MethodTelemetry.Name {
		return next(ctx)
	}
	addr, _ := c.Node.Info.String("fake_address")
	b.mu.Lock()
	b.inFlight[addr]++
	b.maxOne[addr] = max(b.maxOne[addr], b.inFlight[addr])
	b.reads[c.Node.UUID]++
	b.mu.Unlock()
	err := next(ctx)
	b.mu.Lock()
	b.inFlight[addr]--
	b.mu.Unlock()
	return err
}

// Nodes behind one BMC are read one at a time, whatever the workers.
func TestOneReadPerBMC(t *testing.T) {
	bc := &bmcCounter{inFlight: map[string]int{}, maxOne: map[string]int{}, reads: map[string]int{}}
	e := newEnv(t, bc.middleware)
	var ids []string
	for i := range 12 {
		n := e.node(t, fake.Name, store.JSON{"fake_address": fmt.Sprintf("bmc-%d", i%2), fake.InfoDelay: "5ms"})
		ids = append(ids, n.UUID)
	}
	c := e.collector(t, telemetry.Config{Workers: 12}, nil)
	cycle(t, c)
	// And refreshes of them, all at once, with a cycle.
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			if err := c.Refresh(context.Background(), id); err != nil {
				t.Error(err)
			}
		})
	}
	cycle(t, c)
	wg.Wait()
	for addr, m := range bc.maxOne {
		if m != 1 {
			t.Errorf("BMC %s had %d telemetry reads in flight at once", addr, m)
		}
	}
	for _, id := range ids {
		if bc.reads[id] < 3 {
			t.Errorf("node %s read %d times, want 3 (two cycles and a refresh)", id, bc.reads[id])
		}
	}
}

// ring is a fixed cluster.Rings.
type ring struct{ r *cluster.Ring }

func (r *ring) Ring(context.Context) (*cluster.Ring, error) { return r.r, nil }

// A cycle reads only what the ring gives the agent, and drops from the
// cache what it no longer owns and what was deleted.
func TestOwnership(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for range 40 {
		ids = append(ids, e.node(t, fake.Name, nil).UUID)
	}
	two := cluster.NewRing([]string{"agent-a", "agent-b"}, 0)
	rs := &ring{two}
	c := e.collector(t, telemetry.Config{}, rs)
	r := cycle(t, c)
	mine := 0
	for _, id := range ids {
		_, cached := c.Cache().Get(id)
		if owned := two.Owner(id) == "agent-a"; cached != owned {
			t.Fatalf("node %s: cached %v, owned %v", id, cached, owned)
		}
		if cached {
			mine++
		}
	}
	if r.Agents != 2 || r.Owned != mine || mine == 0 || mine == len(ids) {
		t.Fatalf("cycle %+v, %d of %d cached", r, mine, len(ids))
	}

	rs.r = cluster.NewRing([]string{"agent-a"}, 0)
	cycle(t, c)
	if c.Cache().Len() != len(ids) {
		t.Fatalf("alone, the agent caches %d of %d nodes", c.Cache().Len(), len(ids))
	}
	if err := e.db.DeleteNode(context.Background(), ids[0]); err != nil {
		t.Fatal(err)
	}
	rs.r = two
	r = cycle(t, c)
	if _, ok := c.Cache().Get(ids[0]); ok || c.Cache().Len() != mine-boolInt(two.Owner(ids[0]) == "agent-a") {
		t.Fatalf("after a deletion and a second agent: %d cached, cycle %+v", c.Cache().Len(), r)
	}
	rs.r = cluster.NewRing([]string{"agent-b"}, 0) // this agent's heartbeat went stale
	cycle(t, c)
	if c.Cache().Len() != 0 {
		t.Fatalf("an agent off the ring still caches %d nodes", c.Cache().Len())
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// blocker holds every telemetry read until released, and counts them.
type blocker struct {
	mu      sync.Mutex
	reads   int
	entered chan struct{}
	release chan struct{}
}

func (b *blocker) middleware(ctx context.Context, c drivers.Call, next func(context.Context) error) error {
	if c.Method.Name == drivers.MethodTelemetry.Name {
		b.mu.Lock()
		b.reads++
		b.mu.Unlock()
		b.entered <- struct{}{}
		<-b.release
	}
	return next(ctx)
}

// Refreshes of one node asked for while a read runs share a single read
// after it.
func TestRefreshCoalesces(t *testing.T) {
	b := &blocker{entered: make(chan struct{}, 10), release: make(chan struct{})}
	e := newEnv(t, b.middleware)
	id := e.node(t, fake.Name, nil).UUID
	c := e.collector(t, telemetry.Config{}, nil)
	ctx := context.Background()
	errs := make(chan error, 6)
	go func() { errs <- c.Refresh(ctx, id) }()
	<-b.entered // the first read is at the BMC
	for range 5 {
		go func() { errs <- c.Refresh(ctx, id) }()
	}
	for telemetry.Waiters(c, id) != 5 {
		time.Sleep(time.Millisecond)
	}
	close(b.release)
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if b.reads != 2 {
		t.Fatalf("6 refreshes made %d reads, want 2 (the one running and one for the 5 that came during it)", b.reads)
	}
	if en, ok := c.Cache().Get(id); !ok || !en.Up {
		t.Fatalf("after refresh: %+v", en)
	}
}

// The k-th of n reads of a cycle spread over S starts no earlier than
// S*k/n after the cycle's start (a lower bound: timers never fire early).
func TestCycleSpreads(t *testing.T) {
	var mu sync.Mutex
	var starts []time.Time
	e := newEnv(t, func(ctx context.Context, c drivers.Call, next func(context.Context) error) error {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		return next(ctx)
	})
	for range 5 {
		e.node(t, fake.Name, nil)
	}
	c := e.collector(t, telemetry.Config{}, nil)
	spread := 250 * time.Millisecond
	r, err := c.Cycle(context.Background(), spread)
	if err != nil || r.Read != 5 {
		t.Fatalf("cycle: %+v %v", r, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, s := range sortedTimes(starts) {
		if min := r.Started.Add(spread * time.Duration(k) / 5); s.Before(min) {
			t.Errorf("read %d started %v after the cycle, before its slot at %v", k, s.Sub(r.Started), min.Sub(r.Started))
		}
	}
}

func sortedTimes(ts []time.Time) []time.Time {
	out := append([]time.Time(nil), ts...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Before(out[i]) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// A Critical health rollup puts the node into maintenance with fault
// "health failure", once; OK takes it out. A node an operator put into
// maintenance is left alone.
func TestHealthFault(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n := e.node(t, fake.Name, nil)
	op := e.node(t, fake.Name, nil)
	op.Maintenance, op.MaintenanceReason = true, "operator"
	if err := e.db.UpdateNode(ctx, op); err != nil {
		t.Fatal(err)
	}
	c := e.collector(t, telemetry.Config{HealthFault: true}, nil)
	load := func(id string) *store.Node {
		got, err := e.db.Node(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	cycle(t, c)
	if got := load(n.UUID); got.Maintenance || got.Fault != "" {
		t.Fatalf("healthy node: maintenance %v fault %q", got.Maintenance, got.Fault)
	}
	e.fake.SetHealth(n.UUID, drivers.HealthCritical)
	e.fake.SetHealth(op.UUID, drivers.HealthCritical)
	cycle(t, c)
	got := load(n.UUID)
	if !got.Maintenance || got.Fault != telemetry.FaultHealthFailure || got.MaintenanceReason == "" {
		t.Fatalf("critical node: maintenance %v fault %q reason %q", got.Maintenance, got.Fault, got.MaintenanceReason)
	}
	if o := load(op.UUID); o.Fault != "" || o.MaintenanceReason != "operator" {
		t.Fatalf("the operator's maintenance was changed: fault %q reason %q", o.Fault, o.MaintenanceReason)
	}

	// The operator turns maintenance off while the BMC still says Critical:
	// the collector does not put it back within this episode.
	got.Maintenance, got.Fault, got.MaintenanceReason = false, "", ""
	if err := e.db.UpdateNode(ctx, got); err != nil {
		t.Fatal(err)
	}
	cycle(t, c)
	if g := load(n.UUID); g.Maintenance {
		t.Fatal("the collector overruled the operator within one Critical episode")
	}
	// A new episode: Warning (no fault), then Critical again.
	e.fake.SetHealth(n.UUID, drivers.HealthWarning)
	cycle(t, c)
	if g := load(n.UUID); g.Maintenance || g.Fault != "" {
		t.Fatalf("a Warning set maintenance %v fault %q", g.Maintenance, g.Fault)
	}
	e.fake.SetHealth(n.UUID, drivers.HealthCritical)
	cycle(t, c)
	if g := load(n.UUID); g.Fault != telemetry.FaultHealthFailure {
		t.Fatalf("a new Critical episode: fault %q", g.Fault)
	}
	e.fake.SetHealth(n.UUID, drivers.HealthOK)
	e.fake.SetHealth(op.UUID, drivers.HealthOK)
	cycle(t, c)
	if g := load(n.UUID); g.Maintenance || g.Fault != "" || g.MaintenanceReason != "" {
		t.Fatalf("health OK again: maintenance %v fault %q reason %q", g.Maintenance, g.Fault, g.MaintenanceReason)
	}
	if o := load(op.UUID); !o.Maintenance || o.MaintenanceReason != "operator" {
		t.Fatal("health OK cleared the operator's maintenance")
	}
}

// A node deleted between the listing and its read is skipped and dropped.
func TestRefreshDeleted(t *testing.T) {
	e := newEnv(t)
	n := e.node(t, fake.Name, nil)
	c := e.collector(t, telemetry.Config{}, nil)
	cycle(t, c)
	if err := e.db.DeleteNode(context.Background(), n.UUID); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(context.Background(), n.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refresh of a deleted node: %v", err)
	}
	if _, ok := c.Cache().Get(n.UUID); ok {
		t.Fatal("a deleted node stayed in the cache")
	}
}
