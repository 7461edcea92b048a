package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
)

// createNode creates a node from a JSON body and returns its UUID.
func (c *apiClient) createNode(t *testing.T, body string) string {
	t.Helper()
	var n map[string]any
	decode(t, c.must(t, http.StatusCreated, "POST", "/v1/nodes", body), &n)
	return str(n, "uuid")
}

func unlocked(n map[string]any) bool { return n["reservation"] == nil }

// openStore opens the agent's database from the test, as another program.
func openStore(t *testing.T, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// An agent killed (SIGKILL) in the middle of a power change and of a deploy,
// both spawned work on a slow BMC, and started again with the same agent id:
// before serving, it marks both nodes interrupted (last_error says what was
// interrupted, the target states are cleared, deploying became deploy
// failed) and unlocks them; every change committed before the kill is
// there; and the nodes work again. On the embedded database and on
// PostgreSQL.
func TestCrashRecovery(t *testing.T) {
	for _, backend := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "agent.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.DSN(t) }},
	} {
		t.Run(backend.name, func(t *testing.T) {
			dsn := backend.dsn(t)
			// Restarted at once, the agent waits for its crashed
			// predecessor's heartbeat to time out before it claims the id.
			args := []string{"--database", dsn, "--agent-id", "crash-agent", "--sync-interval", "0", "--db-max-conns", "4",
				"--heartbeat-interval", "200ms", "--heartbeat-timeout", "3s"}
			first := startAgent(t, args...)
			c := newAPIClient(t, first.URL)

			// Committed before the crash: a node, its update, a port,
			// maintenance, and a power change that completed.
			kept := c.createNode(t, `{"name": "kept", "driver": "fake", "extra": {"rack": "r1"}}`)
			c.must(t, http.StatusOK, "PATCH", "/v1/nodes/kept", `[{"op": "replace", "path": "/extra/rack", "value": "r2"}]`)
			c.must(t, http.StatusCreated, "POST", "/v1/ports", `{"node_uuid": "`+kept+`", "address": "52:54:00:12:34:56"}`)
			c.must(t, http.StatusAccepted, "PUT", "/v1/nodes/kept/states/power", `{"target": "power on"}`)
			c.waitNode(t, "kept", "powered on", func(n map[string]any) bool {
				return str(n, "power_state") == "power on" && unlocked(n)
			})
			c.must(t, http.StatusAccepted, "PUT", "/v1/nodes/kept/maintenance", `{"reason": "disk swap"}`)

			// In flight at the crash: a power change and a deploy on BMCs
			// that take ten minutes to answer.
			c.createNode(t, `{"name": "powering", "driver": "fake", "driver_info": {"fake_delay": "10m"}}`)
			c.must(t, http.StatusAccepted, "PUT", "/v1/nodes/powering/states/power", `{"target": "power on"}`)
			c.version = "1.10" // nodes created before 1.11 start available
			c.createNode(t, `{"name": "deploying", "driver": "fake", "instance_info": {"boot_iso": "http://127.0.0.1:9/boot.iso"}}`)
			c.version = "latest"
			c.must(t, http.StatusOK, "PATCH", "/v1/nodes/deploying", `[{"op": "add", "path": "/driver_info/fake_delay", "value": "10m"}]`)
			c.must(t, http.StatusAccepted, "PUT", "/v1/nodes/deploying/states/provision", `{"target": "active"}`)
			if n := c.node(t, "powering"); str(n, "target_power_state") != "power on" || str(n, "reservation") != "crash-agent" {
				t.Fatalf("power change not in flight: %v", n)
			}
			if n := c.node(t, "deploying"); str(n, "provision_state") != "deploying" || str(n, "reservation") != "crash-agent" {
				t.Fatalf("deploy not in flight: %v", n)
			}

			first.kill(t)
			db := openStore(t, dsn)
			held, err := db.Nodes(context.Background(), store.NodeFilter{Reservation: "crash-agent"})
			if err != nil || len(held) != 2 {
				t.Fatalf("after the kill %d nodes are locked by the dead agent (%v), want 2", len(held), err)
			}

			second := startAgent(t, args...)
			c = newAPIClient(t, second.URL)
			p := c.node(t, "powering")
			if !unlocked(p) || p["target_power_state"] != nil ||
				!strings.Contains(str(p, "last_error"), `power state change to "power on" was interrupted`) ||
				!strings.Contains(str(p, "last_error"), "restarted") {
				t.Errorf("powering node after the restart: %v", p)
			}
			t.Logf("powering: last_error %q", str(p, "last_error"))
			d := c.node(t, "deploying")
			if !unlocked(d) || str(d, "provision_state") != "deploy failed" || d["target_provision_state"] != nil ||
				!strings.Contains(str(d, "last_error"), "deploying") || !strings.Contains(str(d, "last_error"), "interrupted") {
				t.Errorf("deploying node after the restart: %v", d)
			}
			t.Logf("deploying: %s, last_error %q", str(d, "provision_state"), str(d, "last_error"))
			k := c.node(t, "kept")
			extra, _ := k["extra"].(map[string]any)
			if !unlocked(k) || extra["rack"] != "r2" || str(k, "power_state") != "power on" || k["maintenance"] != true ||
				str(k, "maintenance_reason") != "disk swap" || k["last_error"] != nil {
				t.Errorf("committed changes after the restart: %v", k)
			}
			var ports struct{ Ports []map[string]any }
			decode(t, c.must(t, http.StatusOK, "GET", "/v1/nodes/kept/ports", ""), &ports)
			if len(ports.Ports) != 1 || ports.Ports[0]["address"] != "52:54:00:12:34:56" {
				t.Errorf("ports after the restart: %v", ports)
			}
			var all struct{ Nodes []map[string]any }
			decode(t, c.must(t, http.StatusOK, "GET", "/v1/nodes?fields=name,reservation", ""), &all)
			for _, n := range all.Nodes {
				if !unlocked(n) {
					t.Errorf("node %v is still locked", n)
				}
			}
			if len(all.Nodes) != 3 {
				t.Errorf("%d nodes after the restart, want 3", len(all.Nodes))
			}
			if !strings.Contains(second.stderr.String(), "released locks left by a previous run") {
				t.Errorf("the restarted agent did not log the recovery:\n%s", second.stderr.String())
			}

			// The interrupted nodes work again.
			c.must(t, http.StatusOK, "PATCH", "/v1/nodes/powering", `[{"op": "remove", "path": "/driver_info/fake_delay"}]`)
			c.must(t, http.StatusAccepted, "PUT", "/v1/nodes/powering/states/power", `{"target": "power on"}`)
			c.waitNode(t, "powering", "powered on", func(n map[string]any) bool {
				return str(n, "power_state") == "power on" && unlocked(n) && n["last_error"] == nil
			})
			second.signal(t, syscall.SIGTERM)
			if code := second.wait(t); code != 0 {
				t.Fatalf("the restarted agent exited with %d; its log:\n%s", code, second.stderr.String())
			}
		})
	}
}

