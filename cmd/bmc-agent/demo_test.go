package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The first run: serve --demo starts a simulator, enrolls its systems, and a
// newcomer's next commands (the CLI's node list and node power on) work on
// them. A second start on the same database keeps the same three nodes,
// pointed at the new simulator.
func TestServeDemo(t *testing.T) {
	dbfile := filepath.Join(t.TempDir(), "demo.db")
	for round := 0; round < 2; round++ {
		base, stop := startServe(t, "--listen", "127.0.0.1:0", "--database", dbfile, "--agent-id", "demo-agent", "--demo")

		var out strings.Builder
		if err := run(context.Background(), []string{"node", "list", "--url", base}, &out, io.Discard); err != nil {
			t.Fatalf("node list: %v", err)
		}
		for _, name := range []string{"demo-1", "demo-2", "demo-3"} {
			if !strings.Contains(out.String(), name) {
				t.Fatalf("node list lacks %s:\n%s", name, out.String())
			}
		}
		var nodes struct {
			Nodes []struct {
				Name           string         `json:"name"`
				Driver         string         `json:"driver"`
				DriverInfo     map[string]any `json:"driver_info"`
				PowerState     *string        `json:"power_state"`
				ProvisionState string         `json:"provision_state"`
			} `json:"nodes"`
		}
		getJSON(t, base+"/v1/nodes?detail=true", &nodes)
		if len(nodes.Nodes) != 3 {
			t.Fatalf("round %d: %d nodes", round, len(nodes.Nodes))
		}
		for _, n := range nodes.Nodes {
			if n.Driver != "redfish" || n.DriverInfo["redfish_password"] != "******" {
				t.Fatalf("demo node %+v", n)
			}
			// Ready to use, with its power state read before the first
			// request rather than a sync interval later.
			if n.ProvisionState != "available" || n.PowerState == nil || *n.PowerState == "" {
				t.Fatalf("demo node %s: provision state %q, power state %v", n.Name, n.ProvisionState, n.PowerState)
			}
		}

		target := "on"
		want := "power on"
		if round == 1 {
			target, want = "off", "power off"
		}
		out.Reset()
		if err := run(context.Background(), []string{"node", "power", target, "demo-1", "--wait", "--url", base}, &out, io.Discard); err != nil {
			t.Fatalf("round %d: node power %s demo-1: %v\n%s", round, target, err, out.String())
		}
		var n struct {
			PowerState string `json:"power_state"`
			LastError  string `json:"last_error"`
		}
		getJSON(t, base+"/v1/nodes/demo-1", &n)
		if n.PowerState != want || n.LastError != "" {
			t.Fatalf("round %d: demo-1 is %q (last_error %q)", round, n.PowerState, n.LastError)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-OpenStack-Ironic-API-Version", "latest")
	c := &http.Client{Timeout: 30 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
