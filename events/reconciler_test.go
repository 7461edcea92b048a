package events

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// owned is a settable Owned.
type owned struct {
	mu  sync.Mutex
	ids []string
}

func (o *owned) Owned(context.Context) ([]string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.ids), nil
}

func (o *owned) set(ids ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ids = ids
}

type recEnv struct {
	sim   *simulator.Simulator
	db    *sqlstore.DB
	tm    *taskmanager.Manager
	reg   *drivers.Registry
	nodes []string
}

// newRecEnv is a task manager over an embedded database and the Redfish
// driver, with one node per simulator system.
func newRecEnv(t *testing.T, systems int) *recEnv {
	t.Helper()
	return newRecEnvWith(t, systems, recOptions{})
}

// recOptions changes what newRecEnvWith builds.
type recOptions struct {
	// log receives the task manager's and the driver's logs.
	log *slog.Logger
	// front, when set, puts a handler in front of the simulator: the nodes'
	// BMC address is its server's.
	front func(sim http.Handler) http.Handler
}

// newRecEnvWith is newRecEnv with options.
func newRecEnvWith(t *testing.T, systems int, o recOptions) *recEnv {
	t.Helper()
	ctx := context.Background()
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	sim, err := simulator.New(simulator.Config{Systems: systems})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "agent.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := drivers.NewRegistry(redfish.New(redfish.Options{Logger: o.log}))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := taskmanager.New(taskmanager.Config{AgentID: "agent-a", Store: db, Drivers: reg, Logger: o.log,
		Locker: lock.NewLocker(db, lock.Policy{Attempts: 1, Interval: time.Millisecond}, nil)})
	if err != nil {
		t.Fatal(err)
	}
	e := &recEnv{sim: sim, db: db, tm: tm, reg: reg}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tm.Shutdown(ctx)
		_ = reg.Close(ctx)
		db.Close()
		sim.Close()
	})
	addr := sim.URL()
	if o.front != nil {
		target, _ := url.Parse(sim.URL())
		srv := httptest.NewServer(o.front(httputil.NewSingleHostReverseProxy(target)))
		t.Cleanup(srv.Close)
		addr = srv.URL
	}
	for _, id := range sim.SystemIDs() {
		n := &store.Node{Name: id, Driver: redfish.Name, ProvisionState: taskmanager.StateAvailable, DriverInfo: store.JSON{
			redfish.InfoAddress: addr, redfish.InfoSystemID: sim.SystemPath(id), redfish.InfoUsername: "admin", redfish.InfoPassword: "password"}}
		if err := db.CreateNode(ctx, n); err != nil {
			t.Fatal(err)
		}
		e.nodes = append(e.nodes, n.UUID)
	}
	return e
}

func (e *recEnv) reconciler(t *testing.T, key *Key, o Owned) *Reconciler {
	t.Helper()
	r, err := NewReconciler(ReconcilerConfig{AgentID: "agent-a", URL: "http://127.0.0.1:9", Key: key}, e.tm, o, e.reg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// contexts lists the Context of every subscription on the simulator.
func (e *recEnv) contexts() []string {
	var out []string
	for _, s := range e.sim.Subscriptions() {
		out = append(out, s.Context)
	}
	slices.Sort(out)
	return out
}

func pass(t *testing.T, r *Reconciler, want Result) {
	t.Helper()
	got, err := r.Pass(context.Background())
	if err != nil || got != want {
		t.Fatalf("pass: %+v (%v), want %+v", got, err, want)
	}
}

func TestReconciler(t *testing.T) {
	e := newRecEnv(t, 3)
	ctx := context.Background()
	// Another client's subscription on node 0's BMC (another agent's, for
	// the same node: not this agent's to touch).
	req, _ := http.NewRequest(http.MethodPost, e.sim.URL()+"/redfish/v1/EventService/Subscriptions",
		strings.NewReader(`{"Destination": "http://127.0.0.1:9/x", "Protocol": "Redfish", "Context": "bmc-agent/agent-b/`+e.nodes[0]+`/k"}`))
	req.SetBasicAuth("admin", "password")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("another client's subscription: %v %v", resp, err)
	}
	resp.Body.Close()
	other := "bmc-agent/agent-b/" + e.nodes[0] + "/k"

	o := &owned{}
	o.set(e.nodes...)
	k1 := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	r := e.reconciler(t, k1, o)
	pass(t, r, Result{Owned: 3, Created: 3})

	// The steady state costs one GET per BMC.
	before := e.sim.Requests()
	pass(t, r, Result{Owned: 3, Kept: 3})
	if n := e.sim.Requests() - before; n != 3 {
		t.Fatalf("a pass with nothing to do made %d BMC requests for 3 nodes, want 3", n)
	}

	// A new key (a restarted agent with another key file): every
	// subscription of the agent's is replaced, the other client's kept.
	r2 := e.reconciler(t, NewKey([]byte("fedcba9876543210fedcba9876543210")), o)
	pass(t, r2, Result{Owned: 3, Replaced: 3})
	if got := e.contexts(); len(got) != 4 || !slices.Contains(got, other) {
		t.Fatalf("after the key change: %v", got)
	}
	for _, c := range e.contexts() {
		if strings.HasPrefix(c, "bmc-agent/agent-a/") && strings.HasSuffix(c, "/"+k1.ID()) {
			t.Fatalf("a subscription of the old key is left: %v", e.contexts())
		}
	}

	// Node 2 leaves this agent's ownership; node 1 is deleted.
	o.set(e.nodes[0], e.nodes[1])
	pass(t, r2, Result{Owned: 2, Kept: 2, Removed: 1})
	if err := e.db.DeleteNode(ctx, e.nodes[1]); err != nil {
		t.Fatal(err)
	}
	o.set(e.nodes[0])
	pass(t, r2, Result{Owned: 1, Kept: 1, Removed: 1})
	if got := e.contexts(); len(got) != 2 || !slices.Contains(got, other) {
		t.Fatalf("after node 2 left and node 1 was deleted: %v", got)
	}

	// Shutdown.
	if err := r2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.contexts(); len(got) != 1 || got[0] != other {
		t.Fatalf("after Close: %v", got)
	}
}

// Nodes subscribes the nodes it is given now, as a pass would, and leaves
// the others (not owned as far as it knows) alone; after Close neither it
// nor a pass makes a subscription again (a new-node check that runs during
// shutdown must not undo the deletion).
func TestReconcilerNodes(t *testing.T) {
	e := newRecEnv(t, 3)
	ctx := context.Background()
	o := &owned{}
	o.set(e.nodes[0])
	r := e.reconciler(t, NewKey([]byte("0123456789abcdef0123456789abcdef")), o)
	pass(t, r, Result{Owned: 1, Created: 1})

	if got := r.Nodes(ctx, []string{e.nodes[1]}); got != (Result{Owned: 1, Created: 1}) {
		t.Fatalf("Nodes: %+v", got)
	}
	if got := e.contexts(); len(got) != 2 || r.Known() != 2 {
		t.Fatalf("after Nodes: %v (%d known)", got, r.Known())
	}

	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.Nodes(ctx, []string{e.nodes[2]}); got != (Result{}) {
		t.Fatalf("Nodes after Close: %+v", got)
	}
	pass(t, r, Result{})
	if got := e.contexts(); len(got) != 0 {
		t.Fatalf("subscriptions after Close: %v", got)
	}
}
