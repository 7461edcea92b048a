package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
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
		// The power sync an hour away: only an event can show the
		// change made on the simulator below.
		base, stop := startServe(t, "--listen", "127.0.0.1:0", "--database", dbfile, "--agent-id", "demo-agent", "--demo",
			"--sync-interval", "1h")

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

		demoTelemetryAndEvents(t, base, round)

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

// demoTelemetryAndEvents: the demo shows the telemetry and the events with
// their defaults. Every node's telemetry is read before the agent answers
// (a first read at start, not a spread cycle's minutes later), so
// `node telemetry` and /metrics show it at once; the agent subscribes to
// the demo simulator's events, and a power change made on the simulator
// (demo-3: the test powers demo-1 through the API) reaches the node's
// power_state with the power sync an hour away.
func demoTelemetryAndEvents(t *testing.T, base string, round int) {
	t.Helper()
	out, err := cli(t, base, "telemetry", "demo-2")
	if err != nil || !strings.Contains(out, "up") || !strings.Contains(out, "consumption") {
		t.Fatalf("round %d: node telemetry demo-2: %v\n%s", round, err, out)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"demo-1", "demo-2", "demo-3"} {
		if !strings.Contains(string(scrape), `bmc_up{node_name="`+name+`"`) ||
			!strings.Contains(string(scrape), `bmc_power_consumption_watts{node_name="`+name+`"`) {
			t.Fatalf("round %d: /metrics lacks %s's telemetry", round, name)
		}
	}

	var n struct {
		UUID       string         `json:"uuid"`
		PowerState string         `json:"power_state"`
		DriverInfo map[string]any `json:"driver_info"`
	}
	getJSON(t, base+"/v1/nodes/demo-3", &n)
	sim, _ := n.DriverInfo["redfish_address"].(string)
	system, _ := n.DriverInfo["redfish_system_id"].(string)
	// The reconciler's first pass subscribes the demo nodes after start.
	waitFor(t, "no event subscription for demo-3 on the demo simulator", func() []string {
		var coll struct {
			Members []struct {
				ID string `json:"@odata.id"`
			}
		}
		var dests []string
		bmcGet(t, sim+"/redfish/v1/EventService/Subscriptions", &coll)
		for _, m := range coll.Members {
			var s struct{ Destination string }
			bmcGet(t, sim+m.ID, &s)
			dests = append(dests, s.Destination)
		}
		return dests
	}, func(dests []string) bool {
		return slices.ContainsFunc(dests, func(d string) bool { return strings.HasSuffix(d, "/events/"+n.UUID) })
	})

	to, want := "On", "power on"
	if n.PowerState == "power on" {
		to, want = "Off", "power off"
	}
	req, _ := http.NewRequest(http.MethodPatch, sim+"/sim/systems/"+system, strings.NewReader(`{"PowerState": "`+to+`"}`))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("power %s on the simulator: %d", to, resp.StatusCode)
	}
	waitFor(t, "demo-3 never showed the power change made on the simulator", func() string {
		getJSON(t, base+"/v1/nodes/demo-3", &n)
		return n.PowerState
	}, func(s string) bool { return s == want })
}

// bmcGet reads a Redfish resource of the demo simulator (its demo
// credentials).
func bmcGet(t *testing.T, url string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.SetBasicAuth("admin", "password")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
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
