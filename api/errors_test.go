package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/store"
)

// call sends a raw request; version "" sends no version header.
func call(t *testing.T, method, url, version, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if version != "" {
		req.Header.Set("X-OpenStack-Ironic-API-Version", version)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// createNode creates a node over raw HTTP and returns its UUID.
func createNode(t *testing.T, e *env, body string) string {
	t.Helper()
	resp, b := call(t, "POST", e.URL+"/v1/nodes", "1.89", body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create node %s: %d %s", body, resp.StatusCode, b)
	}
	var n struct{ UUID string }
	json.Unmarshal(b, &n)
	return n.UUID
}

// Every client mistake gets its 4xx in Ironic's shape, naming what was
// wrong, with the version headers, and never a 5xx or a log line of one.
func TestClientErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := createNode(t, e, `{"name": "n1", "driver": "fake", "driver_info": {"fake_password": "hunter2"}}`)
	nodeURL := e.URL + "/v1/nodes/" + id
	big := `{"driver": "fake", "extra": {"blob": "` + strings.Repeat("x", 2<<20) + `"}}`

	for _, tc := range []struct {
		name, method, url, version, body string
		status                           int
		want                             string // in the faultstring
	}{
		{"malformed JSON", "POST", "/v1/nodes", "1.89", `{"driver": "fake",`, 400, "Malformed JSON"},
		{"not an object", "POST", "/v1/nodes", "1.89", `["driver"]`, 400, "must be a JSON object"},
		{"empty body", "POST", "/v1/nodes", "1.89", ``, 400, "empty"},
		{"wrong type", "POST", "/v1/nodes", "1.89", `{"driver": "fake", "name": 12}`, 400, `"name"`},
		{"wrong type of object", "POST", "/v1/nodes", "1.89", `{"driver": "fake", "driver_info": "x"}`, 400, `"driver_info"`},
		{"unknown field", "POST", "/v1/nodes", "1.89", `{"driver": "fake", "colour": "red"}`, 400, `"colour"`},
		{"read-only field", "POST", "/v1/nodes", "1.89", `{"driver": "fake", "power_state": "power on"}`, 400, `"power_state"`},
		{"missing driver", "POST", "/v1/nodes", "1.89", `{"name": "x"}`, 400, `"driver"`},
		{"unknown driver", "POST", "/v1/nodes", "1.89", `{"driver": "nosuch"}`, 400, `nosuch`},
		{"bad name", "POST", "/v1/nodes", "1.89", `{"driver": "fake", "name": "a b"}`, 400, "Invalid node name"},
		{"field newer than version", "POST", "/v1/nodes", "1.40", `{"driver": "fake", "description": "x"}`, 406, `"description"`},
		{"unsupported field value", "POST", "/v1/nodes", "1.89", `{"driver": "fake", "owner": "me"}`, 400, `"owner"`},
		{"interface not the driver's", "POST", "/v1/nodes", "1.89", `{"driver": "fake", "power_interface": "ipmitool"}`, 400, `Could not find the following interface in the 'ironic.hardware.interfaces.power' entrypoint: ipmitool.`},
		{"duplicate name", "POST", "/v1/nodes", "1.89", `{"driver": "fake", "name": "n1"}`, 409, "already exists"},
		{"body too large", "POST", "/v1/nodes", "1.89", big, 413, "larger than"},

		{"patch not a list", "PATCH", nodeURL, "1.89", `{"op": "add"}`, 400, "JSON Patch"},
		{"patch unknown path", "PATCH", nodeURL, "1.89", `[{"op": "add", "path": "/colour", "value": "red"}]`, 400, `"/colour"`},
		{"patch internal path", "PATCH", nodeURL, "1.89", `[{"op": "replace", "path": "/power_state", "value": "power on"}]`, 400, "'/power_state' is an internal attribute"},
		{"patch uuid", "PATCH", nodeURL, "1.89", `[{"op": "replace", "path": "/uuid", "value": "x"}]`, 400, "'/uuid'"},
		{"patch reservation", "PATCH", nodeURL, "1.89", `[{"op": "remove", "path": "/reservation"}]`, 400, "'/reservation'"},
		{"patch move", "PATCH", nodeURL, "1.89", `[{"op": "move", "from": "/extra", "path": "/properties"}]`, 400, "from"},
		{"patch copy", "PATCH", nodeURL, "1.89", `[{"op": "copy", "path": "/properties"}]`, 400, "only add, replace and remove"},
		{"patch unknown op field", "PATCH", nodeURL, "1.89", `[{"op": "add", "path": "/extra/a", "value": 1, "colour": 2}]`, 400, `"colour"`},
		{"patch without value", "PATCH", nodeURL, "1.89", `[{"op": "add", "path": "/extra/a"}]`, 400, "no value"},
		{"patch wrong type", "PATCH", nodeURL, "1.89", `[{"op": "replace", "path": "/maintenance", "value": {"a": 1}}]`, 400, `"maintenance"`},
		{"patch driver_info type", "PATCH", nodeURL, "1.89", `[{"op": "replace", "path": "/driver_info", "value": [1]}]`, 400, `"driver_info"`},
		{"patch missing path", "PATCH", nodeURL, "1.89", `[{"op": "replace", "path": "/extra/a/b", "value": 1}]`, 400, "Cannot apply the patch"},
		{"patch unknown driver", "PATCH", nodeURL, "1.89", `[{"op": "replace", "path": "/driver", "value": "nosuch"}]`, 400, "nosuch"},
		{"patch remove driver", "PATCH", nodeURL, "1.89", `[{"op": "remove", "path": "/driver"}]`, 400, `"driver"`},
		{"patch secret placeholder", "PATCH", nodeURL, "1.89", `[{"op": "add", "path": "/driver_info/new_password", "value": "******"}]`, 400, "new_password"},
		{"patch malformed", "PATCH", nodeURL, "1.89", `[{"op": "add", "path": `, 400, "Malformed JSON Patch"},

		{"unknown microversion", "GET", "/v1/nodes", "1.200", "", 406, "[1.1, 1.89]"},
		{"other major version", "GET", "/v1/nodes", "2.1", "", 406, "Mutually exclusive"},
		{"malformed microversion", "GET", "/v1/nodes", "one.two", "", 406, "Invalid value"},
		{"endpoint newer than version", "POST", nodeURL + "/vmedia", "1.80", `{"device_type": "cdrom", "image_url": "http://x/y.iso"}`, 404, "could not be found"},
		{"fields too old", "GET", "/v1/nodes?fields=uuid", "1.5", "", 406, "fields"},
		{"unknown field selected", "GET", "/v1/nodes?fields=uuid,colour", "1.89", "", 400, "colour"},
		{"fields and detail", "GET", "/v1/nodes?fields=uuid&detail=true", "1.89", "", 400, "detail"},
		{"bad limit", "GET", "/v1/nodes?limit=-3", "1.89", "", 400, "Limit"},
		{"limit not a number", "GET", "/v1/nodes?limit=ten", "1.89", "", 400, "limit"},
		{"bad sort dir", "GET", "/v1/nodes?sort_dir=up", "1.89", "", 400, "sort direction"},
		{"bad sort key", "GET", "/v1/nodes?sort_key=colour", "1.89", "", 400, "colour"},
		{"bad marker", "GET", "/v1/nodes?marker=nope", "1.89", "", 400, "marker"},
		{"unknown argument", "GET", "/v1/nodes?colour=red", "1.89", "", 400, `"colour"`},
		{"unsupported filter", "GET", "/v1/nodes?resource_class=gold", "1.89", "", 400, "resource_class"},

		{"unknown node", "GET", "/v1/nodes/no-such-node", "1.89", "", 404, "no-such-node"},
		{"unknown node power", "PUT", "/v1/nodes/no-such-node/states/power", "1.89", `{"target": "power on"}`, 404, "no-such-node"},
		{"unknown port", "GET", "/v1/ports/52:54:00:00:00:99", "1.89", "", 404, "could not be found"},
		{"portgroups", "GET", "/v1/portgroups", "1.89", "", 404, "The resource could not be found."},
		{"allocations", "GET", "/v1/allocations", "1.89", "", 404, "The resource could not be found."},
		{"chassis", "GET", "/v1/chassis", "1.89", "", 404, "The resource could not be found."},
		{"deploy templates", "GET", "/v1/deploy_templates", "1.89", "", 404, "The resource could not be found."},
		{"node history", "GET", nodeURL + "/history", "1.89", "", 404, "The resource could not be found."},
		{"method not allowed", "POST", nodeURL, "1.89", `{}`, 405, "not allowed"},

		{"power target unknown", "PUT", nodeURL + "/states/power", "1.89", `{"target": "power up"}`, 400, `"power up"`},
		{"power target missing", "PUT", nodeURL + "/states/power", "1.89", `{}`, 400, `"target"`},
		{"power target wrong type", "PUT", nodeURL + "/states/power", "1.89", `{"target": true}`, 400, `"target"`},
		{"power timeout wrong type", "PUT", nodeURL + "/states/power", "1.89", `{"target": "power on", "timeout": "soon"}`, 400, `"timeout"`},
		{"power timeout negative", "PUT", nodeURL + "/states/power", "1.89", `{"target": "power on", "timeout": -1}`, 400, `"timeout"`},
		{"power timeout too old", "PUT", nodeURL + "/states/power", "1.20", `{"target": "power on", "timeout": 5}`, 406, `"timeout"`},
		{"power unknown field", "PUT", nodeURL + "/states/power", "1.89", `{"target": "power on", "force": true}`, 400, `"force"`},
		{"provision invalid state", "PUT", nodeURL + "/states/provision", "1.89", `{"target": "active"}`, 400, `state "enroll"`},
		{"provision unknown target", "PUT", nodeURL + "/states/provision", "1.89", `{"target": "explode"}`, 400, `"explode"`},
		{"provision unsupported target", "PUT", nodeURL + "/states/provision", "1.89", `{"target": "rescue"}`, 400, "not supported"},
		{"provision configdrive", "PUT", nodeURL + "/states/provision", "1.89", `{"target": "manage", "configdrive": "abc"}`, 400, "configdrive"},
		{"boot device unknown", "PUT", nodeURL + "/management/boot_device", "1.89", `{"boot_device": "floppy-disk"}`, 400, `"floppy-disk"`},
		{"boot device persistent type", "PUT", nodeURL + "/management/boot_device", "1.89", `{"boot_device": "pxe", "persistent": "maybe"}`, 400, `"persistent"`},
		{"boot mode unknown", "PUT", nodeURL + "/states/boot_mode", "1.89", `{"target": "legacy"}`, 400, `"legacy"`},
		{"secure boot", "PUT", nodeURL + "/states/secure_boot", "1.89", `{"target": true}`, 400, "secure boot"},
		{"nmi body", "PUT", nodeURL + "/management/inject_nmi", "1.89", `{"now": true}`, 400, `"now"`},
		{"vmedia device", "POST", nodeURL + "/vmedia", "1.89", `{"device_type": "tape", "image_url": "http://x/y.iso"}`, 400, "tape"},
		{"vmedia url", "POST", nodeURL + "/vmedia", "1.89", `{"device_type": "cdrom", "image_url": "ftp://x/y.iso"}`, 400, "image_url"},
		{"vmedia source", "POST", nodeURL + "/vmedia", "1.89", `{"device_type": "cdrom", "image_url": "http://x/y.iso", "image_download_source": "swift"}`, 400, "swift"},
		{"maintenance reason type", "PUT", nodeURL + "/maintenance", "1.89", `{"reason": 5}`, 400, `"reason"`},
		{"port bad mac", "POST", "/v1/ports", "1.89", fmt.Sprintf(`{"node_uuid": %q, "address": "zz:zz"}`, id), 400, "MAC"},
		{"port unknown node", "POST", "/v1/ports", "1.89", `{"node_uuid": "6e4c0c1c-0000-4000-8000-000000000000", "address": "52:54:00:00:00:01"}`, 400, "could not be found"}, // port.py post: NodeNotFound(code=BAD_REQUEST)
		{"port no node", "POST", "/v1/ports", "1.89", `{"address": "52:54:00:00:00:01"}`, 400, "node_uuid"},
		{"connector type", "POST", "/v1/volume/connectors", "1.89", fmt.Sprintf(`{"node_uuid": %q, "type": "floppy", "connector_id": "x"}`, id), 400, "floppy"},
		{"volume too old", "GET", "/v1/volume/connectors", "1.31", "", 404, "could not be found"},
		{"conductors too old", "GET", "/v1/conductors", "1.48", "", 404, "could not be found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if strings.HasPrefix(url, "/") {
				url = e.URL + url
			}
			resp, body := call(t, tc.method, url, tc.version, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.url, resp.StatusCode, body, tc.status)
			}
			if resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
			if msg := faultString(t, body); !strings.Contains(msg, tc.want) {
				t.Errorf("faultstring %q lacks %q", msg, tc.want)
			}
			if resp.Header.Get("X-OpenStack-Ironic-API-Minimum-Version") != "1.1" || resp.Header.Get("X-OpenStack-Ironic-API-Maximum-Version") != "1.89" {
				t.Errorf("version range headers: %v", resp.Header)
			}
			if resp.Header.Get("X-Openstack-Request-Id") == "" {
				t.Errorf("no request id")
			}
			if bytes.Contains(body, []byte("hunter2")) {
				t.Errorf("the answer holds the BMC password")
			}
		})
	}
	if strings.Contains(e.logs.String(), "request failed") {
		t.Errorf("a client mistake was logged as a server failure:\n%s", e.logs.String())
	}
	// The node is as it was: none of the mistakes changed it.
	n, err := e.db.Node(context.Background(), id)
	if err != nil || n.Name != "n1" || n.DriverInfo["fake_password"] != "hunter2" || n.ProvisionState != "enroll" || n.Reservation != "" {
		t.Fatalf("node after the mistakes: %+v, %v", n, err)
	}
}

