package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNodeTelemetryCLI: `serve --telemetry-interval` reads a fake node's
// telemetry; `node telemetry` shows it as a table and as JSON, and
// /metrics serves it.
func TestNodeTelemetryCLI(t *testing.T) {
	base, _ := startServe(t, "--listen", "127.0.0.1:0", "--database", filepath.Join(t.TempDir(), "tel.db"),
		"--agent-id", "tel-agent", "--telemetry-interval", "100ms")
	mustCLI(t, base, "create", "--driver", "fake", "--name", "t1", "--driver-info", "fake_sensors=8")
	mustCLI(t, base, "manage", "t1", "--wait") // a node in enroll is not read
	if _, err := cli(t, base, "telemetry", "no-such-node"); err == nil || !strings.Contains(err.Error(), "could not be found") {
		t.Fatalf("telemetry of an unknown node: %v", err)
	}
	// Wait for a cycle that saw the node (a bound on a hang, not timing).
	var doc map[string]any
	for deadline := time.Now().Add(time.Minute); ; {
		if err := json.Unmarshal([]byte(mustCLI(t, base, "telemetry", "t1", "-o", "json")), &doc); err != nil {
			t.Fatal(err)
		}
		if doc["readings"] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no readings: %v", doc)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if doc["bmc"].(map[string]any)["state"] != "up" || len(doc["readings"].(map[string]any)["sensors"].([]any)) != 8 {
		t.Fatalf("telemetry -o json: %v", doc)
	}
	out := mustCLI(t, base, "telemetry", "t1")
	for _, want := range []string{"KIND", "bmc", "state", "up", "CPU1 Temp", "°C", "Fan1", "%", "power_supply", "PSU1", "consumption"} {
		if !strings.Contains(out, want) {
			t.Fatalf("telemetry table lacks %q:\n%s", want, out)
		}
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`bmc_up{node_name="t1"`, `bmc_temperature_celsius{node_name="t1"`, "bmc_sensors_dropped_total 0"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
}
