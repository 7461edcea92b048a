package powersync_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/bmc-agent/bmc-agent/internal/childproc"
	"github.com/bmc-agent/bmc-agent/internal/testutil"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/cluster"
	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/internal/simfleet"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/powersync"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	childproc.Serve(simfleet.Name, simfleet.Serve)
	os.Exit(pgtest.Main(m))
}

// ignorePG spares the waiter of the PostgreSQL server the package's tests
// share; TestMain stops it and checks for leaks once more.
var ignorePG = goleak.IgnoreAnyFunction("github.com/bmc-agent/bmc-agent/internal/pgtest.(*Cluster).Resume.func1")

type env struct {
	db   *sqlstore.DB
	tm   *taskmanager.Manager
	fake *fake.Driver
	reg  *drivers.Registry
	logs *testutil.Buffer
	log  *slog.Logger
	seq  int
}

func newEnv(t *testing.T, mw ...drivers.Middleware) *env {
	t.Helper()
	return newEnvWith(t, nil, mw...)
}

// newEnvDrivers is newEnv with more drivers next to the fake one.
func newEnvDrivers(t *testing.T, ds ...drivers.Driver) *env {
	t.Helper()
	return newEnvWith(t, ds)
}

func newEnvWith(t *testing.T, ds []drivers.Driver, mw ...drivers.Middleware) *env {
	t.Helper()
	// Registered first, so it runs last: after the database is closed.
	t.Cleanup(func() { goleak.VerifyNone(t, ignorePG) })
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "agent.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := fake.New()
	reg, err := drivers.NewRegistry(append([]drivers.Driver{f}, ds...)...)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tm, err := taskmanager.New(taskmanager.Config{
		AgentID: "agent-a", Store: db, Drivers: reg, Logger: log, Middleware: mw,
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
		if err := reg.Close(ctx); err != nil {
			t.Errorf("close drivers: %v", err)
		}
		db.Close()
	})
	return &env{db: db, tm: tm, fake: f, reg: reg, logs: logs, log: log}
}

// nodes creates n fake nodes in the available state with the given recorded
// power state.
func (e *env) nodes(t *testing.T, n int, power drivers.PowerState) []string {
	t.Helper()
	var ids []string
	for range n {
		e.seq++
		node := &store.Node{
			Name: fmt.Sprintf("node-%d", e.seq), Driver: fake.Name, DriverInfo: store.JSON{},
			ProvisionState: taskmanager.StateAvailable, PowerState: string(power),
		}
		if err := e.db.CreateNode(context.Background(), node); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, node.UUID)
	}
	return ids
}

