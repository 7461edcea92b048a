package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/internal/pgtest"
)

// A password in a URL is refused in driver_info however the URL is
// written: with a space or a '/' in the password, without a scheme, in a
// nested object, at creation and by PATCH; and the refusal never echoes it.
func TestURLCredentialsRefusedInEveryForm(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := createNode(t, e, `{"driver": "fake"}`)
	const pw = "Zebra-1197"
	for _, tc := range []struct{ field, value string }{
		{"redfish_address", "https://admin:" + pw + " x@bmc.example"},
		{"redfish_address", "https://admin:" + pw + "/x@bmc.example"},
		{"redfish_address", "admin:" + pw + "@bmc.example"},
		{"ipmi_address", "ipmi://admin:" + pw + "@10.0.0.1"},
		{"bmc", `{"url": "redfish://root:` + pw + `@bmc.example"}`},
	} {
		value, _ := json.Marshal(tc.value)
		if strings.HasPrefix(tc.value, "{") {
			value = []byte(tc.value)
		}
		resp, b := call(t, "POST", e.URL+"/v1/nodes", "1.89", `{"driver": "fake", "driver_info": {"`+tc.field+`": `+string(value)+`}}`)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(faultString(t, b), "driver_info/"+tc.field) || strings.Contains(string(b), pw) {
			t.Errorf("create with %s=%s: %d %s", tc.field, value, resp.StatusCode, b)
		}
		resp, b = call(t, "PATCH", e.URL+"/v1/nodes/"+id, "1.89", `[{"op": "add", "path": "/driver_info/`+tc.field+`", "value": `+string(value)+`}]`)
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), pw) {
			t.Errorf("patch with %s=%s: %d %s", tc.field, value, resp.StatusCode, b)
		}
	}
	// The drivers read the same forms as credentials (drivers.ParseURLCredentials).
	for _, addr := range []string{"admin:" + pw + "@bmc.example", "https://admin:" + pw + " x@bmc.example", "https://admin:" + pw + "/x@bmc.example"} {
		rf := redfish.New(redfish.Options{})
		err := rf.Validate(drivers.PowerInterface, drivers.Node{Info: drivers.Info{redfish.InfoAddress: addr, redfish.InfoSystemID: "1"}})
		if err == nil || !strings.Contains(err.Error(), "credentials") || strings.Contains(err.Error(), pw) {
			t.Errorf("redfish validate of %q: %v", addr, err)
		}
	}
}

// Masking is at least as wide as Ironic's mask_dict_password: nested
// objects, keys such as passphrase or sys_pswd, instance_info with its
// configdrive and the credentials of its image URLs. The stored values are
// kept across a PATCH of other members.
func TestMaskingAsWideAsIronic(t *testing.T) {
	e := newEnv(t, envOptions{})
	secrets := []string{"Nested-11", "Phrase-22", "Pswd-33", "NewPass-44", "ImgPw-55", "Drive-66", "Key-77"}
	id := createNode(t, e, `{"driver": "fake",
		"driver_info": {"bmc": {"password": "Nested-11", "user": "admin"}, "passphrase": "Phrase-22", "sys_pswd": "Pswd-33", "new_pass": "NewPass-44"},
		"instance_info": {"image_source": "https://glance:ImgPw-55@images.example/a.iso", "configdrive": "Drive-66",
			"keys": [{"private_key": "Key-77"}], "image_checksum": "visible-sum"}}`)
	for _, path := range []string{"/v1/nodes/" + id, "/v1/nodes/detail", "/v1/nodes?fields=instance_info,driver_info"} {
		_, b := call(t, "GET", e.URL+path, "1.89", "")
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("GET %s shows %s: %s", path, s, b)
			}
		}
		if !strings.Contains(string(b), "visible-sum") || !strings.Contains(string(b), "https://glance:******@images.example/a.iso") {
			t.Errorf("GET %s masks too much: %s", path, b)
		}
	}
	resp, b := call(t, "PATCH", e.URL+"/v1/nodes/"+id, "1.89", `[{"op": "add", "path": "/instance_info/root_gb", "value": 10},
		{"op": "add", "path": "/driver_info/note", "value": "n"}]`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patch: %d %s", resp.StatusCode, b)
	}
	n, err := e.db.Node(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := json.Marshal(map[string]any{"d": n.DriverInfo, "i": n.InstanceInfo})
	for _, s := range secrets {
		if !strings.Contains(string(stored), s) {
			t.Errorf("the patch lost %s: %s", s, stored)
		}
	}
}

// recorder is a host a client controls: it records every request.
type recorder struct {
	mu   sync.Mutex
	seen strings.Builder
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.seen.WriteString(req.Method + " " + req.URL.String() + " " + req.Header.Get("Authorization") + " " + req.Header.Get("X-Auth-Token") + " " + string(b) + "\n")
	r.mu.Unlock()
	http.Error(w, "no", http.StatusUnauthorized)
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen.String()
}

