package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
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

// What a BMC names its sensors and reports as its vendor reaches the
// operator's terminal through `node telemetry`: control characters are
// shown escaped, so an escape sequence drives nothing and a newline or tab
// breaks no row.
func TestTelemetryTableEscapesControls(t *testing.T) {
	var doc telemetryDoc
	doc.BMC.State = "up"
	doc.Readings = &drivers.Telemetry{Vendor: "Evil\x1b]0;owned\x07", Sensors: []drivers.Sensor{
		{Kind: drivers.SensorTemperature, Name: "CPU\x1b[2J Temp", Context: "a\tb\nc", Reading: 40},
	}}
	var out strings.Builder
	if err := (printer{w: &out}).table([]string{"KIND", "NAME", "CONTEXT", "READING", "HEALTH"}, telemetryRows(doc)); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.ContainsAny(s, "\x1b\x07\t") || strings.Count(s, "\n") != 5 {
		t.Fatalf("control characters printed raw:\n%q", s)
	}
	for _, want := range []string{`Evil\x1b]0;owned\a`, `CPU\x1b[2J Temp`, `a\tb\nc`} {
		if !strings.Contains(s, want) {
			t.Fatalf("table lacks %s:\n%s", want, s)
		}
	}
}
