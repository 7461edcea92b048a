package powersync_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/api"
	"github.com/bmc-agent/bmc-agent/cluster"
	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/powersync"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
	"go.uber.org/goleak"
)

// Short timings so that the fleet test runs in seconds.
const (
	fleetHeartbeat        = 100 * time.Millisecond
	fleetHeartbeatTimeout = 2 * time.Second
	fleetSyncInterval     = 200 * time.Millisecond
)

// readEvent is one power state read of a node by an agent's sync.
type readEvent struct {
	node string
	at   time.Time
}

// cycleRecord is one finished cycle of an agent with the nodes it read.
type cycleRecord struct {
	r     powersync.Result
	reads map[string]int
}

// recorder counts, per agent, the power state reads that reach the driver
// (a drivers.Middleware, so it sees BMC calls, not the loop's own account)
// and cuts them into cycles (a powersync.Observer: a cycle's reads all end
// before its CycleDone).
type recorder struct {
	mu     sync.Mutex
	cur    map[string]int
	events []readEvent
	cycles []cycleRecord
}

func (rc *recorder) middleware(ctx context.Context, c drivers.Call, next func(context.Context) error) error {
	err := next(ctx)
	if c.Method.Name == drivers.MethodPowerState.Name {
		rc.mu.Lock()
		if rc.cur == nil {
			rc.cur = make(map[string]int)
		}
		rc.cur[c.Node.UUID]++
		rc.events = append(rc.events, readEvent{c.Node.UUID, time.Now()})
		rc.mu.Unlock()
	}
	return err
}

func (rc *recorder) CycleDone(r powersync.Result, err error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err == nil {
		rc.cycles = append(rc.cycles, cycleRecord{r: r, reads: rc.cur})
	}
	rc.cur = nil
}

// cyclesSince returns the agent's cycles started at or after t among n agents.
func (rc *recorder) cyclesSince(t time.Time, agents int) []cycleRecord {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []cycleRecord
	for _, c := range rc.cycles {
		if !c.r.Started.Before(t) && c.r.Agents == agents {
			out = append(out, c)
		}
	}
	return out
}