func (e *env) loop(t *testing.T, cfg powersync.Config, owners powersync.Ownership) *powersync.Loop {
	t.Helper()
	if cfg.AgentID == "" {
		cfg.AgentID = "agent-a"
	}
	if cfg.Logger == nil {
		cfg.Logger = e.log
	}
	l, err := powersync.New(cfg, e.tm, e.db, owners)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (e *env) node(t *testing.T, id string) *store.Node {
	t.Helper()
	n, err := e.db.Node(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func cycle(t *testing.T, l *powersync.Loop) powersync.Result {
	t.Helper()
	r, err := l.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRecordsChanges(t *testing.T) {
	e := newEnv(t)
	ids := e.nodes(t, 6, drivers.PowerOff)
	fresh := e.nodes(t, 2, drivers.NoPowerState)
	e.fake.SetPower(ids[0], drivers.PowerOn)
	e.fake.SetPower(ids[1], drivers.PowerOn)
	e.fake.SetPower(fresh[0], drivers.PowerOn)
	l := e.loop(t, powersync.Config{Workers: 3}, nil)

	r := cycle(t, l)
	if r.Owned != 8 || r.Changed != 4 || r.InSync != 4 || r.Failed+r.Skipped+r.Forced != 0 {
		t.Fatalf("first cycle: %+v", r)
	}
	for id, want := range map[string]drivers.PowerState{
		ids[0]: drivers.PowerOn, ids[1]: drivers.PowerOn, ids[2]: drivers.PowerOff,
		fresh[0]: drivers.PowerOn, fresh[1]: drivers.PowerOff,
	} {
		if got := e.node(t, id).PowerState; got != string(want) {
			t.Errorf("node %s recorded %q, want %q", id, got, want)
		}
		if n := e.node(t, id); n.Reservation != "" {
			t.Errorf("node %s still locked by %s", id, n.Reservation)
		}
	}
	// Every recorded change is in the log with node, agent, old and new state;
	// an out-of-band change says so.
	logs := e.logs.String()
	for _, id := range ids[:2] {
		if !hasLine(logs, "power state changed out of band", "node="+id, "agent=agent-a", `from="power off"`, `to="power on"`) {
			t.Errorf("no out-of-band log line for %s:\n%s", id, logs)
		}
	}
	if !hasLine(logs, "power state recorded", "node="+fresh[0], "agent=agent-a", `from=""`, `to="power on"`) {
		t.Errorf("no log line for the first reading of %s:\n%s", fresh[0], logs)
	}

	r = cycle(t, l)
	if r.InSync != 8 || r.Changed != 0 {
		t.Fatalf("second cycle: %+v", r)
	}
}

// hasLine reports whether one line of logs contains every part.
func hasLine(logs string, parts ...string) bool {
	for line := range strings.SplitSeq(logs, "\n") {
		ok := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// A change is recorded only if a reading taken under the exclusive lock
// confirms it: the first, shared reading may predate a power action of
// another agent that ended (and recorded its result) before the lock was
// taken. Recording the stale reading would undo that action's record.
func TestStaleReadingNotRecorded(t *testing.T) {
	var f *fake.Driver
	reads := 0
	e := newEnv(t, func(ctx context.Context, c drivers.Call, next func(context.Context) error) error {
		err := next(ctx)
		if c.Method.Name == drivers.MethodPowerState.Name {
			if reads++; reads == 1 {
				f.SetPower(c.Node.UUID, drivers.PowerOff) // the other agent's power-off ends
			}
		}
		return err
	})
	f = e.fake
	ids := e.nodes(t, 1, drivers.PowerOff)
	e.fake.SetPower(ids[0], drivers.PowerOn) // what the first reading sees
	r := cycle(t, e.loop(t, powersync.Config{Workers: 1}, nil))
	if r.InSync != 1 || r.Changed != 0 || reads != 2 {
		t.Fatalf("cycle: %+v after %d reads", r, reads)
	}
	if got := e.node(t, ids[0]).PowerState; got != string(drivers.PowerOff) {
		t.Fatalf("recorded %q", got)
	}
}

// Locked nodes, nodes in maintenance (for another reason than a power
// failure) and nodes in excluded provision states are not read at all.
func TestSkips(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ids := e.nodes(t, 5, drivers.PowerOff)
	if _, err := e.db.Reserve(ctx, ids[0], lock.Reservation{Holder: "someone", Purpose: "deploy"}); err != nil {
		t.Fatal(err)
	}
	n := e.node(t, ids[1])
	n.Maintenance, n.MaintenanceReason = true, "by hand"
	if err := e.db.UpdateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	n = e.node(t, ids[2])
	n.ProvisionState = taskmanager.StateEnroll
	if err := e.db.UpdateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		e.fake.SetPower(id, drivers.PowerOn)
	}
	r := cycle(t, e.loop(t, powersync.Config{}, nil))
	if r.Owned != 2 || r.Changed != 2 {
		t.Fatalf("cycle: %+v", r)
	}
	for _, id := range ids[:3] {
		if c := e.fake.Calls(id); c != 0 {
			t.Errorf("node %s was read %d times", id, c)
		}
		if got := e.node(t, id).PowerState; got != string(drivers.PowerOff) {
			t.Errorf("node %s recorded %q", id, got)
		}
	}
}

// A node locked after the listing is still skipped: the shared task sees the
// reservation. The lock-holder is never disturbed.
func TestSkipsNodeLockedAfterListing(t *testing.T) {
	e := newEnv(t)
	ids := e.nodes(t, 1, drivers.PowerOff)
	e.fake.SetPower(ids[0], drivers.PowerOn)
	nodes := lockingNodes{inner: e.db, lock: func(ctx context.Context) error {
		_, err := e.db.Reserve(ctx, ids[0], lock.Reservation{Holder: "agent-b", Purpose: "power on"})
		return err
	}}
	l, err := powersync.New(powersync.Config{AgentID: "agent-a"}, e.tm, nodes, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := cycle(t, l)
	if r.Owned != 1 || r.Skipped != 1 || e.fake.Calls(ids[0]) != 0 {
		t.Fatalf("cycle: %+v, calls %d", r, e.fake.Calls(ids[0]))
	}
	if n := e.node(t, ids[0]); n.Reservation != "agent-b" || n.PowerState != string(drivers.PowerOff) {
		t.Fatalf("node: reservation %q power %q", n.Reservation, n.PowerState)
	}
}

// lockingNodes locks a node right after listing it.
type lockingNodes struct {
	inner powersync.Nodes
	lock  func(context.Context) error
}

func (n lockingNodes) Nodes(ctx context.Context, f store.NodeFilter) ([]*store.Node, error) {
	out, err := n.inner.Nodes(ctx, f)
	if err == nil && f.Maintenance != nil && !*f.Maintenance {
		err = n.lock(ctx)
	}
	return out, err
}

// The acceptance test of the maintenance rule: a BMC that stops answering
// puts its node into maintenance with fault "power failure" after
// MaxFailures cycles, and the node leaves maintenance when the BMC answers.
func TestMaintenanceAfterFailuresAndRecovery(t *testing.T) {
	e := newEnv(t)
	ids := e.nodes(t, 3, drivers.PowerOff)
	bad := ids[0]
	e.fake.Inject(bad, fake.Fault{Err: fmt.Errorf("connection refused: %w", drivers.ErrBMCUnreachable)})
	l := e.loop(t, powersync.Config{MaxFailures: 3}, nil)

	for i := 1; i <= 2; i++ {
		r := cycle(t, l)
		if r.Failed != 1 || r.Errors["unreachable"] != 1 || r.Maintenance != 0 || r.InSync != 2 {
			t.Fatalf("cycle %d: %+v", i, r)
		}
		if n := e.node(t, bad); n.Maintenance {
			t.Fatalf("in maintenance after %d failures", i)
		}
		if got := l.Failures(bad); got != i {
			t.Fatalf("failures after cycle %d = %d", i, got)
		}
	}
	r := cycle(t, l)
	if r.Maintenance != 1 || r.Failed != 0 || r.Errors["unreachable"] != 1 {
		t.Fatalf("third cycle: %+v", r)
	}
	n := e.node(t, bad)
	if !n.Maintenance || n.Fault != powersync.FaultPowerFailure || n.PowerState != "" ||
		!strings.Contains(n.MaintenanceReason, "3 consecutive cycles") || !strings.Contains(n.MaintenanceReason, "unreachable") ||
		n.LastError != n.MaintenanceReason || n.Reservation != "" {
		t.Fatalf("after 3 failures: %+v", n)
	}
	if !hasLine(e.logs.String(), "node put into maintenance", "node="+bad, "agent=agent-a", `fault="power failure"`) {
		t.Errorf("no maintenance log line:\n%s", e.logs.String())
	}

	// Still dead: stays in maintenance, is still tried.
	r = cycle(t, l)
	if r.Owned != 3 || r.Failed != 1 || r.Recovered != 0 || !e.node(t, bad).Maintenance {
		t.Fatalf("cycle while dead: %+v", r)
	}

	// Back: recovered, state recorded, fault cleared.
	e.fake.Inject(bad, fake.Fault{})
	e.fake.SetPower(bad, drivers.PowerOn)
	r = cycle(t, l)
	if r.Recovered != 1 || r.Failed != 0 {
		t.Fatalf("recovery cycle: %+v", r)
	}
	n = e.node(t, bad)
	if n.Maintenance || n.Fault != "" || n.MaintenanceReason != "" || n.PowerState != string(drivers.PowerOn) || n.Reservation != "" {
		t.Fatalf("after recovery: %+v", n)
	}
	if !hasLine(e.logs.String(), "recovered from a power failure", "node="+bad, `from=""`, `to="power on"`) {
		t.Errorf("no recovery log line:\n%s", e.logs.String())
	}
	if l.Failures(bad) != 0 {
		t.Fatalf("failures after recovery = %d", l.Failures(bad))
	}
	// A BMC that answers, but with the state "error", fails as well.
	e.fake.SetPower(ids[1], drivers.PowerError)
	r = cycle(t, l)
	if r.Failed != 1 || r.Errors["failed"] != 1 || l.Failures(ids[1]) != 1 {
		t.Fatalf("BMC reporting error: %+v", r)
	}
	if got := e.node(t, ids[1]).PowerState; got != string(drivers.PowerOff) {
		t.Fatalf("an error reading was recorded: %q", got)
	}
}

// Maintenance set by an operator is not the loop's to clear, even when the
// BMC answers.
func TestMaintenanceByHandIsLeftAlone(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ids := e.nodes(t, 1, drivers.PowerOff)
	n := e.node(t, ids[0])
	n.Maintenance, n.MaintenanceReason, n.Fault = true, "replacing a DIMM", "clean failure"
	if err := e.db.UpdateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	r := cycle(t, e.loop(t, powersync.Config{}, nil))
	if r.Owned != 0 || e.fake.Calls(ids[0]) != 0 || !e.node(t, ids[0]).Maintenance {
		t.Fatalf("cycle: %+v", r)
	}
}

// With ForcePowerState the recorded state is restored on the BMC under the
// exclusive lock; a node that keeps flipping goes into maintenance.
func TestForcePowerState(t *testing.T) {
	e := newEnv(t)
	ids := e.nodes(t, 2, drivers.PowerOn)
	l := e.loop(t, powersync.Config{ForcePowerState: true, MaxFailures: 3}, nil)
	e.fake.SetPower(ids[0], drivers.PowerOn)
	e.fake.SetPower(ids[1], drivers.PowerOff) // out of band

	r := cycle(t, l)
	if r.Forced != 1 || r.InSync != 1 {
		t.Fatalf("cycle: %+v", r)
	}
	if p, _, _ := e.fake.State(ids[1]); p != drivers.PowerOn {
		t.Fatalf("BMC power after force = %q", p)
	}
	if n := e.node(t, ids[1]); n.PowerState != string(drivers.PowerOn) || n.Reservation != "" {
		t.Fatalf("node after force: power %q reservation %q", n.PowerState, n.Reservation)
	}
	if !hasLine(e.logs.String(), "restoring the recorded state", "node="+ids[1], `bmc_state="power off"`, `recorded="power on"`) {
		t.Errorf("no force log line:\n%s", e.logs.String())
	}
	// In sync again: the count starts over.
	if r := cycle(t, l); r.InSync != 2 || l.Failures(ids[1]) != 0 {
		t.Fatalf("cycle after force: %+v, failures %d", r, l.Failures(ids[1]))
	}
	// Flips back every cycle: after MaxFailures out-of-step cycles, maintenance.
	for i := 1; i <= 3; i++ {
		e.fake.SetPower(ids[1], drivers.PowerOff)
		r = cycle(t, l)
		if i < 3 && r.Forced != 1 {
			t.Fatalf("flip %d: %+v", i, r)
		}
	}
	if r.Maintenance != 1 {
		t.Fatalf("third flip: %+v", r)
	}
	n := e.node(t, ids[1])
	if !n.Maintenance || n.Fault != powersync.FaultPowerFailure || n.PowerState != string(drivers.PowerOff) {
		t.Fatalf("after flapping: %+v", n)
	}
}

// One slow BMC holds up one worker for its own call timeout, nothing more:
// the cycle ends, the slow node counts as a timeout and every other node is
// synced, even with a single worker.
func TestSlowBMCBoundedByCallTimeout(t *testing.T) {
	e := newEnv(t)
	ids := e.nodes(t, 20, drivers.PowerOff)
	e.fake.Inject(ids[3], fake.Fault{Delay: time.Hour})
	for _, id := range ids[10:] {
		e.fake.SetPower(id, drivers.PowerOn)
	}
	for _, workers := range []int{1, 4} {
		l := e.loop(t, powersync.Config{Workers: workers, CallTimeout: 50 * time.Millisecond}, nil)
		r := cycle(t, l)
		if r.Failed != 1 || r.Errors["timeout"] != 1 || r.InSync+r.Changed != 19 {
			t.Fatalf("%d workers: %+v", workers, r)
		}
		if r.Took >= time.Hour {
			t.Fatalf("the cycle waited for the slow BMC: %v", r.Took)
		}
	}
}

// staticRing is an Ownership with fixed members.
type staticRing []string

func (s staticRing) Ring(context.Context) (*cluster.Ring, error) { return cluster.NewRing(s, 0), nil }

// Two agents on one ring read disjoint sets of nodes that cover all of them;
// an agent not on the ring reads none.
func TestOwnershipSplitsNodes(t *testing.T) {
	e := newEnv(t)
	ids := e.nodes(t, 60, drivers.PowerOff)
	ring := staticRing{"agent-a", "agent-b"}
	a := e.loop(t, powersync.Config{AgentID: "agent-a"}, ring)
	b := e.loop(t, powersync.Config{AgentID: "agent-b"}, ring)
	ra, rb := cycle(t, a), cycle(t, b)
	if ra.Owned == 0 || rb.Owned == 0 || ra.Owned+rb.Owned != 60 || ra.Agents != 2 {
		t.Fatalf("a %+v, b %+v", ra, rb)
	}
	for _, id := range ids {
		if c := e.fake.Calls(id); c != 1 {
			t.Fatalf("node %s read %d times by the two agents", id, c)
		}
	}
	c := e.loop(t, powersync.Config{AgentID: "agent-c"}, ring)
	if r := cycle(t, c); r.Owned != 0 || r.Agents != 2 {
		t.Fatalf("agent off the ring: %+v", r)
	}
}

// A fleet larger than a page of the listing is synced whole, each node once.
func TestListsEveryPage(t *testing.T) {
	defer powersync.SetListPage(7)()
	e := newEnv(t)
	ids := e.nodes(t, 7*4+3, drivers.PowerOff)
	r := cycle(t, e.loop(t, powersync.Config{Workers: 16}, nil))
	if r.Owned != len(ids) || r.InSync != len(ids) {
		t.Fatalf("cycle: %+v", r)
	}
	for _, id := range ids {
		if c := e.fake.Calls(id); c != 1 {
			t.Fatalf("node %s read %d times", id, c)
		}
	}
}

// observer records cycle results.
type observer struct {
	mu      sync.Mutex
	results []powersync.Result
	ch      chan struct{}
}

func (o *observer) CycleDone(r powersync.Result, err error) {
	if err != nil {
		return // cancelled at the end of the test
	}
	o.mu.Lock()
	o.results = append(o.results, r)
	o.mu.Unlock()
	select {
	case o.ch <- struct{}{}:
	default:
	}
}

// Run runs cycles one after the other, never two at once, and returns when
// its context ends; a cycle that overruns is reported as such and the next
// starts without waiting.
func TestRunNoOverlap(t *testing.T) {
	e := newEnv(t)
	ids := e.nodes(t, 4, drivers.PowerOff)
	for _, id := range ids {
		e.fake.Inject(id, fake.Fault{Delay: 20 * time.Millisecond})
	}
	obs := &observer{ch: make(chan struct{}, 1)}
	l := e.loop(t, powersync.Config{Interval: time.Millisecond, Workers: 1, Observer: obs}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	for {
		<-obs.ch
		obs.mu.Lock()
		n := len(obs.results)
		obs.mu.Unlock()
		if n >= 3 {
			break
		}
	}
	// While Run is between or inside cycles, another Cycle is refused or
	// runs alone; never two at once.
	cancel()
	<-done
	obs.mu.Lock()
	defer obs.mu.Unlock()
	for i, r := range obs.results {
		if !r.Overran {
			t.Errorf("cycle %d of 4 x 20ms with one worker and a 1ms interval did not overrun: %+v", i, r)
		}
		if i > 0 {
			prev := obs.results[i-1]
			if r.Started.Before(prev.Started.Add(prev.Took)) {
				t.Errorf("cycle %d started at %v, before cycle %d ended at %v", i, r.Started, i-1, prev.Started.Add(prev.Took))
			}
		}
	}
}

func TestCycleRefusesConcurrentCycle(t *testing.T) {
	e := newEnv(t)
	ids := e.nodes(t, 1, drivers.PowerOff)
	e.fake.Inject(ids[0], fake.Fault{Delay: time.Hour})
	l := e.loop(t, powersync.Config{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := l.Cycle(ctx); done <- err }()
	// Wait until the first cycle is in the BMC call.
	for e.fake.Calls(ids[0]) == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := l.Cycle(context.Background()); err == nil {
		t.Fatal("a second cycle ran while the first was running")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled cycle: %v", err)
	}
	// Cancellation is not the BMC's failure.
	if l.Failures(ids[0]) != 0 {
		t.Fatalf("a cancelled read counted as a failure")
	}
}

// A read an event asks for (Refresh) that fails does not count toward
// MaxFailures: however many events a silent BMC sends, the node goes into
// maintenance after MaxFailures failed cycles, as without events. A good
// Refresh records the state like a cycle.
func TestRefreshFailuresDoNotCount(t *testing.T) {
	e := newEnv(t)
	ids := e.nodes(t, 2, drivers.PowerOff)
	bad := ids[0]
	e.fake.Inject(bad, fake.Fault{Err: fmt.Errorf("connection refused: %w", drivers.ErrBMCUnreachable)})
	l := e.loop(t, powersync.Config{MaxFailures: 2}, nil)
	for range 5 {
		if err := l.Refresh(context.Background(), bad); !errors.Is(err, powersync.ErrRefreshFailed) {
			t.Fatalf("refresh of a silent BMC: %v", err)
		}
	}
	if n := e.node(t, bad); n.Maintenance || l.Failures(bad) != 0 {
		t.Fatalf("after 5 failed refreshes: maintenance %v, failures %d", n.Maintenance, l.Failures(bad))
	}
	if r := cycle(t, l); r.Failed != 1 || r.Maintenance != 0 || l.Failures(bad) != 1 {
		t.Fatalf("first cycle: %+v, failures %d", r, l.Failures(bad))
	}
	if err := l.Refresh(context.Background(), bad); !errors.Is(err, powersync.ErrRefreshFailed) || l.Failures(bad) != 1 {
		t.Fatalf("refresh between cycles: %v, failures %d", err, l.Failures(bad))
	}
	if r := cycle(t, l); r.Maintenance != 1 || e.node(t, bad).Fault != powersync.FaultPowerFailure {
		t.Fatalf("second cycle: %+v", r)
	}

	e.fake.SetPower(ids[1], drivers.PowerOn)
	if err := l.Refresh(context.Background(), ids[1]); err != nil {
		t.Fatal(err)
	}
	if got := e.node(t, ids[1]).PowerState; got != string(drivers.PowerOn) {
		t.Fatalf("refresh recorded %q", got)
	}
}