// down is a store whose database is unreachable.
type down struct{ store.Store }

func (down) Nodes(context.Context, store.NodeFilter) ([]*store.Node, error) {
	return nil, fmt.Errorf("list nodes: %w: dial tcp 127.0.0.1:5432: connect: connection refused", store.ErrUnavailable)
}

func (down) Node(context.Context, string) (*store.Node, error) {
	return nil, fmt.Errorf("get node: %w: connection refused", store.ErrUnavailable)
}

// A database that cannot be reached is a 503 that says so, logged once.
func TestDatabaseDown(t *testing.T) {
	e := newEnv(t, envOptions{wrap: func(s store.Store) store.Store { return down{s} }})
	for _, path := range []string{"/v1/nodes", "/v1/nodes/n1"} {
		resp, body := call(t, "GET", e.URL+path, "1.89", "")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("GET %s with the database down: %d %s", path, resp.StatusCode, body)
		}
		if msg := faultString(t, body); !strings.Contains(msg, "database is unavailable") {
			t.Errorf("faultstring %q", msg)
		}
	}
	if got := strings.Count(e.logs.String(), "request failed"); got != 2 {
		t.Errorf("%d log lines of failed requests, want 2:\n%s", got, e.logs.String())
	}
}

// With every worker busy, a new asynchronous action is refused with 503
// and leaves the node as it was (no target, the lock released).
func TestNoFreeWorker(t *testing.T) {
	g := newGated()
	e := newEnv(t, envOptions{workers: 1, drivers: []drivers.Driver{g}})
	busy := createNode(t, e, `{"driver": "gated"}`)
	other := createNode(t, e, `{"driver": "gated"}`)
	if resp, body := call(t, "PUT", e.URL+"/v1/nodes/"+busy+"/states/power", "1.89", `{"target": "power on"}`); resp.StatusCode != 202 {
		t.Fatalf("first power on: %d %s", resp.StatusCode, body)
	}
	resp, body := call(t, "PUT", e.URL+"/v1/nodes/"+other+"/states/power", "1.89", `{"target": "power on"}`)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("power on with no free worker: %d %s", resp.StatusCode, body)
	}
	if msg := faultString(t, body); !strings.Contains(msg, "No free worker") {
		t.Errorf("faultstring %q", msg)
	}
	n, err := e.db.Node(context.Background(), other)
	if err != nil || n.TargetPowerState != "" || n.Reservation != "" || !strings.Contains(n.LastError, "no free worker") {
		t.Fatalf("refused node: target %q reservation %q last_error %q (%v)", n.TargetPowerState, n.Reservation, n.LastError, err)
	}
	// A refused provision action leaves the provision state as it was.
	resp, _ = call(t, "PUT", e.URL+"/v1/nodes/"+other+"/states/provision", "1.89", `{"target": "manage"}`)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("manage with no free worker: %d", resp.StatusCode)
	}
	if n, _ := e.db.Node(context.Background(), other); n.ProvisionState != "enroll" || n.TargetProvisionState != "" {
		t.Fatalf("refused manage left %q -> %q", n.ProvisionState, n.TargetProvisionState)
	}
	close(g.gate)
}
