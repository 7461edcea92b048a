package taskmanager_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/internal/faultinject"
	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// TestLifecycleChaos is the randomized test of the lock's lifecycle (issue
// 18): two agents on one database run power jobs, provisioning, edits and
// sweeps on a few nodes at once while every call of their store and lock
// backend may fail, lose its answer or pause, and one agent now and then
// declares the other dead and sweeps its locks (as after a stall). After
// each round, with every task ended, it checks the invariants of
// docs/architecture.md:
//
//  1. every locked node is an orphan of its holder (recorded for the sweep);
//  2. once the database answers and the sweeps ran, every node is unlocked,
//     in a stable provision state, with no target power state;
//  3. no mutation reached the BMC from an agent that did not hold the
//     node's lock (a witness in the driver reads the lock row).
//
// The seed is logged (LIFECYCLE_SEED replays its choices; the goroutines'
// interleaving is the scheduler's). It runs on SQLite for 40 rounds or 20
// seconds, and on PostgreSQL for 15 rounds or 10 seconds, whichever ends
// first.
func TestLifecycleChaos(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { lifecycleChaos(t, filepath.Join(t.TempDir(), "chaos.db"), 40, 20*time.Second) })
	t.Run("postgres", func(t *testing.T) { lifecycleChaos(t, pgtest.DSN(t), 15, 10*time.Second) })
}

func lifecycleChaos(t *testing.T, dsn string, rounds int, budget time.Duration) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LIFECYCLE_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = v
	}
	t.Logf("LIFECYCLE_SEED=%d", seed)
	bmc := fake.New()
	var sweeps sync.RWMutex // held for writing while an agent declares the other dead
	var violations atomic.Int64
	var agents []*chaosAgent
	for _, id := range []string{"agent-a", "agent-b"} {
		agents = append(agents, newChaosAgent(t, dsn, id, bmc, &sweeps, &violations))
	}
	var ids []string
	for i := range 3 {
		n := &store.Node{Name: fmt.Sprintf("chaos-%d", i), Driver: fake.Name, ProvisionState: taskmanager.StateEnroll}
		if err := agents[0].db.CreateNode(bg, n); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.UUID)
	}
	rng := rand.New(rand.NewPCG(seed, 18))
	var ops atomic.Int64
	deadline := time.Now().Add(budget)
	round := 0
	for ; round < rounds && time.Now().Before(deadline); round++ {
		for _, a := range agents {
			a.heartbeat(t)
			a.fi.On(chaosRule(rng.Uint64()))
		}
		var wg sync.WaitGroup
		for g := range 6 {
			a, other := agents[g%2], agents[1-g%2]
			id, op, opSeed := ids[rng.IntN(len(ids))], rng.IntN(10), rng.Uint64()
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.run(op, id, other, opSeed)
				ops.Add(1)
			}()
		}
		wg.Wait()
		for _, a := range agents {
			until(t, "the workers' end", func() bool { return a.tm.Stats().Busy == 0 })
		}
		// 1: every lock still held belongs to an orphan of its holder.
		for _, id := range ids {
			n, err := agents[0].db.Node(bg, id)
			if err != nil {
				t.Fatal(err)
			}
			if n.Reservation == "" {
				continue
			}
			var holder *chaosAgent
			for _, a := range agents {
				if a.id == n.Reservation {
					holder = a
				}
			}
			if _, ok := holder.tm.Orphans()[id]; !ok {
				t.Fatalf("seed %d round %d: node %s locked by %s (purpose %q) with no task and no orphan record",
					seed, round, id, n.Reservation, n.ReservationPurpose)
			}
		}
		// 2: with the database back, the sweeps leave every node at rest.
		for _, a := range agents {
			a.fi.Clear()
			a.heartbeat(t)
		}
		for _, a := range agents {
			if _, err := a.tm.RecoverStale(bg, time.Minute); err != nil {
				t.Fatalf("seed %d round %d: sweep of %s: %v", seed, round, a.id, err)
			}
		}
		for _, id := range ids {
			n, _ := agents[0].db.Node(bg, id)
			if n.Reservation != "" || !taskmanager.IsStable(n.ProvisionState) || n.TargetPowerState != "" {
				t.Fatalf("seed %d round %d: node %s after the sweeps: reservation %q, provision %q -> %q, target power %q, last_error %q",
					seed, round, id, n.Reservation, n.ProvisionState, n.TargetProvisionState, n.TargetPowerState, n.LastError)
			}
		}
		// 3: no mutation by an agent that did not hold the lock.
		if v := violations.Load(); v > 0 {
			t.Fatalf("seed %d round %d: %d BMC mutations by an agent that did not hold the node's lock", seed, round, v)
		}
	}
	calls, fenced, declared, swept := 0, int64(0), int64(0), int64(0)
	for _, a := range agents {
		calls += a.calls()
		fenced += a.fenced.Load()
		declared += a.declared.Load()
		swept += a.swept.Load()
	}
	t.Logf("%d rounds, %d operations, %d store and lock calls, %d declarations of death sweeping %d locks of a live agent, %d mutations fenced",
		round, ops.Load(), calls, declared, swept, fenced)
	if round < 5 || declared == 0 {
		t.Fatalf("too little happened to prove anything: %d rounds, %d declarations of death", round, declared)
	}
}