// fleetAgent is one in-process agent: its own database connections, driver,
// task manager, membership, sync loop and API server.
type fleetAgent struct {
	id     string
	db     *sqlstore.DB
	reg    *drivers.Registry
	tm     *taskmanager.Manager
	member *cluster.Member
	srv    *httptest.Server
	rec    *recorder
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func startFleetAgent(t *testing.T, id, dsn string) *fleetAgent {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	a := &fleetAgent{id: id, db: db, rec: &recorder{}}
	a.reg, err = drivers.NewRegistry(redfish.New(redfish.Options{MaxRequestsPerBMC: 64, PollInterval: 10 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	a.tm, err = taskmanager.New(taskmanager.Config{
		AgentID: id, Store: db, Drivers: a.reg, Workers: 64, Logger: log,
		Locker:     lock.NewLocker(db, lock.Policy{Attempts: 2, Interval: 20 * time.Millisecond}, nil),
		Middleware: []drivers.Middleware{a.rec.middleware, drivers.Timeout(30 * time.Second)},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.member, err = cluster.New(cluster.Config{
		Agent: store.Agent{ID: id, Hostname: id}, Interval: fleetHeartbeat, Timeout: fleetHeartbeatTimeout, Logger: log,
	}, db, a.tm)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.member.Join(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Config{Store: db, Tasks: a.tm, Drivers: a.reg, HeartbeatTimeout: fleetHeartbeatTimeout, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	a.srv = httptest.NewServer(h)
	return a
}

// run starts the agent's heartbeat and sync loop.
func (a *fleetAgent) run(t *testing.T) {
	t.Helper()
	loop, err := powersync.New(powersync.Config{
		AgentID: a.id, Interval: fleetSyncInterval, Workers: 32, CallTimeout: 5 * time.Second, Observer: a.rec,
	}, a.tm, a.db, a.member)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.done.Add(2)
	go func() { defer a.done.Done(); a.member.Run(ctx) }()
	go func() { defer a.done.Done(); loop.Run(ctx) }()
}

// kill stops the agent the way a crash would as far as the others can
// tell: no more heartbeats, no Leave. Its goroutines and connections are
// still ended, so the test leaks nothing.
func (a *fleetAgent) kill() {
	if a.cancel != nil {
		a.cancel()
	}
	a.done.Wait()
	a.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.tm.Shutdown(ctx)
	a.reg.Close(ctx)
	a.db.Close()
}

// The acceptance test of ownership across agents, on one PostgreSQL
// database: three agents and 300 simulated Redfish nodes.
//
//  1. Every node is synced by exactly one agent per cycle (counted at the
//     driver).
//  2. Concurrent API power requests for the same nodes sent to all three
//     agents never overlap on a node (the simulator's witness).
//  3. After one agent stops without cleanup, the others sync its nodes
//     within two heartbeat timeouts, again each node by exactly one agent.
func TestFleetThreeAgents(t *testing.T) {
	defer goleak.VerifyNone(t, ignorePG)
	ctx := context.Background()
	sim, err := simulator.New(simulator.Config{Systems: 300, Fault: simulator.Fault{Latency: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dsn := pgtest.DSN(t)

	names := []string{"agent-a", "agent-b", "agent-c"}
	agents := make([]*fleetAgent, len(names))
	for i, id := range names {
		agents[i] = startFleetAgent(t, id, dsn)
	}
	killed := map[string]bool{}
	defer func() {
		for _, a := range agents {
			if !killed[a.id] {
				a.kill()
			}
		}
	}()

	var ids []string
	sysOf := map[string]string{}
	for _, sys := range sim.SystemIDs() {
		n := simNode(sim, sys)
		if err := agents[0].db.CreateNode(ctx, n); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.UUID)
		sysOf[n.UUID] = sys
	}
	start := time.Now()
	for _, a := range agents {
		a.run(t)
	}

	// 1. Three cycles of each agent that shared the nodes among all three.
	waitCycles(t, agents, start, 3)
	for k := range 3 {
		var sets []map[string]int
		for _, a := range agents {
			c := a.rec.cyclesSince(start, 3)[k]
			if c.r.Failed != 0 || c.r.Owned != len(c.reads) {
				t.Fatalf("%s cycle %d: %+v, %d nodes read", a.id, k, c.r, len(c.reads))
			}
			sets = append(sets, c.reads)
		}
		checkPartition(t, fmt.Sprintf("cycle %d of three agents", k), ids, names, sets, true)
	}

	// 2. Power requests for the same 30 nodes to all three agents at once,
	// four rounds; the sync keeps running meanwhile.
	targets := ids[:30]
	for round, target := range []drivers.PowerAction{drivers.ActionPowerOn, drivers.ActionPowerOff, drivers.ActionPowerOn, drivers.ActionPowerOff} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := map[string]int{}
		for _, id := range targets {
			for _, a := range agents {
				wg.Go(func() {
					code, body := putPower(t, a.srv.URL, id, target)
					mu.Lock()
					defer mu.Unlock()
					switch code {
					case http.StatusAccepted:
						accepted[id]++
					case http.StatusConflict:
					default:
						t.Errorf("round %d: PUT power of %s to %s: %d %s", round, id, a.id, code, body)
					}
				})
			}
		}
		wg.Wait()
		// A node the sync held for a moment (it locks a node whose state it
		// must check again) may have refused all three; ask again, one
		// agent at a time. What is tested is that no two actions overlap.
		for _, id := range targets {
			for try := 0; accepted[id] == 0; try++ {
				if try == 20 {
					t.Fatalf("round %d: no agent accepted %q for %s", round, target, id)
				}
				time.Sleep(20 * time.Millisecond)
				if code, _ := putPower(t, agents[try%len(agents)].srv.URL, id, target); code == http.StatusAccepted {
					accepted[id]++
				}
			}
		}
		waitFor(t, fmt.Sprintf("round %d of power actions to end", round), func() bool {
			for _, id := range targets {
				n, err := agents[0].db.Node(ctx, id)
				if err != nil || n.Reservation != "" || n.TargetPowerState != "" {
					return false
				}
			}
			return true
		})
		for _, id := range targets {
			n, _ := agents[0].db.Node(ctx, id)
			want := target.Target()
			if n.LastError != "" || n.PowerState != string(want) {
				t.Fatalf("round %d: node %s: power %q, last_error %q; want %q", round, id, n.PowerState, n.LastError, want)
			}
			if got := sim.System(sysOf[id]).PowerState(); string(got) != map[drivers.PowerState]string{drivers.PowerOn: "On", drivers.PowerOff: "Off"}[want] {
				t.Fatalf("round %d: system %s is %q", round, sysOf[id], got)
			}
		}
	}
	mutations := 0
	for _, id := range ids {
		n, err := sim.Overlaps(sysOf[id])
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("system %s: %d overlapping mutations", sysOf[id], n)
		}
		log, _ := sim.RequestLog(sysOf[id])
		mutations += len(log)
	}
	if mutations < 4*len(targets) {
		t.Fatalf("only %d mutations reached the BMCs", mutations)
	}

	// 3. agent-c stops without cleanup.
	ring3 := cluster.NewRing(names, 0)
	var orphans []string
	for _, id := range ids {
		if ring3.Owner(id) == "agent-c" {
			orphans = append(orphans, id)
		}
	}
	agents[2].kill()
	killed["agent-c"] = true
	stopped := time.Now()
	survivors := agents[:2]

	// The takeover, asserted on its cause rather than on how long it took:
	// agent-c's nodes are read by the survivors in cycles whose ring holds
	// only the two of them (agent-c's heartbeat went stale), and never in a
	// cycle that still counted agent-c (its ring gave them to agent-c).
	waitFor(t, "the survivors to sync agent-c's nodes among two agents", func() bool {
		read := map[string]bool{}
		for _, a := range survivors {
			for _, c := range a.rec.cyclesSince(stopped, 2) {
				for id := range c.reads {
					read[id] = true
				}
			}
		}
		for _, id := range orphans {
			if !read[id] {
				return false
			}
		}
		return true
	})
	for _, a := range survivors {
		for _, c := range a.rec.cyclesSince(stopped, 3) {
			for _, id := range orphans {
				if c.reads[id] > 0 {
					t.Errorf("%s read agent-c's node %s in a cycle among three agents", a.id, id)
				}
			}
		}
	}
	t.Logf("agent-c's %d nodes were synced by the others %v after it stopped (heartbeat timeout %v)", len(orphans), time.Since(stopped), fleetHeartbeatTimeout)
	// And then each node by exactly one of the two, per cycle.
	after := time.Now()
	waitCycles(t, survivors, after, 2)
	for k := range 2 {
		var sets []map[string]int
		for _, a := range survivors {
			sets = append(sets, a.rec.cyclesSince(after, 2)[k].reads)
		}
		checkPartition(t, fmt.Sprintf("cycle %d of two agents", k), ids, names[:2], sets, false)
	}
}

// waitCycles waits until each agent has finished, since t, as many cycles
// as there are agents, each among that many live agents.
func waitCycles(t *testing.T, agents []*fleetAgent, since time.Time, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d cycles of every agent among %d", n, len(agents)), func() bool {
		for _, a := range agents {
			if len(a.rec.cyclesSince(since, len(agents))) < n {
				return false
			}
		}
		return true
	})
}

// simNode is a Redfish node for one of the simulator's systems, off as the
// simulator's systems start.
func simNode(sim *simulator.Simulator, sys string) *store.Node {
	return &store.Node{
		Name: sys, Driver: redfish.Name, ProvisionState: taskmanager.StateActive, PowerState: string(drivers.PowerOff),
		DriverInfo: store.JSON{
			redfish.InfoAddress: sim.Endpoint(sys), redfish.InfoSystemID: sim.SystemPath(sys),
			redfish.InfoUsername: "admin", redfish.InfoPassword: "password",
		},
	}
}

// checkPartition checks that the agents' read sets of one cycle each cover
// every node exactly once, and that each agent read what the ring of the
// agents gives it. With once, every node was read exactly once (a cycle with
// nothing to write reads each node once).
func checkPartition(t *testing.T, what string, ids, names []string, sets []map[string]int, once bool) {
	t.Helper()
	ring := cluster.NewRing(names, 0)
	for _, id := range ids {
		var by []string
		for i, s := range sets {
			if n := s[id]; n > 0 {
				by = append(by, names[i])
				if once && n != 1 {
					t.Errorf("%s: %s read node %s %d times", what, names[i], id, n)
				}
			}
		}
		if len(by) != 1 {
			t.Fatalf("%s: node %s synced by %v, want exactly one agent", what, id, by)
		}
		if owner := ring.Owner(id); by[0] != owner {
			t.Fatalf("%s: node %s synced by %s, owned by %s", what, id, by[0], owner)
		}
	}
	total := 0
	for _, s := range sets {
		total += len(s)
	}
	if total != len(ids) {
		t.Fatalf("%s: %d nodes read in all, want %d", what, total, len(ids))
	}
}

func putPower(t *testing.T, base, node string, target drivers.PowerAction) (int, string) {
	req, err := http.NewRequest(http.MethodPut, base+"/v1/nodes/"+node+"/states/power",
		strings.NewReader(fmt.Sprintf(`{"target": %q}`, target)))
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond until it holds; it fails the test after a minute (a
// bound on a hang, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The maintenance rule against a real driver: a simulated Redfish BMC that
// becomes unreachable (connections reset) puts its node into maintenance after
// MaxFailures cycles, and the node leaves it once the BMC answers again.
func TestMaintenanceRedfishUnreachable(t *testing.T) {
	ctx := context.Background()
	e := newEnvDrivers(t, redfish.New(redfish.Options{MaxRetries: -1}))
	sim, err := simulator.New(simulator.Config{Systems: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.reg.Close(ctx) // log out while the simulator still answers
		sim.Close()
	})
	var ids []string
	for _, sys := range sim.SystemIDs() {
		n := simNode(sim, sys)
		if err := e.db.CreateNode(ctx, n); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.UUID)
	}
	bad, badSys := ids[1], sim.SystemIDs()[1]
	l := e.loop(t, powersync.Config{MaxFailures: 2, CallTimeout: 5 * time.Second}, nil)
	if r := cycle(t, l); r.InSync != 3 {
		t.Fatalf("healthy cycle: %+v", r)
	}
	if err := sim.SetFault(badSys, simulator.Fault{Unreachable: true}); err != nil {
		t.Fatal(err)
	}
	if r := cycle(t, l); r.Failed != 1 || r.Errors["unreachable"] != 1 || r.InSync != 2 {
		t.Fatalf("first failure: %+v", r)
	}
	if r := cycle(t, l); r.Maintenance != 1 {
		t.Fatalf("second failure: %+v", r)
	}
	n := e.node(t, bad)
	if !n.Maintenance || n.Fault != powersync.FaultPowerFailure || !strings.Contains(n.MaintenanceReason, "unreachable") {
		t.Fatalf("after two failures: maintenance %v fault %q reason %q", n.Maintenance, n.Fault, n.MaintenanceReason)
	}
	if strings.Contains(n.MaintenanceReason, "password") {
		t.Fatalf("the reason names the password: %q", n.MaintenanceReason)
	}
	if err := sim.SetFault(badSys, simulator.Fault{}); err != nil {
		t.Fatal(err)
	}
	sim.System(badSys).Reset(simulator.ResetOn)
	if r := cycle(t, l); r.Recovered != 1 {
		t.Fatalf("recovery: %+v", r)
	}
	n = e.node(t, bad)
	if n.Maintenance || n.Fault != "" || n.PowerState != string(drivers.PowerOn) {
		t.Fatalf("after recovery: maintenance %v fault %q power %q", n.Maintenance, n.Fault, n.PowerState)
	}
}
