package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/store"
)

// An agent of group "" refuses every request that acts on a node of group
// "b" through its driver, with Ironic's NoValidHost message naming the
// driver and the group, before any lock or BMC call; it still edits the
// node (a database-only change), and once the node is moved into its group
// it acts on it.
func TestGroupRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.db.Heartbeat(context.Background(), store.Agent{ID: "agent-b1", Hostname: "hb", Group: "b"}); err != nil {
		t.Fatal(err)
	}
	id := createNode(t, e, `{"name": "nb", "driver": "fake", "conductor_group": "B", "instance_info": {"boot_iso": "http://127.0.0.1:9/x.iso"}}`)
	for _, r := range []struct{ method, path, body string }{
		{"PUT", "/states/power", `{"target": "power on"}`},
		{"PUT", "/states/provision", `{"target": "manage"}`},
		{"PUT", "/states/boot_mode", `{"target": "uefi"}`},
		{"PUT", "/states/secure_boot", `{"target": true}`},
		{"GET", "/management/boot_device", ""},
		{"PUT", "/management/boot_device", `{"boot_device": "pxe"}`},
		{"GET", "/management/boot_device/supported", ""},
		{"PUT", "/management/inject_nmi", `{}`},
		{"POST", "/vmedia", `{"device_type": "CDROM", "image_url": "http://127.0.0.1:9/x.iso"}`},
		{"DELETE", "/vmedia", ""},
		{"GET", "/validate", ""},
		{"GET", "/firmware", ""},
	} {
		resp, b := call(t, r.method, e.URL+"/v1/nodes/nb"+r.path, "1.89", r.body)
		if resp.StatusCode != http.StatusBadRequest ||
			!strings.Contains(string(b), `No valid host was found. Reason: No conductor service registered which supports driver fake for conductor group \\\"b\\\"`) ||
			!strings.Contains(string(b), "agent-b1") {
			t.Errorf("%s %s on a node of another group: %d %s", r.method, r.path, resp.StatusCode, b)
		}
	}
	_, b := call(t, "PUT", e.URL+"/v1/nodes/nb/states/power", "1.89", `{"target": "power on"}`)
	t.Logf("refusal: %s", b)
	if n := e.fake.Calls(id); n != 0 {
		t.Errorf("the driver was called %d times for a node of another group", n)
	}
	n, _ := e.db.Node(context.Background(), id)
	if n.Reservation != "" || n.TargetPowerState != "" || n.LastError != "" || n.ProvisionState != "enroll" {
		t.Errorf("node after the refusals: %+v", n)
	}

	// A database-only edit is accepted: move the node into this group.
	resp, b := call(t, "PATCH", e.URL+"/v1/nodes/nb", "1.89", `[{"op": "replace", "path": "/conductor_group", "value": ""}]`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH conductor_group: %d %s", resp.StatusCode, b)
	}
	resp, b = call(t, "PUT", e.URL+"/v1/nodes/nb/management/boot_device", "1.89", `{"boot_device": "pxe"}`)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("boot device once in the agent's group: %d %s", resp.StatusCode, b)
	}
	resp, b = call(t, "GET", e.URL+"/v1/nodes/nb/management/boot_device", "1.89", "")
	var dev map[string]any
	json.Unmarshal(b, &dev)
	if resp.StatusCode != http.StatusOK || dev["boot_device"] != "pxe" {
		t.Fatalf("boot device read back: %d %s", resp.StatusCode, b)
	}
}
