package cluster_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/cluster"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
)

type sweeps struct{ n atomic.Int64 }

func (s *sweeps) RecoverStale(context.Context, time.Duration) ([]string, error) {
	s.n.Add(1)
	return nil, nil
}

// openDB opens an embedded database in a temporary directory, closed when
// the test ends.
func openDB(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMembership(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	sw := &sweeps{}
	a, err := cluster.New(cluster.Config{Agent: store.Agent{ID: "a", Hostname: "ha", Group: "g"}, Interval: 10 * time.Millisecond, Timeout: 200 * time.Millisecond}, db, sw)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cluster.New(cluster.Config{Agent: store.Agent{ID: "b", Hostname: "hb", Group: "g"}, Interval: 10 * time.Millisecond, Timeout: 200 * time.Millisecond}, db, &sweeps{})
	other, _ := cluster.New(cluster.Config{Agent: store.Agent{ID: "c", Group: "other"}, Interval: 10 * time.Millisecond, Timeout: 200 * time.Millisecond}, db, &sweeps{})
	for _, m := range []*cluster.Member{a, b, other} {
		if err := m.Join(ctx); err != nil {
			t.Fatal(err)
		}
	}
	alive, err := a.Alive(ctx)
	if err != nil || len(alive) != 2 {
		t.Fatalf("alive in group g: %+v %v", alive, err)
	}
	// a keeps heartbeating, b stops.
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.Run(rctx) }()
	// Wait for the causes, not for a time a loaded machine may outlast:
	// while a runs, b's heartbeat goes stale (a alone is alive) and a's
	// Run sweeps stale locks.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		alive, _ = a.Alive(ctx)
		if len(alive) == 1 && alive[0].ID == "a" && sw.n.Load() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after b went silent: alive %+v, %d sweeps", alive, sw.n.Load())
		}
	}
	cancel()
	<-done
	if err := a.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Leave(ctx); err != nil {
		t.Fatalf("second Leave: %v", err)
	}
	agents, _ := db.Agents(ctx, time.Minute)
	for _, ag := range agents {
		if ag.ID == "a" {
			t.Fatal("a is still registered after Leave")
		}
	}
	if _, err := cluster.New(cluster.Config{Agent: store.Agent{ID: "x"}, Interval: time.Second, Timeout: time.Second}, db, sw); err == nil {
		t.Fatal("a timeout shorter than two intervals was accepted")
	}
}

// Identity: a second agent with a live agent's id is refused, naming the
// id and its last heartbeat; an agent whose predecessor crashed takes the
// id over once the predecessor's heartbeat timed out, and the predecessor,
// if it was only stalled, finds its id taken, loses its lease for good and
// cannot delete the new holder's row.
func TestMemberIdentity(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	cfg := cluster.Config{Agent: store.Agent{ID: "dup", Hostname: "h1"}, Interval: 10 * time.Millisecond, Timeout: time.Second}
	first, err := cluster.New(cfg, db, &sweeps{})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Join(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Lease().Held(); err != nil {
		t.Fatalf("lease after Join: %v", err)
	}

	// The first keeps heartbeating: the second is refused.
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- first.Run(rctx) }()
	cfg2 := cfg
	cfg2.Agent.Hostname = "h2"
	second, _ := cluster.New(cfg2, db, &sweeps{})
	err = second.Join(ctx)
	var inUse *cluster.IDInUseError
	if !errors.As(err, &inUse) || inUse.Holder.Hostname != "h1" ||
		!strings.Contains(err.Error(), `agent id "dup" is in use`) || !strings.Contains(err.Error(), "last heartbeat") {
		t.Fatalf("second Join with a live first: %v", err)
	}
	t.Logf("refused: %v", err)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The first stops heartbeating (crashed, or stalled): the second waits
	// for its heartbeat to time out and takes the id over.
	if err := second.Join(ctx); err != nil {
		t.Fatalf("second Join after the first went silent: %v", err)
	}
	// The first comes back: its heartbeat finds the id taken.
	if err := first.Tick(ctx); !errors.Is(err, cluster.ErrReplaced) {
		t.Fatalf("the replaced agent's heartbeat: %v", err)
	}
	if err := first.Lease().Held(); !errors.Is(err, cluster.ErrNoLease) || !strings.Contains(err.Error(), "another agent took over its id") {
		t.Fatalf("the replaced agent's lease: %v", err)
	}
	if err := first.Run(ctx); !errors.Is(err, cluster.ErrReplaced) {
		t.Fatalf("the replaced agent's Run: %v", err)
	}
	if err := first.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	agents, _ := db.Agents(ctx, time.Minute)
	if len(agents) != 1 || agents[0].Hostname != "h2" {
		t.Fatalf("after the replaced agent left: %+v", agents)
	}
	if err := second.Tick(ctx); err != nil {
		t.Fatalf("the new holder's heartbeat: %v", err)
	}
	if err := second.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if agents, _ := db.Agents(ctx, time.Minute); len(agents) != 0 {
		t.Fatalf("after the new holder left: %+v", agents)
	}
}
