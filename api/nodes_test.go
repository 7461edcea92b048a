package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/store"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
)

// Secrets are shown as ****** everywhere, and a client that sends the
// placeholder back (GET, edit, PATCH the whole driver_info) keeps the
// secret it cannot see.
func TestSecretsRedactedAndKept(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := createNode(t, e, `{"name": "s1", "driver": "fake", "driver_info": {"fake_address": "a", "ipmi_password": "pw1", "redfish_password": "pw2", "ca_key_file": "/etc/ca"}}`)
	for _, url := range []string{"/v1/nodes/" + id, "/v1/nodes/detail", "/v1/nodes?detail=true", "/v1/nodes?fields=driver_info"} {
		_, body := call(t, "GET", e.URL+url, "1.89", "")
		if strings.Contains(string(body), "pw1") || strings.Contains(string(body), "pw2") || !strings.Contains(string(body), "******") {
			t.Fatalf("GET %s shows %s", url, body)
		}
	}
	c := e.client(t, "1.89")
	n, err := nodes.Get(context.Background(), c, id).Extract()
	if err != nil {
		t.Fatal(err)
	}
	info := n.DriverInfo
	info["note"] = "b" // not the address: that drops the secrets (TestAddressChangeDropsSecrets)
	info["fake_token"] = "new-token"
	upd, err := nodes.Update(context.Background(), c, id, nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.ReplaceOp, Path: "/driver_info", Value: info},
		nodes.UpdateOperation{Op: nodes.ReplaceOp, Path: "/driver_info/redfish_password", Value: "pw3"},
	}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if upd.DriverInfo["ipmi_password"] != "******" || upd.DriverInfo["fake_token"] != "******" || upd.DriverInfo["ca_key_file"] != "/etc/ca" {
		t.Fatalf("after the patch: %v", upd.DriverInfo)
	}
	stored, _ := e.db.Node(context.Background(), id)
	want := map[string]any{"fake_address": "a", "note": "b", "ipmi_password": "pw1", "redfish_password": "pw3", "fake_token": "new-token", "ca_key_file": "/etc/ca"}
	for k, v := range want {
		if stored.DriverInfo[k] != v {
			t.Errorf("stored driver_info[%s] = %v, want %v", k, stored.DriverInfo[k], v)
		}
	}
}

// JSON Patch: add, replace and remove on nested paths and fields; a
// removed field returns to its unset value; maintenance by PATCH.
func TestPatchNode(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := createNode(t, e, `{"name": "p1", "driver": "fake", "extra": {"rack": "r1", "row": 2}, "description": "old", "resource_class": "gold"}`)
	resp, body := call(t, "PATCH", e.URL+"/v1/nodes/p1", "1.89", `[
		{"op": "add", "path": "/extra/slot", "value": 7},
		{"op": "remove", "path": "/extra/row"},
		{"op": "replace", "path": "/name", "value": "p2"},
		{"op": "remove", "path": "/description"},
		{"op": "add", "path": "/properties/cpus", "value": 64},
		{"op": "replace", "path": "/maintenance", "value": "true"},
		{"op": "add", "path": "/maintenance_reason", "value": "fan"},
		{"op": "replace", "path": "/power_interface", "value": "fake"}
	]`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patch: %d %s", resp.StatusCode, body)
	}
	var n map[string]any
	json.Unmarshal(body, &n)
	extra, _ := n["extra"].(map[string]any)
	if n["name"] != "p2" || n["description"] != nil || n["resource_class"] != "gold" || extra["slot"] != 7.0 || extra["rack"] != "r1" ||
		extra["row"] != nil || n["maintenance"] != true || n["maintenance_reason"] != "fan" || n["uuid"] != id {
		t.Fatalf("patched node: %s", body)
	}
	// A client of an older version does not wipe the fields it cannot see.
	if resp, body := call(t, "PATCH", e.URL+"/v1/nodes/"+id, "1.1", `[{"op": "add", "path": "/extra/old", "value": true}]`); resp.StatusCode != http.StatusOK {
		t.Fatalf("patch at 1.1: %d %s", resp.StatusCode, body)
	}
	stored, _ := e.db.Node(context.Background(), id)
	if stored.Name != "p2" || stored.ResourceClass != "gold" || stored.Extra["old"] != true || !stored.Maintenance || stored.Properties["cpus"] != 64.0 || stored.Reservation != "" {
		t.Fatalf("stored: %+v", stored)
	}
}

