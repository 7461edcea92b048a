// Package locktest is the conformance suite of lock.Backend, run against
// every backend (see store/sqlstore's tests): the contract's edge cases, a
// property test against a model, and a concurrency test in which two backend
// instances (two agents) on one database race for a few nodes.
package locktest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"pgregory.net/rapid"
)

// Env is one database seen through two independent connections, as two
// agents on different hosts would see it.
type Env struct {
	A, B lock.Backend
	// Store creates the nodes and heartbeats the agents; it is A's.
	Store store.Store
}

// Opener returns an Env on a fresh, empty database.
type Opener func(t *testing.T) Env

// Options tune Run.
type Options struct {
	// StressDuration is how long the concurrency test runs; default 3s.
	StressDuration time.Duration
}

// Run runs the suite.
func Run(t *testing.T, open Opener, opt Options) {
	if opt.StressDuration <= 0 {
		opt.StressDuration = 3 * time.Second
	}
	t.Run("ReserveRelease", func(t *testing.T) { testReserveRelease(t, open(t)) })
	t.Run("NotReentrant", func(t *testing.T) { testNotReentrant(t, open(t)) })
	t.Run("ReleaseByOther", func(t *testing.T) { testReleaseByOther(t, open(t)) })
	t.Run("Missing", func(t *testing.T) { testMissing(t, open(t)) })
	t.Run("ReleaseHolder", func(t *testing.T) { testReleaseHolder(t, open(t)) })
	t.Run("ReleaseStale", func(t *testing.T) { testReleaseStale(t, open(t)) })
	t.Run("LockerRetries", func(t *testing.T) { testLockerRetries(t, open(t)) })
	t.Run("Model", func(t *testing.T) { testModel(t, open(t)) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open(t), opt.StressDuration) })
}

func bg() context.Context { return context.Background() }

// Nodes creates n nodes and returns their UUIDs.
func Nodes(t testing.TB, s store.Store, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		node := &store.Node{Name: fmt.Sprintf("lock-%d", i), Driver: "fake", ProvisionState: "enroll"}
		if err := s.CreateNode(bg(), node); err != nil {
			t.Fatal(err)
		}
		ids[i] = node.UUID
	}
	return ids
}