// SIGTERM while work runs: the agent stops accepting connections at once,
// lets the work that fits in --shutdown-timeout finish (its node reaches
// its target), cancels the rest (recorded as failed, naming the shutdown),
// releases every lock, leaves the cluster and exits 0.
func TestGracefulShutdown(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "agent.db")
	a := startAgent(t, "--database", dsn, "--agent-id", "stopping-agent", "--sync-interval", "0", "--shutdown-timeout", "5s")
	c := newAPIClient(t, a.URL)
	c.createNode(t, `{"name": "quick", "driver": "fake", "driver_info": {"fake_delay": "1s"}}`)
	c.createNode(t, `{"name": "slow", "driver": "fake", "driver_info": {"fake_delay": "10m"}}`)
	c.must(t, http.StatusAccepted, "PUT", "/v1/nodes/quick/states/power", `{"target": "power on"}`)
	c.must(t, http.StatusAccepted, "PUT", "/v1/nodes/slow/states/power", `{"target": "power on"}`)
	if n := c.node(t, "quick"); str(n, "target_power_state") != "power on" || unlocked(n) {
		t.Fatalf("the quick power change is not in flight: %v", n)
	}
	c.c.CloseIdleConnections()

	a.signal(t, syscall.SIGTERM)
	a.waitLog(t, "shutting down")
	fresh := newAPIClient(t, a.URL)
	for {
		_, _, err := fresh.do("GET", "/v1/nodes", "")
		if err != nil {
			break // refused: the listener is closed
		}
		if !a.running() {
			t.Fatal("the agent answered requests until it exited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !a.running() {
		t.Error("the agent exited before its running work ended")
	}
	if code := a.wait(t); code != 0 {
		t.Fatalf("exit code %d; log:\n%s", code, a.stderr.String())
	}

	db := openStore(t, dsn)
	ctx := context.Background()
	q, _ := db.Node(ctx, "quick")
	if q.PowerState != "power on" || q.TargetPowerState != "" || q.Reservation != "" || q.LastError != "" {
		t.Errorf("work that fit in the deadline: power %q target %q reservation %q last_error %q", q.PowerState, q.TargetPowerState, q.Reservation, q.LastError)
	}
	s, _ := db.Node(ctx, "slow")
	t.Logf("cancelled: last_error %q", s.LastError)
	if s.PowerState == "power on" || s.TargetPowerState != "" || s.Reservation != "" ||
		!strings.Contains(s.LastError, "power on") || !strings.Contains(s.LastError, "shutting down") {
		t.Errorf("work cancelled at the deadline: power %q target %q reservation %q last_error %q", s.PowerState, s.TargetPowerState, s.Reservation, s.LastError)
	}
	if agents, _ := db.Agents(ctx, 0); len(agents) != 0 {
		t.Errorf("the agent did not leave the cluster: %v", agents)
	}
}