// A client that only ever saw "******" points a node at a host it
// controls and calls validate: the stored password is dropped with the
// old address, so the host never receives it. A PATCH that brings the
// password along with the new address keeps it. (Ironic keeps the
// password; docs/api.md lists the divergence.)
func TestAddressChangeDropsSecrets(t *testing.T) {
	rf := redfish.New(redfish.Options{PollInterval: 10 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond, PowerTimeout: 5 * time.Second})
	e := newEnv(t, envOptions{drivers: []drivers.Driver{rf}})
	evil := &recorder{}
	srv := httptest.NewServer(evil)
	defer srv.Close()
	const pw = "Stolen-Pw-4417"
	id := createNode(t, e, `{"driver": "redfish", "driver_info": {"redfish_address": "https://bmc.example", "redfish_system_id": "1",
		"redfish_username": "admin", "redfish_password": "`+pw+`"}}`)

	resp, b := call(t, "PATCH", e.URL+"/v1/nodes/"+id, "1.89", `[{"op": "replace", "path": "/driver_info/redfish_address", "value": "`+srv.URL+`"}]`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patch: %d %s", resp.StatusCode, b)
	}
	n, _ := e.db.Node(context.Background(), id)
	if _, kept := n.DriverInfo["redfish_password"]; kept {
		t.Errorf("the password survived the address change: %v", drivers.Info(n.DriverInfo).Redacted())
	}
	call(t, "GET", e.URL+"/v1/nodes/"+id+"/validate", "1.89", "")
	call(t, "PUT", e.URL+"/v1/nodes/"+id+"/management/boot_device", "1.89", `{"boot_device": "pxe"}`)
	if basic := base64.StdEncoding.EncodeToString([]byte("admin:" + pw)); strings.Contains(evil.String(), pw) || strings.Contains(evil.String(), basic) {
		t.Errorf("the new host received the password:\n%s", evil.String())
	}

	// Address and password together: kept.
	resp, b = call(t, "PATCH", e.URL+"/v1/nodes/"+id, "1.89", `[{"op": "replace", "path": "/driver_info/redfish_address", "value": "https://bmc2.example"},
		{"op": "add", "path": "/driver_info/redfish_password", "value": "New-Pw-1"}]`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patch: %d %s", resp.StatusCode, b)
	}
	n, _ = e.db.Node(context.Background(), id)
	if n.DriverInfo["redfish_password"] != "New-Pw-1" {
		t.Errorf("a password given with the new address was not kept: %v", drivers.Info(n.DriverInfo).Redacted())
	}
}

// A NUL byte in a string field, an object key, a path segment or a filter
// is the client's mistake: 400 on both databases, never a 500.
func TestNULRefused(t *testing.T) {
	for _, backend := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{{"sqlite", func(*testing.T) string { return "" }}, {"postgres", func(t *testing.T) string { return pgtest.DSN(t) }}} {
		t.Run(backend.name, func(t *testing.T) {
			e := newEnv(t, envOptions{dsn: backend.dsn(t)})
			id := createNode(t, e, `{"driver": "fake", "name": "nul-node"}`)
			for _, tc := range []struct{ method, path, body string }{
				{"POST", "/v1/nodes", `{"driver": "fake", "name": "a\u0000b"}`},
				{"POST", "/v1/nodes", `{"driver": "fake", "extra": {"k": "v\u0000"}}`},
				{"POST", "/v1/nodes", `{"driver": "fake", "extra": {"k\u0000": 1}}`},
				{"POST", "/v1/nodes", `{"driver": "fake", "description": "d\u0000"}`},
				{"PATCH", "/v1/nodes/" + id, `[{"op": "add", "path": "/extra/x", "value": "\u0000"}]`},
				{"GET", "/v1/nodes/nul%00node", ""},
				{"PATCH", "/v1/nodes/nul%00node", `[]`},
				{"DELETE", "/v1/nodes/x%00", ""},
				{"GET", "/v1/nodes?driver=fake%00", ""},
				{"GET", "/v1/nodes?conductor_group=g%00", ""},
				{"GET", "/v1/ports?address=aa%00", ""},
				{"GET", "/v1/ports/%00", ""},
				{"POST", "/v1/ports", `{"node_uuid": "` + id + `", "address": "52:54:00:00:00:01", "extra": {"a": "\u0000"}}`},
				{"PUT", "/v1/nodes/" + id + "/states/power", `{"target": "power on\u0000"}`},
				{"PUT", "/v1/nodes/" + id + "/maintenance", `{"reason": "r\u0000"}`},
				{"GET", "/v1/conductors/h%00", ""},
				{"GET", "/v1/drivers/f%00", ""},
			} {
				resp, b := call(t, tc.method, e.URL+tc.path, "1.89", tc.body)
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(faultString(t, b), "NUL") {
					t.Errorf("%s %s %s: %d %s", tc.method, tc.path, tc.body, resp.StatusCode, b)
				}
			}
		})
	}
}

