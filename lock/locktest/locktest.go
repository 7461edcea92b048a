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
	"strings"
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
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open(t)) })
	t.Run("Stale", func(t *testing.T) { testStale(t, open(t)) })
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

// reserve takes id's lock for h through b and returns its lease.
func reserve(t *testing.T, b lock.Backend, id, h string) lock.Lease {
	t.Helper()
	tok, err := b.Reserve(bg(), id, lock.Reservation{Holder: h, Purpose: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return lock.Lease{Holder: h, Token: tok}
}

func testReserveRelease(t *testing.T, e Env) {
	ids := Nodes(t, e.Store, 1)
	tok, err := e.A.Reserve(bg(), ids[0], lock.Reservation{Holder: "a", Purpose: "power on"})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := e.Store.Node(bg(), ids[0])
	if n.Reservation != "a" || n.ReservationPurpose != "power on" || n.ReservedAt == nil || time.Since(*n.ReservedAt) > time.Minute {
		t.Fatalf("reservation row: %q %q %v", n.Reservation, n.ReservationPurpose, n.ReservedAt)
	}
	_, err = e.B.Reserve(bg(), ids[0], lock.Reservation{Holder: "b", Purpose: "deploy"})
	var le *lock.LockedError
	if !errors.As(err, &le) || !errors.Is(err, lock.ErrNodeLocked) || le.Holder != "a" || le.Purpose != "power on" || le.Since.IsZero() {
		t.Fatalf("reserve held node: %v, want LockedError naming a and its purpose", err)
	}
	if err := e.A.Release(bg(), ids[0], lock.Lease{Holder: "a", Token: tok}); err != nil {
		t.Fatal(err)
	}
	if h, p := holder(t, e.Store, ids[0]); h != "" || p != "" {
		t.Fatalf("after release: %q %q", h, p)
	}
	// By name, through the other connection.
	if _, err := e.B.Reserve(bg(), "lock-0", lock.Reservation{Holder: "b"}); err != nil {
		t.Fatalf("reserve by name: %v", err)
	}
	if h, _ := holder(t, e.Store, ids[0]); h != "b" {
		t.Fatalf("holder %q, want b", h)
	}
}

func testNotReentrant(t *testing.T, e Env) {
	ids := Nodes(t, e.Store, 1)
	reserve(t, e.A, ids[0], "a")
	if _, err := e.A.Reserve(bg(), ids[0], lock.Reservation{Holder: "a"}); !errors.Is(err, lock.ErrNodeLocked) {
		t.Fatalf("second reserve by the holder: %v, want ErrNodeLocked", err)
	}
}

func testReleaseByOther(t *testing.T, e Env) {
	ids := Nodes(t, e.Store, 1)
	if err := e.A.Release(bg(), ids[0], lock.Lease{Holder: "a", Token: 1}); !errors.Is(err, lock.ErrNotHolder) {
		t.Fatalf("release of a free lock: %v, want ErrNotHolder", err)
	}
	l := reserve(t, e.A, ids[0], "a")
	if err := e.B.Release(bg(), ids[0], lock.Lease{Holder: "b", Token: l.Token}); !errors.Is(err, lock.ErrNotHolder) {
		t.Fatalf("release by another holder: %v, want ErrNotHolder", err)
	}
	if h, _ := holder(t, e.Store, ids[0]); h != "a" {
		t.Fatalf("a release by b changed the holder to %q", h)
	}
}

func testMissing(t *testing.T, e Env) {
	for _, id := range []string{"6f1b1c5e-0000-4000-8000-000000000000", "no-such-name"} {
		if _, err := e.A.Reserve(bg(), id, lock.Reservation{Holder: "a"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("reserve %s: %v, want ErrNotFound", id, err)
		}
	}
}

// testTokens: every acquisition gets a greater token; release, verify and
// the lease are exact: a lease of an earlier acquisition by the same holder
// neither releases nor verifies the current one.
func testTokens(t *testing.T, e Env) {
	ids := Nodes(t, e.Store, 1)
	first := reserve(t, e.A, ids[0], "a")
	if err := e.B.Verify(bg(), ids[0], first); err != nil {
		t.Fatalf("verify the current lease: %v", err)
	}
	if err := e.A.Release(bg(), ids[0], first); err != nil {
		t.Fatal(err)
	}
	var fe *lock.FencedError
	if err := e.A.Verify(bg(), ids[0], first); !errors.As(err, &fe) || !errors.Is(err, lock.ErrFenced) || fe.Now.Holder != "" {
		t.Fatalf("verify a released lease: %v, want a FencedError naming no holder", err)
	}
	second := reserve(t, e.A, ids[0], "a")
	if second.Token <= first.Token {
		t.Fatalf("tokens %d then %d: not increasing", first.Token, second.Token)
	}
	if n, _ := e.Store.Node(bg(), ids[0]); n.LockToken != int64(second.Token) {
		t.Fatalf("node row token %d, want %d", n.LockToken, second.Token)
	}
	// The first acquisition's release, retried, spares the second.
	if err := e.A.Release(bg(), ids[0], first); !errors.Is(err, lock.ErrNotHolder) {
		t.Fatalf("release with an earlier token: %v, want ErrNotHolder", err)
	}
	if err := e.A.Verify(bg(), ids[0], first); !errors.As(err, &fe) || fe.Now.Holder != "a" || fe.Now.Token != second.Token {
		t.Fatalf("verify an earlier lease of the holder: %v", err)
	}
	if h, _ := holder(t, e.Store, ids[0]); h != "a" {
		t.Fatalf("holder %q after a stale release, want a", h)
	}
	if err := e.A.Release(bg(), ids[0], second); err != nil {
		t.Fatal(err)
	}
	if err := e.A.Verify(bg(), "6f1b1c5e-0000-4000-8000-000000000000", second); !errors.Is(err, lock.ErrFenced) {
		t.Fatalf("verify on a missing node: %v, want ErrFenced", err)
	}
}

func testStale(t *testing.T, e Env) {
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
	var leases []lock.Lease
	for i, h := range []string{"dead", "live", "self", "never-registered"} {
		leases = append(leases, reserve(t, e.A, ids[i], h))
	}
	stale, err := e.B.Stale(bg(), 200*time.Millisecond, "self")
	if err != nil {
		t.Fatal(err)
	}
	want := []lock.Held{{Node: ids[0], Lease: leases[0]}, {Node: ids[3], Lease: leases[3]}}
	sortHeld := func(h []lock.Held) {
		slices.SortFunc(h, func(a, b lock.Held) int { return strings.Compare(a.Node, b.Node) })
	}
	sortHeld(stale)
	sortHeld(want)
	if !slices.Equal(stale, want) {
		t.Fatalf("Stale listed %v, want the dead and the unregistered agent's %v", stale, want)
	}
	// Listing releases nothing.
	for i, want := range []string{"dead", "live", "self", "never-registered"} {
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

func (c *counting) Reserve(ctx context.Context, node string, r lock.Reservation) (lock.Token, error) {
	c.n.Add(1)
	return c.Backend.Reserve(ctx, node, r)
}

type observer struct{ acquired, contended, released atomic.Int64 }

func (o *observer) Acquired(time.Duration)  { o.acquired.Add(1) }
func (o *observer) Contended(time.Duration) { o.contended.Add(1) }
func (o *observer) Released()               { o.released.Add(1) }

func testLockerRetries(t *testing.T, e Env) {
	ids := Nodes(t, e.Store, 1)
	held, err := e.A.Reserve(bg(), ids[0], lock.Reservation{Holder: "a", Purpose: "long job"})
	if err != nil {
		t.Fatal(err)
	}
	cb := &counting{Backend: e.B}
	obs := &observer{}
	l := lock.NewLocker(cb, lock.Policy{Attempts: 3, Interval: 20 * time.Millisecond}, obs)
	_, err = l.Lock(bg(), ids[0], lock.Reservation{Holder: "b"})
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
	var tok lock.Token
	go func() {
		var err error
		tok, err = l.Lock(bg(), ids[0], lock.Reservation{Holder: "b"})
		done <- err
	}()
	for cb.n.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	if err := e.A.Release(bg(), ids[0], lock.Lease{Holder: "a", Token: held}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Lock after the holder released: %v", err)
	}
	if h, _ := holder(t, e.Store, ids[0]); h != "b" {
		t.Fatalf("holder %q, want b", h)
	}
	if err := l.Unlock(ids[0], lock.Lease{Holder: "b", Token: tok}); err != nil || obs.released.Load() != 1 {
		t.Fatalf("Unlock: %v, released events %d", err, obs.released.Load())
	}
	if err := l.Unlock(ids[0], lock.Lease{Holder: "b", Token: tok}); !errors.Is(err, lock.ErrNotHolder) {
		t.Fatalf("second Unlock: %v, want ErrNotHolder", err)
	}
	// A cancelled context ends the wait.
	reserve(t, e.A, ids[0], "a")
	ctx, cancel := context.WithCancel(bg())
	cancel()
	if _, err := l.Lock(ctx, ids[0], lock.Reservation{Holder: "b"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock with a cancelled context: %v", err)
	}
}

// testModel checks random sequences of operations by two holders against a
// model of the contract.
func testModel(t *testing.T, e Env) {
	ids := Nodes(t, e.Store, 3)
	backends := map[string]lock.Backend{"a": e.A, "b": e.B}
	rapid.Check(t, func(rt *rapid.T) {
		// Neither holder heartbeats: every lock is stale.
		held, err := e.A.Stale(bg(), 0, "")
		if err != nil {
			rt.Fatal(err)
		}
		for _, h := range held {
			if err := e.A.Release(bg(), h.Node, h.Lease); err != nil {
				rt.Fatal(err)
			}
		}
		model := map[string]lock.Lease{}
		lastToken := map[string]lock.Token{}
		rt.Repeat(map[string]func(*rapid.T){
			"reserve": func(rt *rapid.T) {
				h := rapid.SampledFrom([]string{"a", "b"}).Draw(rt, "holder")
				id := rapid.SampledFrom(ids).Draw(rt, "node")
				tok, err := backends[h].Reserve(bg(), id, lock.Reservation{Holder: h})
				if model[id].Holder == "" {
					if err != nil {
						rt.Fatalf("reserve free %s by %s: %v", id, h, err)
					}
					if tok <= lastToken[id] {
						rt.Fatalf("reserve %s: token %d after %d", id, tok, lastToken[id])
					}
					model[id], lastToken[id] = lock.Lease{Holder: h, Token: tok}, tok
				} else {
					var le *lock.LockedError
					if !errors.As(err, &le) || le.Holder != model[id].Holder || le.Token != model[id].Token {
						rt.Fatalf("reserve %s held by %v, by %s: %v", id, model[id], h, err)
					}
				}
			},
			"release": func(rt *rapid.T) {
				h := rapid.SampledFrom([]string{"a", "b"}).Draw(rt, "holder")
				id := rapid.SampledFrom(ids).Draw(rt, "node")
				// A holder's lease of this acquisition or of an earlier one.
				l := lock.Lease{Holder: h, Token: lastToken[id] - lock.Token(rapid.IntRange(0, 1).Draw(rt, "age"))}
				verr := backends[h].Verify(bg(), id, l)
				if held := model[id] == l; held && verr != nil || !held && !errors.Is(verr, lock.ErrFenced) {
					rt.Fatalf("verify %v on %s held by %v: %v", l, id, model[id], verr)
				}
				err := backends[h].Release(bg(), id, l)
				if model[id] == l {
					if err != nil {
						rt.Fatalf("release %s by its holder %v: %v", id, l, err)
					}
					model[id] = lock.Lease{}
				} else if !errors.Is(err, lock.ErrNotHolder) {
					rt.Fatalf("release %s (held by %v) by %v: %v, want ErrNotHolder", id, model[id], l, err)
				}
			},
			"": func(rt *rapid.T) {
				for _, id := range ids {
					n, err := e.Store.Node(bg(), id)
					if err != nil {
						rt.Fatal(err)
					}
					if n.Reservation != model[id].Holder || (n.Reservation != "" && n.LockToken != int64(model[id].Token)) {
						rt.Fatalf("node %s held by %q (token %d), model says %v", id, n.Reservation, n.LockToken, model[id])
					}
				}
			},
		})
	})
}

// testConcurrency has 50 goroutines, half on each backend, lock and unlock
// 10 nodes at random for d, and on until 200 locks were taken. An independent counter per node checks that no
// two ever hold one node at once.
func testConcurrency(t *testing.T, e Env, d time.Duration) {
	ids := Nodes(t, e.Store, 10)
	holders := make([]atomic.Int32, len(ids))
	var acquired, contended, violations atomic.Int64
	// The test runs for d and then until enough happened to prove
	// something: on a loaded machine d alone may see too few locks taken.
	const enough = 200
	ctx, cancel := context.WithCancel(bg())
	defer cancel()
	stop := time.AfterFunc(d, func() {
		for ctx.Err() == nil && (acquired.Load() < enough || contended.Load() == 0) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	})
	defer stop.Stop()
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
				tok, err := b.Reserve(ctx, ids[i], lock.Reservation{Holder: agent, Purpose: fmt.Sprintf("g%d", g)})
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
				if err := b.Release(context.Background(), ids[i], lock.Lease{Holder: agent, Token: tok}); err != nil {
					t.Errorf("release by the holder: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	cancel() // workers that failed stopped early: end the wait for enough locks
	if v := violations.Load(); v != 0 {
		t.Fatalf("%d times two goroutines held one node at once", v)
	}
	if acquired.Load() < enough || contended.Load() == 0 {
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
