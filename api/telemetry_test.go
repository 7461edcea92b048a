package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/metrics"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
	"github.com/bmc-agent/bmc-agent/telemetry"
)

// GET /v1/nodes/{node}/telemetry: 404 for an unknown node, a message before
// the first read, then the cached readings with their age and the BMC's
// state, at any microversion; a failed read keeps them with state "down".
// A Critical rollup shows in the node's fault as "health failure".
func TestNodeTelemetry(t *testing.T) {
	e := newEnv(t, envOptions{telemetry: true})
	ctx := context.Background()
	n := &store.Node{Name: "tel-1", Driver: fake.Name, DriverInfo: store.JSON{}, ProvisionState: taskmanager.StateAvailable}
	if err := e.db.CreateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	want4xx(t, "GET", e.URL+"/v1/nodes/no-such-node/telemetry", "1.89", "", http.StatusNotFound, "could not be found")
	// Bad input is the client's mistake, never a 5xx.
	for _, c := range []struct{ method, path, version string }{
		{"GET", "/v1/nodes/%ff%00/telemetry", "1.89"},
		{"GET", "/v1/nodes/" + strings.Repeat("x", 5000) + "/telemetry", "1.89"},
		{"GET", "/v1/nodes/tel-1/telemetry?fields=x", "1.89"},
		{"GET", "/v1/nodes/tel-1/telemetry", "1.999"},
		{"GET", "/v1/nodes/tel-1/telemetry", "one.two"},
		{"GET", "/v1/nodes/tel-1/telemetry", "1.-1"},
		{"POST", "/v1/nodes/tel-1/telemetry", "1.89"},
		{"DELETE", "/v1/nodes/tel-1/telemetry", ""},
	} {
		resp, b := call(t, c.method, e.URL+c.path, c.version, "")
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("%s %.60s at %q: %d %s, want a 4xx", c.method, c.path, c.version, resp.StatusCode, b)
		}
	}

	doc := getJSON(t, e.URL+"/v1/nodes/tel-1/telemetry", "")
	if doc["readings"] != nil || !strings.Contains(doc["message"].(string), "No telemetry read") ||
		doc["bmc"].(map[string]any)["state"] != "unknown" || doc["telemetry_version"] != 1.0 {
		t.Fatalf("before any read: %v", doc)
	}

	e.fake.SetHealth(n.UUID, drivers.HealthCritical)
	if _, err := e.telemetry.Cycle(ctx, 0); err != nil {
		t.Fatal(err)
	}
	doc = getJSON(t, e.URL+"/v1/nodes/"+n.UUID+"/telemetry", "1.89")
	bmc := doc["bmc"].(map[string]any)
	readings, _ := doc["readings"].(map[string]any)
	if bmc["state"] != "up" || bmc["age"] == nil || bmc["last_success_at"] == nil || readings == nil ||
		readings["health"] != "Critical" || len(readings["sensors"].([]any)) != fake.DefaultSensors || doc["message"] != nil {
		t.Fatalf("after a read: %v", doc)
	}
	node := getJSON(t, e.URL+"/v1/nodes/"+n.UUID, "1.89")
	if node["fault"] != telemetry.FaultHealthFailure || node["maintenance"] != true {
		t.Fatalf("a Critical rollup: fault %v maintenance %v", node["fault"], node["maintenance"])
	}

	e.fake.Inject(n.UUID, fake.Fault{Err: drivers.ErrBMCUnreachable})
	if err := e.telemetry.Refresh(ctx, n.UUID); err == nil {
		t.Fatal("refresh of an unreachable BMC succeeded")
	}
	doc = getJSON(t, e.URL+"/v1/nodes/tel-1/telemetry", "1.1")
	bmc = doc["bmc"].(map[string]any)
	if bmc["state"] != "down" || bmc["error_kind"] != "unreachable" || doc["readings"] == nil {
		t.Fatalf("after a failed read: %v", doc)
	}
}

// An agent without a collector says so.
func TestNodeTelemetryDisabled(t *testing.T) {
	e := newEnv(t, envOptions{})
	n := &store.Node{Name: "tel-2", Driver: fake.Name, DriverInfo: store.JSON{}, ProvisionState: taskmanager.StateAvailable}
	if err := e.db.CreateNode(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	doc := getJSON(t, e.URL+"/v1/nodes/tel-2/telemetry", "1.89")
	if !strings.Contains(doc["message"].(string), "collects no telemetry") {
		t.Fatalf("%v", doc)
	}
}

// The BMC password is nowhere in what telemetry shows: not in the node's
// telemetry document or the /metrics series of a node read well, nor of
// one whose BMC refuses the password (its error is shown), nor in the
// agent's log. The Redfish driver against the simulator.
func TestNodeTelemetryNoPassword(t *testing.T) {
	sim := startBMCSim(t, 2)
	e := newEnv(t, envOptions{telemetry: true, drivers: []drivers.Driver{redfish.New(redfish.Options{})}})
	ctx := context.Background()
	const wrong = "wrong-pw-9d1c"
	var ids []string
	for i, pw := range []string{bmcPassword, wrong} {
		id := sim.SystemIDs()[i]
		n := &store.Node{Name: fmt.Sprintf("rf-tel-%d", i), Driver: redfish.Name, ProvisionState: taskmanager.StateAvailable, DriverInfo: store.JSON{
			redfish.InfoAddress: sim.Endpoint(id), redfish.InfoSystemID: id, redfish.InfoUsername: "admin", redfish.InfoPassword: pw}}
		if err := e.db.CreateNode(ctx, n); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.UUID)
	}
	res, err := e.telemetry.Cycle(ctx, 0)
	if err != nil || res.Read != 1 || res.Failed != 1 {
		t.Fatalf("cycle: %+v %v, want one read and one refused", res, err)
	}
	var shown strings.Builder
	for _, id := range ids {
		resp, b := call(t, "GET", e.URL+"/v1/nodes/"+id+"/telemetry", "1.89", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET telemetry: %d %s", resp.StatusCode, b)
		}
		shown.Write(b)
	}
	if !strings.Contains(shown.String(), `"error_kind":"auth"`) || !strings.Contains(shown.String(), `"state":"up"`) {
		t.Fatalf("telemetry documents: %s", shown.String())
	}
	if err := metrics.NewTelemetry(e.telemetry.Cache()).WriteText(&shown); err != nil {
		t.Fatal(err)
	}
	shown.WriteString(e.logs.String())
	for _, pw := range []string{bmcPassword, wrong} {
		if strings.Contains(shown.String(), pw) {
			t.Fatalf("a BMC password (%s) is shown:\n%s", pw, shown.String())
		}
	}
}