// A query string that does not parse is refused, not half-read: a filter
// dropped silently would answer with every node.
func TestMalformedQueryRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	createNode(t, e, `{"driver": "fake"}`)
	for _, q := range []string{"provision_state=available;x=1", "%zz=1", "driver=fake&limit=%", "fields=uuid;name"} {
		resp, b := call(t, "GET", e.URL+"/v1/nodes?"+q, "1.89", "")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(faultString(t, b), "Malformed query") {
			t.Errorf("?%s: %d %s", q, resp.StatusCode, b)
		}
	}
}

// bigObject is a JSON object of about n bytes (compacted).
func bigObject(n int) string {
	return `{"blob": "` + strings.Repeat("x", n-len(`{"blob":""}`)) + `"}`
}

// extra, properties and driver_info hold at most Ironic's 65535 bytes (its
// TEXT columns), instance_info 256 KiB; a larger one, like the 1 MiB extra
// of the report, is refused at creation and by PATCH, naming the field.
func TestFieldSizeBounds(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		field string
		limit int
	}{{"extra", 65535}, {"properties", 65535}, {"driver_info", 65535}, {"instance_info", 256 << 10}} {
		resp, b := call(t, "POST", e.URL+"/v1/nodes", "1.89", `{"driver": "fake", "`+tc.field+`": `+bigObject(tc.limit)+`}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s at its bound: %d %.300s", tc.field, resp.StatusCode, b)
		}
		var n map[string]any
		json.Unmarshal(b, &n)
		for _, size := range []int{tc.limit + 1, 1<<20 - 1024} {
			resp, b = call(t, "POST", e.URL+"/v1/nodes", "1.89", `{"driver": "fake", "`+tc.field+`": `+bigObject(size)+`}`)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(faultString(t, b), tc.field) {
				t.Errorf("create with %d bytes of %s: %d %.300s", size, tc.field, resp.StatusCode, b)
			}
		}
		resp, b = call(t, "PATCH", e.URL+"/v1/nodes/"+n["uuid"].(string), "1.89", `[{"op": "add", "path": "/`+tc.field+`/more", "value": "y"}]`)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("patch past the bound of %s: %d %.300s", tc.field, resp.StatusCode, b)
		}
	}
}

// A detail listing of large nodes ends its page early once the answer
// reached the byte budget, with a next link; following the links yields
// every node exactly once. Small nodes read in several chunks still make
// one page.
func TestNodeListingBudget(t *testing.T) {
	const budget = 1 << 20
	e := newEnv(t, envOptions{maxListBytes: budget})
	big := make(map[string]bool)
	fields := `"instance_info": ` + bigObject(256<<10)
	for i := 0; i < 9; i++ { // 9 x 256 KiB: more than twice the budget
		big[createNode(t, e, `{"driver": "fake", "name": "big-`+fmt.Sprint(i)+`", `+fields+`}`)] = true
	}
	var page struct {
		Nodes []map[string]any `json:"nodes"`
		Next  string           `json:"next"`
	}
	seen := map[string]int{}
	pages := 0
	for url := e.URL + "/v1/nodes/detail"; url != ""; pages++ {
		resp, b := call(t, "GET", url, "1.89", "")
		page.Nodes, page.Next = nil, ""
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &page) != nil {
			t.Fatalf("GET %s: %d %.300s", url, resp.StatusCode, b)
		}
		if len(b) > budget+(300<<10) {
			t.Errorf("a page of %d bytes, over the budget by more than a node", len(b))
		}
		for _, n := range page.Nodes {
			seen[n["uuid"].(string)]++
		}
		url = page.Next
	}
	if pages < 3 || len(seen) != len(big) {
		t.Errorf("%d pages, %d distinct nodes of %d", pages, len(seen), len(big))
	}
	for id, n := range seen {
		if n != 1 || !big[id] {
			t.Errorf("node %s listed %d times", id, n)
		}
	}
	// Small nodes: more than two store chunks, one page, no next.
	e2 := newEnv(t, envOptions{})
	for i := 0; i < 70; i++ {
		createNode(t, e2, `{"driver": "fake"}`)
	}
	_, b := call(t, "GET", e2.URL+"/v1/nodes/detail", "1.89", "")
	page.Nodes, page.Next = nil, ""
	json.Unmarshal(b, &page)
	if len(page.Nodes) != 70 || page.Next != "" {
		t.Errorf("70 small nodes: %d in the page, next %q", len(page.Nodes), page.Next)
	}
	_, b = call(t, "GET", e2.URL+"/v1/nodes?limit=40", "1.89", "")
	page.Nodes, page.Next = nil, ""
	json.Unmarshal(b, &page)
	if len(page.Nodes) != 40 || !strings.Contains(page.Next, "marker=") {
		t.Errorf("limit 40 of 70: %d in the page, next %q", len(page.Nodes), page.Next)
	}
}