// chaosRule fails 8% of the calls, loses the answer of 4% and pauses 10%
// for up to 2 ms.
func chaosRule(seed uint64) faultinject.Rule {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 11))
	return func(c faultinject.Call) (faultinject.Action, bool) {
		mu.Lock()
		r, pause := rng.Float64(), time.Duration(rng.IntN(2000))*time.Microsecond
		mu.Unlock()
		switch {
		case r < 0.08:
			return faultinject.Action{Fail: true}, true
		case r < 0.12:
			return faultinject.Action{Lost: true}, true
		case r < 0.22:
			return faultinject.Action{Pause: pause}, true
		}
		return faultinject.Action{}, false
	}
}

type chaosAgent struct {
	// fenced counts driver calls refused by the fence; declared the times
	// this agent declared the other dead, swept the locks it took from it.
	fenced, declared, swept atomic.Int64
	id                      string
	db                      *sqlstore.DB
	fi                      *faultinject.Store
	tm                      *taskmanager.Manager
	sweeps                  *sync.RWMutex
}

func newChaosAgent(t *testing.T, dsn, id string, bmc *fake.Driver, sweeps *sync.RWMutex, violations *atomic.Int64) *chaosAgent {
	t.Helper()
	db, err := sqlstore.Open(bg, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fi := faultinject.Wrap(db)
	reg, err := drivers.NewRegistry(&witness{Driver: bmc, agent: id, db: db, violations: violations})
	if err != nil {
		t.Fatal(err)
	}
	a := &chaosAgent{id: id, db: db, fi: fi, sweeps: sweeps}
	// The outermost middleware keeps a mutation and the declaration of
	// its agent's death apart: the witness then checks exactly the fence.
	guard := func(ctx context.Context, c drivers.Call, next func(context.Context) error) error {
		if c.Method.Mutates {
			sweeps.RLock()
			defer sweeps.RUnlock()
		}
		err := next(ctx)
		if errors.Is(err, lock.ErrFenced) {
			a.fenced.Add(1)
		}
		return err
	}
	a.tm, err = taskmanager.New(taskmanager.Config{
		AgentID: id, Store: fi, Drivers: reg, Workers: 4, SettleTimeout: 20 * time.Millisecond,
		Locker:     lock.NewLocker(fi, lock.Policy{Attempts: 2, Interval: time.Millisecond, ReleaseTimeout: 20 * time.Millisecond}, nil),
		Middleware: []drivers.Middleware{guard},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fi.Clear()
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		if err := a.tm.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		db.Close()
	})
	return a
}

func (a *chaosAgent) heartbeat(t *testing.T) {
	t.Helper()
	if err := a.db.Heartbeat(bg, store.Agent{ID: a.id, Hostname: a.id}); err != nil {
		t.Fatal(err)
	}
}

func (a *chaosAgent) calls() int {
	n := 0
	for _, m := range []string{"Node", "Nodes", "UpdateNode", "UpdateNodeHeld", "ReserveNode", "Reserve", "Release", "Verify", "Stale"} {
		n += a.fi.Calls(m)
	}
	return n
}

// run does one operation, as the API or the agent's loops would.
func (a *chaosAgent) run(op int, id string, other *chaosAgent, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 3))
	switch {
	case op < 3: // a power job: target, then the BMC, then the outcome
		action := []drivers.PowerAction{drivers.ActionPowerOn, drivers.ActionPowerOff}[rng.IntN(2)]
		return a.tm.Do(bg, id, []taskmanager.Option{taskmanager.Purpose(string(action))}, func(ctx context.Context, t *taskmanager.Task) error {
			t.Node().TargetPowerState, t.Node().LastError = string(action.Target()), ""
			if err := t.Save(ctx); err != nil {
				return err
			}
			t.SetSpawnErrorHook(func(t *taskmanager.Task, err error) {
				t.Node().TargetPowerState, t.Node().LastError = "", err.Error()
				t.Settle(ctx)
			})
			return t.SpawnAfter(func(ctx context.Context, t *taskmanager.Task) error {
				err := t.Driver().SetPowerState(ctx, action, 0)
				n := t.Node()
				n.TargetPowerState = ""
				if err != nil {
					n.LastError = err.Error()
				} else {
					n.PowerState = string(action.Target())
				}
				if serr := t.Settle(ctx); err == nil {
					err = serr
				}
				return err
			})
		})
	case op < 6: // a provisioning event and its work
		return a.tm.Do(bg, id, []taskmanager.Option{taskmanager.Purpose("provision")}, func(ctx context.Context, t *taskmanager.Task) error {
			var events []string
			for _, ev := range taskmanager.Events(t.Node().ProvisionState) {
				if slices.Contains([]string{taskmanager.EventManage, taskmanager.EventProvide, taskmanager.EventDeploy,
					taskmanager.EventDelete, taskmanager.EventInspect, taskmanager.EventRebuild, taskmanager.EventClean}, ev) {
					events = append(events, ev)
				}
			}
			if len(events) == 0 {
				return nil
			}
			return t.ProcessEvent(ctx, events[rng.IntN(len(events))], taskmanager.Callback(provisionWork))
		})
	case op < 7: // an edit under the lock
		return a.tm.Do(bg, id, []taskmanager.Option{taskmanager.Purpose("edit")}, func(ctx context.Context, t *taskmanager.Task) error {
			t.Node().Description = fmt.Sprintf("edited by %s", a.id)
			return t.Save(ctx)
		})
	case op < 9: // the heartbeat's sweep
		_, err := a.tm.RecoverStale(bg, time.Minute)
		return err
	default: // the other agent stalled: declare it dead and sweep its locks
		a.sweeps.Lock()
		defer a.sweeps.Unlock()
		released, err := a.tm.RecoverStale(bg, 0)
		a.declared.Add(1)
		a.swept.Add(int64(len(released)))
		return err
	}
}

// provisionWork moves the node through its transient states, with a BMC
// mutation in each, as the API's provisioning callback does.
func provisionWork(ctx context.Context, t *taskmanager.Task) error {
	for !taskmanager.IsStable(t.Node().ProvisionState) {
		if err := t.Driver().SetPowerState(ctx, drivers.ActionReboot, 0); err != nil {
			return err
		}
		if err := t.ProcessEvent(ctx, taskmanager.EventDone); err != nil {
			return err
		}
	}
	return nil
}

// witness is the fake BMC as one agent's driver sees it: before each
// mutation it checks in the database that its agent holds the node's lock.
type witness struct {
	*fake.Driver
	agent      string
	db         *sqlstore.DB
	violations *atomic.Int64
}

func (w *witness) SetPowerState(ctx context.Context, n drivers.Node, action drivers.PowerAction, timeout time.Duration) error {
	if row, err := w.db.Node(context.Background(), n.UUID); err == nil && row.Reservation != w.agent {
		w.violations.Add(1)
	}
	return w.Driver.SetPowerState(ctx, n, action, timeout)
}
