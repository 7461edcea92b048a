package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/store"
)

// readNode reads a node over raw HTTP.
func readNode(t *testing.T, e *env, ident string) map[string]any {
	t.Helper()
	resp, b := call(t, "GET", e.URL+"/v1/nodes/"+ident, "1.89", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET node %s: %d %s", ident, resp.StatusCode, b)
	}
	var n map[string]any
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitIdle polls a node until no operation runs on it and returns it.
func waitIdle(t *testing.T, e *env, ident string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		n := readNode(t, e, ident)
		if n["target_power_state"] == nil && n["reservation"] == nil {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s still busy: %v", ident, n)
		}
	}
}

// A BMC password in a URL (an address like https://admin:pw@bmc) is a
// password all the same: refused at create and update, naming the field,
// and never shown for a node stored with one before.
func TestPasswordInURLRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	const pw = "in-url-pw-8812"
	resp, b := call(t, "POST", e.URL+"/v1/nodes", "1.89",
		`{"driver": "fake", "driver_info": {"redfish_address": "https://admin:`+pw+`@bmc.example"}}`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(faultString(t, b), "driver_info/redfish_address") || strings.Contains(string(b), pw) {
		t.Errorf("create with a password in an address: %d %s", resp.StatusCode, b)
	}
	id := createNode(t, e, `{"driver": "fake"}`)
	resp, b = call(t, "PATCH", e.URL+"/v1/nodes/"+id, "1.89",
		`[{"op": "add", "path": "/driver_info/ipmi_address", "value": "ipmi://admin:`+pw+`@bmc.example"}]`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(faultString(t, b), "driver_info/ipmi_address") || strings.Contains(string(b), pw) {
		t.Errorf("update with a password in an address: %d %s", resp.StatusCode, b)
	}
	old := &store.Node{Name: "old", Driver: "fake", ProvisionState: "enroll",
		DriverInfo: store.JSON{"redfish_address": "https://admin:" + pw + "@bmc.example/redfish/v1"}}
	if err := e.db.CreateNode(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/nodes/old", "/v1/nodes/detail"} {
		_, b := call(t, "GET", e.URL+path, "1.89", "")
		if strings.Contains(string(b), pw) || !strings.Contains(string(b), "https://admin:******@bmc.example/redfish/v1") {
			t.Errorf("GET %s shows %s", path, b)
		}
	}
}