// A request without a version is served as 1.1, as Ironic serves it: fields
// of later versions are hidden and a new node starts in available.
func TestMicroversions(t *testing.T) {
	e := newEnv(t, envOptions{})
	resp, body := call(t, "POST", e.URL+"/v1/nodes", "", `{"driver": "fake"}`)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-OpenStack-Ironic-API-Version") != "1.1" {
		t.Fatalf("create without a version: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	var old map[string]any
	json.Unmarshal(body, &old)
	if old["provision_state"] != "available" {
		t.Errorf("a 1.1 client's node starts in %v", old["provision_state"])
	}
	for _, f := range []string{"name", "conductor_group", "boot_mode", "traits", "power_interface"} {
		if _, ok := old[f]; ok {
			t.Errorf("field %s shown at 1.1", f)
		}
	}
	resp, body = call(t, "GET", e.URL+"/v1/nodes/"+old["uuid"].(string), "latest", "")
	if resp.Header.Get("X-OpenStack-Ironic-API-Version") != "1.89" || resp.Header.Get("OpenStack-API-Version") != "baremetal 1.89" {
		t.Fatalf("latest: %v", resp.Header)
	}
	var cur map[string]any
	json.Unmarshal(body, &cur)
	for _, f := range []string{"name", "conductor_group", "boot_mode", "traits", "power_interface", "firmware_interface", "service_step"} {
		if _, ok := cur[f]; !ok {
			t.Errorf("field %s missing at 1.89", f)
		}
	}
	req, _ := http.NewRequest("GET", e.URL+"/v1", nil)
	req.Header.Set("OpenStack-API-Version", "baremetal 1.49")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.Header.Get("X-OpenStack-Ironic-API-Version") != "1.49" {
		t.Errorf("the standard header was not honoured: %v", r2.Header)
	}
	// The root document advertises the range.
	_, body = call(t, "GET", e.URL+"/", "", "")
	var root struct {
		DefaultVersion struct {
			Version    string `json:"version"`
			MinVersion string `json:"min_version"`
		} `json:"default_version"`
	}
	if err := json.Unmarshal(body, &root); err != nil || root.DefaultVersion.Version != "1.89" || root.DefaultVersion.MinVersion != "1.1" {
		t.Fatalf("GET /: %s", body)
	}
}

// Listings page with limit and marker, link to the next page, honour
// fields and filters; gophercloud's pager follows the pages.
func TestListNodes(t *testing.T) {
	e := newEnv(t, envOptions{})
	for i := 0; i < 5; i++ {
		createNode(t, e, `{"driver": "fake", "name": "l`+string(rune('a'+i))+`", "conductor_group": "G1"}`)
	}
	resp, body := call(t, "GET", e.URL+"/v1/nodes?limit=2&fields=uuid,name&sort_key=name&sort_dir=desc", "1.89", "")
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	var page struct {
		Nodes []map[string]any `json:"nodes"`
		Next  string           `json:"next"`
	}
	json.Unmarshal(body, &page)
	if len(page.Nodes) != 2 || page.Nodes[0]["name"] != "le" || len(page.Nodes[0]) != 3 || page.Nodes[0]["links"] == nil || !strings.Contains(page.Next, "marker=") {
		t.Fatalf("first page: %s", body)
	}
	var names []string
	for url := page.Next; url != ""; {
		_, body = call(t, "GET", url, "1.89", "")
		page.Next = ""
		page.Nodes = nil
		json.Unmarshal(body, &page)
		for _, n := range page.Nodes {
			names = append(names, n["name"].(string))
		}
		url = page.Next
	}
	if strings.Join(names, ",") != "lc,lb,la" {
		t.Fatalf("following pages: %v", names)
	}
	pages, err := nodes.List(e.client(t, "1.89"), nodes.ListOpts{Limit: 2, ConductorGroup: "g1"}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all, _ := nodes.ExtractNodes(pages)
	if len(all) != 5 {
		t.Fatalf("gophercloud's pager saw %d nodes", len(all))
	}
	_, body = call(t, "GET", e.URL+"/v1/nodes?provision_state=active", "1.89", "")
	if !strings.Contains(string(body), `"nodes":[]`) {
		t.Fatalf("filter by provision_state: %s", body)
	}
}

// A node whose driver this agent does not offer (an agent of another
// build enrolled it) can still be shown, repaired and deleted; actions that
// need the driver say which one is missing.
func TestNodeOfUnknownDriver(t *testing.T) {
	e := newEnv(t, envOptions{})
	n := &store.Node{Name: "orphan", Driver: "gone", ProvisionState: "enroll"}
	if err := e.db.CreateNode(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	resp, body := call(t, "PUT", e.URL+"/v1/nodes/orphan/states/power", "1.89", `{"target": "power on"}`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(faultString(t, body), `"gone"`) {
		t.Fatalf("power on: %d %s", resp.StatusCode, body)
	}
	if resp, body := call(t, "PUT", e.URL+"/v1/nodes/orphan/maintenance", "1.89", `{"reason": "driver gone"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("maintenance: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, "PATCH", e.URL+"/v1/nodes/orphan", "1.89", `[{"op": "replace", "path": "/driver", "value": "fake"}]`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("repair: %d %s", resp.StatusCode, body)
	}
	if err := e.db.UpdateNode(context.Background(), func() *store.Node { x, _ := e.db.Node(context.Background(), n.UUID); x.Driver = "gone"; return x }()); err != nil {
		t.Fatal(err)
	}
	if resp, body := call(t, "DELETE", e.URL+"/v1/nodes/orphan", "1.89", ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
}

// A port patched by an old client keeps the fields newer than its version.
func TestPatchPortKeepsNewerFields(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := createNode(t, e, `{"driver": "fake"}`)
	resp, body := call(t, "POST", e.URL+"/v1/ports", "1.89",
		`{"node_uuid": "`+id+`", "address": "52:54:00:00:00:07", "pxe_enabled": false, "physical_network": "physnet1", "local_link_connection": {"switch_id": "aa:bb:cc:dd:ee:ff", "port_id": "Eth1/7"}}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create port: %d %s", resp.StatusCode, body)
	}
	if resp, body := call(t, "PATCH", e.URL+"/v1/ports/52:54:00:00:00:07", "1.18", `[{"op": "add", "path": "/extra/rack", "value": "r9"}]`); resp.StatusCode != http.StatusOK {
		t.Fatalf("patch at 1.18: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, "PATCH", e.URL+"/v1/ports/52:54:00:00:00:07", "1.18", `[{"op": "replace", "path": "/pxe_enabled", "value": true}]`); resp.StatusCode != http.StatusNotAcceptable {
		t.Fatalf("patch of a newer field at 1.18: %d", resp.StatusCode)
	}
	p, err := e.db.Port(context.Background(), "52:54:00:00:00:07")
	if err != nil || p.PXEEnabled || p.PhysicalNetwork != "physnet1" || p.LocalLinkConnection["port_id"] != "Eth1/7" || p.Extra["rack"] != "r9" {
		t.Fatalf("port after the old client's patch: %+v, %v", p, err)
	}
}
