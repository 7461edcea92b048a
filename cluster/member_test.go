package cluster_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/cluster"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"go.uber.org/goleak"
)

type sweeps struct{ n atomic.Int64 }

func (s *sweeps) RecoverStale(context.Context, time.Duration) ([]string, error) {
	s.n.Add(1)
	return nil, nil
}

func TestMembership(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
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
