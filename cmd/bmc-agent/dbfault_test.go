package main

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/internal/pgtest"
)

// PostgreSQL stopped and started again, for less than the agent's lease
// (TestLeaseDatabaseCut covers a longer cut), while the agent serves: meanwhile
// every request that needs the database is a 503 that says so (promptly:
// the requests below would hang the test otherwise), /readyz is not ready,
// /healthz is; work accepted before the outage records its outcome once the
// database is back, a request that held a lock across the outage releases
// it, the agent recovers by itself, no lock stays held and no target state
// is left without a worker. The database's password appears nowhere.
func TestDatabaseOutage(t *testing.T) {
	cluster, err := pgtest.Start(pgtest.Options{})
	if err != nil {
		t.Fatalf("PostgreSQL is required for this test: %v", err)
	}
	t.Cleanup(func() { cluster.Stop() })
	u, _ := url.Parse(cluster.NewDatabase(t))
	const dbPassword = "pg-Outage-Secret-417"
	u.User = url.UserPassword("postgres", dbPassword) // trust auth: sent, never needed
	a := startAgent(t, "--database", u.String(), "--agent-id", "db-agent", "--sync-interval", "0",
		"--heartbeat-interval", "200ms", "--heartbeat-timeout", "2m", "--log-level", "debug", "--db-timeout", "3s")
	c := newAPIClient(t, a.URL)
	// The BMC calls outlast stopping PostgreSQL (a fast shutdown).
	c.createNode(t, `{"name": "inflight", "driver": "fake", "driver_info": {"fake_delay": "3s"}}`)
	c.createNode(t, `{"name": "held", "driver": "fake", "driver_info": {"fake_delay": "3s"}}`)
	c.createNode(t, `{"name": "other", "driver": "fake"}`)

	// Accepted before the outage: an asynchronous power change, and a
	// synchronous boot device change whose client waits with the lock held.
	c.must(t, http.StatusAccepted, "PUT", "/v1/nodes/inflight/states/power", `{"target": "power on"}`)
	var wg sync.WaitGroup
	wg.Add(1)
	bootStatus := 0
	go func() {
		defer wg.Done()
		bootStatus, _, _ = c.do("PUT", "/v1/nodes/held/management/boot_device", `{"boot_device": "pxe"}`)
	}()
	c.waitNode(t, "held", "locked", func(n map[string]any) bool { return !unlocked(n) })

	if err := cluster.Pause(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/v1/nodes", ""},
		{"GET", "/v1/nodes/other", ""},
		{"PUT", "/v1/nodes/other/states/power", `{"target": "power on"}`},
		{"POST", "/v1/nodes", `{"driver": "fake"}`},
		{"PATCH", "/v1/nodes/other", `[{"op": "add", "path": "/extra/a", "value": "b"}]`},
	} {
		status, body, err := c.do(r.method, r.path, r.body)
		if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(body, "The database is unavailable, retry later") {
			t.Errorf("%s %s with the database down: %d %s (%v), want 503 saying the database is unavailable", r.method, r.path, status, body, err)
		}
	}
	_, body503, _ := c.do("GET", "/v1/nodes/other", "")
	t.Logf("503 body: %s", body503)
	if status, body, _ := c.do("GET", "/readyz", ""); status != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready") {
		t.Errorf("/readyz with the database down: %d %s", status, body)
	}
	if status, _, _ := c.do("GET", "/healthz", ""); status != http.StatusOK {
		t.Errorf("/healthz with the database down: %d", status)
	}
	// The power change's BMC call ends during the outage; its worker keeps
	// trying to record the outcome.
	a.waitLog(t, "database unavailable, retrying to record the outcome")

	if err := cluster.Resume(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if status, _, _ := c.do("GET", "/readyz", ""); status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent did not become ready again")
		}
	}
	wg.Wait()
	if bootStatus != http.StatusNoContent {
		t.Errorf("boot device change across the outage: %d", bootStatus)
	}
	n := c.waitNode(t, "inflight", "unlocked", unlocked)
	if str(n, "power_state") != "power on" || n["target_power_state"] != nil || n["last_error"] != nil {
		t.Errorf("power change accepted before the outage: %v", n)
	}
	c.waitNode(t, "held", "unlocked", unlocked)
	c.must(t, http.StatusAccepted, "PUT", "/v1/nodes/other/states/power", `{"target": "power on"}`)
	c.waitNode(t, "other", "powered on", func(n map[string]any) bool { return str(n, "power_state") == "power on" && unlocked(n) })
	var all struct{ Nodes []map[string]any }
	decode(t, c.must(t, http.StatusOK, "GET", "/v1/nodes?fields=name,reservation,target_power_state,target_provision_state", ""), &all)
	for _, n := range all.Nodes {
		if !unlocked(n) || n["target_power_state"] != nil || n["target_provision_state"] != nil {
			t.Errorf("after the outage: %v", n)
		}
	}
	if len(all.Nodes) != 3 {
		t.Errorf("%d nodes, want 3 (a create refused during the outage must not exist)", len(all.Nodes))
	}

	a.signal(t, syscall.SIGTERM)
	if code := a.wait(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
	for what, text := range map[string]string{"log": a.stderr.String(), "output": a.stdout.String(), "responses": c.seen.String()} {
		if strings.Contains(text, dbPassword) {
			t.Errorf("the database password is in the agent's %s", what)
		}
	}
	if !strings.Contains(a.stderr.String(), "connection refused") {
		t.Errorf("the log does not show the outage:\n%s", a.stderr.String())
	}
}
