package taskmanager_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// crash leaves node held by the agent as a killed process would: locked,
// with an operation half done.
func crash(t *testing.T, e *env, id string, mutate func(n *store.Node)) {
	t.Helper()
	n, _ := e.db.Node(context.Background(), id)
	mutate(n)
	if err := e.db.UpdateNode(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Reserve(context.Background(), id, lock.Reservation{Holder: e.tm.AgentID(), Purpose: "deploy"}); err != nil {
		t.Fatal(err)
	}
}

func TestRecoverOwnLocksAtStart(t *testing.T) {
	dsn := t.TempDir() + "/agent.db"
	before := newEnv(t, envOpts{agent: "agent-a", dsn: dsn})
	deploying, powering, idle, others := before.node(t, ""), before.node(t, ""), before.node(t, ""), before.node(t, "")
	crash(t, before, deploying.UUID, func(n *store.Node) {
		n.ProvisionState, n.TargetProvisionState = taskmanager.StateDeploying, taskmanager.StateActive
	})
	crash(t, before, powering.UUID, func(n *store.Node) { n.TargetPowerState = "power on" })
	crash(t, before, idle.UUID, func(*store.Node) {})
	if _, err := before.db.Reserve(context.Background(), others.UUID, lock.Reservation{Holder: "agent-b"}); err != nil {
		t.Fatal(err)
	}

	after := newEnv(t, envOpts{agent: "agent-a", dsn: dsn}) // the restart
	released, err := after.tm.Recover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(released) != 3 {
		t.Fatalf("released %d locks, want 3", len(released))
	}
	d, _ := after.db.Node(context.Background(), deploying.UUID)
	if d.Reservation != "" || d.ProvisionState != taskmanager.StateDeployFailed || d.TargetProvisionState != "" ||
		!strings.Contains(d.LastError, "interrupted") || !strings.Contains(d.LastError, "restarted") {
		t.Fatalf("deploying node after restart: %q -> %q, reservation %q, last_error %q", d.ProvisionState, d.TargetProvisionState, d.Reservation, d.LastError)
	}
	p, _ := after.db.Node(context.Background(), powering.UUID)
	if p.Reservation != "" || p.TargetPowerState != "" || !strings.Contains(p.LastError, "power state change") {
		t.Fatalf("powering node after restart: target %q reservation %q last_error %q", p.TargetPowerState, p.Reservation, p.LastError)
	}
	i, _ := after.db.Node(context.Background(), idle.UUID)
	if i.Reservation != "" || i.LastError != "" {
		t.Fatalf("idle node: reservation %q last_error %q", i.Reservation, i.LastError)
	}
	if o, _ := after.db.Node(context.Background(), others.UUID); o.Reservation != "agent-b" {
		t.Fatalf("another agent's lock was released: %q", o.Reservation)
	}
}

// TestRecoverStalePostgres: two agents on one PostgreSQL database; one dies
// holding a lock mid-deploy; the live one clears it after the heartbeat
// timeout, and not before.
func TestRecoverStalePostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	dead := newEnv(t, envOpts{agent: "agent-dead", dsn: dsn})
	live := newEnv(t, envOpts{agent: "agent-live", dsn: dsn})
	ctx := context.Background()
	n := dead.node(t, "")
	for _, e := range []*env{dead, live} {
		if err := e.db.Heartbeat(ctx, store.Agent{ID: e.tm.AgentID(), Hostname: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	crash(t, dead, n.UUID, func(n *store.Node) {
		n.ProvisionState, n.TargetProvisionState = taskmanager.StateDeploying, taskmanager.StateActive
	})
	const timeout = 300 * time.Millisecond
	if released, err := live.tm.RecoverStale(ctx, time.Minute); err != nil || len(released) != 0 { // fresh by any margin
		t.Fatalf("a fresh agent's lock was released: %v %v", released, err)
	}
	// The dead agent stops heartbeating; the live one goes on.
	deadline := time.Now().Add(timeout + 200*time.Millisecond)
	for time.Now().Before(deadline) {
		if err := live.db.Heartbeat(ctx, store.Agent{ID: "agent-live", Hostname: "h"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	released, err := live.tm.RecoverStale(ctx, timeout)
	if err != nil || len(released) != 1 || released[0] != n.UUID {
		t.Fatalf("RecoverStale: %v, %v", released, err)
	}
	got, _ := live.db.Node(ctx, n.UUID)
	if got.Reservation != "" || got.ProvisionState != taskmanager.StateDeployFailed || !strings.Contains(got.LastError, "heartbeat") {
		t.Fatalf("after the sweep: reservation %q state %q last_error %q", got.Reservation, got.ProvisionState, got.LastError)
	}
	task, err := live.tm.Acquire(ctx, n.UUID)
	if err != nil {
		t.Fatalf("the live agent cannot take the swept node: %v", err)
	}
	task.Release()
}