func holder(t *testing.T, s store.Store, id string) (string, string) {
	t.Helper()
	n, err := s.Node(bg(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n.Reservation, n.ReservationPurpose
}

func testReserveRelease(t *testing.T, e Env) {
	ids := Nodes(t, e.Store, 1)
	if err := e.A.Reserve(bg(), ids[0], lock.Reservation{Holder: "a", Purpose: "power on"}); err != nil {
		t.Fatal(err)
	}
	n, _ := e.Store.Node(bg(), ids[0])
	if n.Reservation != "a" || n.ReservationPurpose != "power on" || n.ReservedAt == nil || time.Since(*n.ReservedAt) > time.Minute {
		t.Fatalf("reservation row: %q %q %v", n.Reservation, n.ReservationPurpose, n.ReservedAt)
	}
	err := e.B.Reserve(bg(), ids[0], lock.Reservation{Holder: "b", Purpose: "deploy"})
	var le *lock.LockedError
	if !errors.As(err, &le) || !errors.Is(err, lock.ErrNodeLocked) || le.Holder != "a" || le.Purpose != "power on" || le.Since.IsZero() {
		t.Fatalf("reserve held node: %v, want LockedError naming a and its purpose", err)
	}
	if err := e.A.Release(bg(), ids[0], "a"); err != nil {
		t.Fatal(err)
	}
	if h, p := holder(t, e.Store, ids[0]); h != "" || p != "" {
		t.Fatalf("after release: %q %q", h, p)
	}
	// By name, through the other connection.
	if err := e.B.Reserve(bg(), "lock-0", lock.Reservation{Holder: "b"}); err != nil {
		t.Fatalf("reserve by name: %v", err)
	}
	if h, _ := holder(t, e.Store, ids[0]); h != "b" {
		t.Fatalf("holder %q, want b", h)
	}
}

func testNotReentrant(t *testing.T, e Env) {
	ids := Nodes(t, e.Store, 1)
	if err := e.A.Reserve(bg(), ids[0], lock.Reservation{Holder: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := e.A.Reserve(bg(), ids[0], lock.Reservation{Holder: "a"}); !errors.Is(err, lock.ErrNodeLocked) {
		t.Fatalf("second reserve by the holder: %v, want ErrNodeLocked", err)
	}
}

func testReleaseByOther(t *testing.T, e Env) {
	ids := Nodes(t, e.Store, 1)
	if err := e.A.Release(bg(), ids[0], "a"); !errors.Is(err, lock.ErrNotHolder) {
		t.Fatalf("release of a free lock: %v, want ErrNotHolder", err)
	}
	if err := e.A.Reserve(bg(), ids[0], lock.Reservation{Holder: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := e.B.Release(bg(), ids[0], "b"); !errors.Is(err, lock.ErrNotHolder) {
		t.Fatalf("release by another holder: %v, want ErrNotHolder", err)
	}
	if h, _ := holder(t, e.Store, ids[0]); h != "a" {
		t.Fatalf("a release by b changed the holder to %q", h)
	}
}

func testMissing(t *testing.T, e Env) {
	for _, id := range []string{"6f1b1c5e-0000-4000-8000-000000000000", "no-such-name"} {
		if err := e.A.Reserve(bg(), id, lock.Reservation{Holder: "a"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("reserve %s: %v, want ErrNotFound", id, err)
		}
	}
}

func testReleaseHolder(t *testing.T, e Env) {
	ids := Nodes(t, e.Store, 4)
	for i, id := range ids {
		h := map[bool]string{true: "a", false: "b"}[i%2 == 0]
		if err := e.A.Reserve(bg(), id, lock.Reservation{Holder: h}); err != nil {
			t.Fatal(err)
		}
	}
	released, err := e.A.ReleaseHolder(bg(), "a")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(released)
	want := []string{ids[0], ids[2]}
	slices.Sort(want)
	if !slices.Equal(released, want) {
		t.Fatalf("released %v, want %v", released, want)
	}
	for i, id := range ids {
		h, _ := holder(t, e.Store, id)
		if want := map[bool]string{true: "", false: "b"}[i%2 == 0]; h != want {
			t.Fatalf("node %d holder %q, want %q", i, h, want)
		}
	}
}

func testReleaseStale(t *testing.T, e Env) {
	ids := Nodes(t, e.Store, 4)
	hb := func(id string) {
		if err := e.Store.Heartbeat(bg(), store.Agent{ID: id, Hostname: id}); err != nil {
			t.Fatal(err)
		}
	}
	hb("dead")
	time.Sleep(300 * time.Millisecond)
	hb("live")
	hb("self")
	for i, h := range []string{"dead", "live", "self", "never-registered"} {
		if err := e.A.Reserve(bg(), ids[i], lock.Reservation{Holder: h}); err != nil {
			t.Fatal(err)
		}
	}
	released, err := e.B.ReleaseStale(bg(), 200*time.Millisecond, "self")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(released)
	want := []string{ids[0], ids[3]}
	slices.Sort(want)
	if !slices.Equal(released, want) {
		t.Fatalf("ReleaseStale released %v, want the dead and the unregistered agent's %v", released, want)
	}
	for i, want := range []string{"", "live", "self", ""} {
		if h, _ := holder(t, e.Store, ids[i]); h != want {
			t.Fatalf("node %d holder %q, want %q", i, h, want)
		}
	}
}

// counting wraps a backend and counts Reserve calls.
type counting struct {
	lock.Backend
	n atomic.Int64
}

func (c *counting) Reserve(ctx context.Context, node string, r lock.Reservation) error {
	c.n.Add(1)
	return c.Backend.Reserve(ctx, node, r)
}

type observer struct{ acquired, contended, released atomic.Int64 }

func (o *observer) Acquired(time.Duration)  { o.acquired.Add(1) }
func (o *observer) Contended(time.Duration) { o.contended.Add(1) }
func (o *observer) Released()               { o.released.Add(1) }

func testLockerRetries(t *testing.T, e Env) {
	ids := Nodes(t, e.Store, 1)
	if err := e.A.Reserve(bg(), ids[0], lock.Reservation{Holder: "a", Purpose: "long job"}); err != nil {
		t.Fatal(err)
	}
	cb := &counting{Backend: e.B}
	obs := &observer{}
	l := lock.NewLocker(cb, lock.Policy{Attempts: 3, Interval: 20 * time.Millisecond}, obs)
	err := l.Lock(bg(), ids[0], lock.Reservation{Holder: "b"})
	var le *lock.LockedError
	if !errors.As(err, &le) || le.Holder != "a" || le.Purpose != "long job" {
		t.Fatalf("Lock on a held node: %v", err)
	}
	if got := cb.n.Load(); got != 3 {
		t.Fatalf("Lock tried %d times, want 3", got)
	}
	if obs.contended.Load() != 1 || obs.acquired.Load() != 0 {
		t.Fatalf("observer: acquired %d contended %d", obs.acquired.Load(), obs.contended.Load())
	}
	// Released while B waits: B gets it on a later attempt.
	cb.n.Store(0)
	l = lock.NewLocker(cb, lock.Policy{Attempts: 50, Interval: 10 * time.Millisecond}, obs)
	done := make(chan error, 1)
	go func() { done <- l.Lock(bg(), ids[0], lock.Reservation{Holder: "b"}) }()
	for cb.n.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	if err := e.A.Release(bg(), ids[0], "a"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Lock after the holder released: %v", err)
	}
	if h, _ := holder(t, e.Store, ids[0]); h != "b" {
		t.Fatalf("holder %q, want b", h)
	}
	if err := l.Unlock(ids[0], "b"); err != nil || obs.released.Load() != 1 {
		t.Fatalf("Unlock: %v, released events %d", err, obs.released.Load())
	}
	if err := l.Unlock(ids[0], "b"); !errors.Is(err, lock.ErrNotHolder) {
		t.Fatalf("second Unlock: %v, want ErrNotHolder", err)
	}
	// A cancelled context ends the wait.
	if err := e.A.Reserve(bg(), ids[0], lock.Reservation{Holder: "a"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg())
	cancel()
	if err := l.Lock(ctx, ids[0], lock.Reservation{Holder: "b"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock with a cancelled context: %v", err)
	}
}

// testModel checks random sequences of operations by two holders against a
// model of the contract.
func testModel(t *testing.T, e Env) {
	ids := Nodes(t, e.Store, 3)
	backends := map[string]lock.Backend{"a": e.A, "b": e.B}
	rapid.Check(t, func(rt *rapid.T) {
		for _, h := range []string{"a", "b"} {
			if _, err := e.A.ReleaseHolder(bg(), h); err != nil {
				rt.Fatal(err)
			}
		}
		model := map[string]string{}
		rt.Repeat(map[string]func(*rapid.T){
			"reserve": func(rt *rapid.T) {
				h := rapid.SampledFrom([]string{"a", "b"}).Draw(rt, "holder")
				id := rapid.SampledFrom(ids).Draw(rt, "node")
				err := backends[h].Reserve(bg(), id, lock.Reservation{Holder: h})
				if model[id] == "" {
					if err != nil {
						rt.Fatalf("reserve free %s by %s: %v", id, h, err)
					}
					model[id] = h
				} else {
					var le *lock.LockedError
					if !errors.As(err, &le) || le.Holder != model[id] {
						rt.Fatalf("reserve %s held by %s, by %s: %v", id, model[id], h, err)
					}
				}
			},
			"release": func(rt *rapid.T) {
				h := rapid.SampledFrom([]string{"a", "b"}).Draw(rt, "holder")
				id := rapid.SampledFrom(ids).Draw(rt, "node")
				err := backends[h].Release(bg(), id, h)
				if model[id] == h {
					if err != nil {
						rt.Fatalf("release %s by its holder %s: %v", id, h, err)
					}
					model[id] = ""
				} else if !errors.Is(err, lock.ErrNotHolder) {
					rt.Fatalf("release %s (held by %q) by %s: %v, want ErrNotHolder", id, model[id], h, err)
				}
			},
			"": func(rt *rapid.T) {
				for _, id := range ids {
					n, err := e.Store.Node(bg(), id)
					if err != nil {
						rt.Fatal(err)
					}
					if n.Reservation != model[id] {
						rt.Fatalf("node %s held by %q, model says %q", id, n.Reservation, model[id])
					}
				}
			},
		})
	})
}

// testConcurrency has 50 goroutines, half on each backend, lock and unlock
// 10 nodes at random for d. An independent counter per node checks that no
// two ever hold one node at once.
func testConcurrency(t *testing.T, e Env, d time.Duration) {
	ids := Nodes(t, e.Store, 10)
	holders := make([]atomic.Int32, len(ids))
	var acquired, contended, violations atomic.Int64
	ctx, cancel := context.WithTimeout(bg(), d)
	defer cancel()
	var wg sync.WaitGroup
	for g := range 50 {
		b, agent := e.A, "agent-a"
		if g%2 == 1 {
			b, agent = e.B, "agent-b"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for ctx.Err() == nil {
				i := rng.IntN(len(ids))
				err := b.Reserve(ctx, ids[i], lock.Reservation{Holder: agent, Purpose: fmt.Sprintf("g%d", g)})
				if errors.Is(err, lock.ErrNodeLocked) {
					contended.Add(1)
					continue
				}
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("reserve: %v", err)
					}
					return
				}
				if holders[i].Add(1) != 1 {
					violations.Add(1)
				}
				acquired.Add(1)
				time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
				holders[i].Add(-1)
				// Release on its own context so the end of the test
				// cannot leave a lock behind.
				if err := b.Release(context.Background(), ids[i], agent); err != nil {
					t.Errorf("release by the holder: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v := violations.Load(); v != 0 {
		t.Fatalf("%d times two goroutines held one node at once", v)
	}
	if acquired.Load() < 100 || contended.Load() == 0 {
		t.Fatalf("too little happened to prove anything: %d acquired, %d contended", acquired.Load(), contended.Load())
	}
	t.Logf("%d locks taken, %d attempts found the node held", acquired.Load(), contended.Load())
	yes := true
	left, err := e.Store.Nodes(bg(), store.NodeFilter{Reserved: &yes})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("%d nodes still locked at the end", len(left))
	}
}
