package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// serve runs the power-state sync with its flags and exports its metrics:
// a node with no recorded power state gets the fake BMC's, and /metrics shows
// the cycles and the driver calls.
func TestServeSyncAndMetrics(t *testing.T) {
	dbfile := filepath.Join(t.TempDir(), "agent.db")
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dbfile, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := &store.Node{Name: "n1", Driver: fake.Name, DriverInfo: store.JSON{}, ProvisionState: taskmanager.StateAvailable}
	if err := db.CreateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	base, stop := startServe(t, "--listen", "127.0.0.1:0", "--database", dbfile, "--agent-id", "sync-agent",
		"--db-max-conns", "4", "--sync-interval", "20ms", "--sync-workers", "2", "--sync-max-failures", "2", "--heartbeat-interval", "50ms", "--heartbeat-timeout", "1m") // alive by any margin: a loaded machine must not make it miss its own heartbeat

	deadline := time.Now().Add(time.Minute)
	for {
		got, err := db.Node(ctx, n.UUID)
		if err != nil {
			t.Fatal(err)
		}
		if got.PowerState == "power off" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sync never recorded the power state: %+v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The node's row is written inside the cycle; the cycle's metrics when
	// it ends. Wait for that cause, not for the time it takes.
	var body []byte
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /metrics: %d", resp.StatusCode)
		}
		if strings.Contains(string(body), `bmc_agent_power_sync_nodes_total{outcome="changed"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sync cycle ended within a minute:\n%s", body)
		}
	}
	for _, want := range []string{
		`bmc_agent_driver_call_duration_seconds_count{driver="fake",interface="power",method="PowerState",result="ok"}`,
		`bmc_agent_power_sync_nodes_total{outcome="changed"} 1`,
		`bmc_agent_power_sync_agents 1`,
		`bmc_agent_nodes{maintenance="false",power_state="power off",provision_state="available"} 1`,
		`bmc_agent_workers 100`,
		`bmc_agent_locks_held 0`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	db.Close()
}
