package api_test

// One test per item of issue 14, through raw HTTP, with Ironic's answer as
// the expectation. The Ironic lines cited are of openstack/ironic at commit
// 7bc6aba7dda0 (master, 2026-08-20).

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/cluster"
	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/store"
)

// compatEnv is an agent with fake, fake-hardware and ipmi (no ipmi call is
// made: its nodes are only enrolled).
func compatEnv(t *testing.T) *env {
	return newEnv(t, envOptions{drivers: []drivers.Driver{fake.NewHardware(), ipmi.New(ipmi.Config{})}})
}

// getJSON GETs url at version and decodes the 200 answer.
func getJSON(t *testing.T, url, version string) map[string]any {
	t.Helper()
	resp, body := call(t, "GET", url, version, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
	return m
}

// want4xx sends a request and checks Ironic's status and the start of its
// message.
func want4xx(t *testing.T, method, url, version, body string, status int, msg string) {
	t.Helper()
	resp, b := call(t, method, url, version, body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, b, status)
	}
	if got := faultString(t, b); !strings.Contains(got, msg) {
		t.Fatalf("%s %s: %q, want it to contain %q", method, url, got, msg)
	}
}

// waitProvision polls a node until it rests in state (no target, no lock).
func waitProvision(t *testing.T, e *env, id, state string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := getJSON(t, e.URL+"/v1/nodes/"+id, "1.89")
		if n["provision_state"] == state && n["target_provision_state"] == nil && n["reservation"] == nil {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s never rested in %s: %v", id, state, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func setProvision(t *testing.T, e *env, id, target string) {
	t.Helper()
	resp, b := call(t, "PUT", e.URL+"/v1/nodes/"+id+"/states/provision", "1.89", `{"target": "`+target+`"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("provision %s: %d %s", target, resp.StatusCode, b)
	}
}

// Item 1: fake-hardware, with interfaces named fake. Its power interface
// reports the recorded power state (ironic/drivers/modules/fake.py:86,
// "return task.node.power_state"), so a new node's power_state stays null
// through manage and provide; a power change is recorded (fake.py:99); its
// management knows pxe only (fake.py:300, 306); its deploy does nothing
// (fake.py:136). GET /v1/drivers lists it as a dynamic driver
// (ironic/api/controllers/v1/driver.py:131).
func TestIronicFakeHardware(t *testing.T) {
	e := compatEnv(t)
	id := createNode(t, e, `{"driver": "fake-hardware", "boot_interface": "fake", "deploy_interface": "fake"}`)
	n := getJSON(t, e.URL+"/v1/nodes/"+id, "1.89")
	for _, k := range []string{"boot_interface", "deploy_interface", "management_interface", "power_interface", "inspect_interface", "raid_interface"} {
		if n[k] != "fake" {
			t.Errorf("%s = %v, want fake", k, n[k])
		}
	}
	setProvision(t, e, id, "manage")
	waitProvision(t, e, id, "manageable")
	setProvision(t, e, id, "provide")
	if n := waitProvision(t, e, id, "available"); n["power_state"] != nil || n["last_error"] != nil {
		t.Fatalf("after manage and provide: power_state %v last_error %v, want null", n["power_state"], n["last_error"])
	}
	// Deploy with the fake deploy: no image needed, nothing switched.
	setProvision(t, e, id, "active")
	if n := waitProvision(t, e, id, "active"); n["power_state"] != nil {
		t.Fatalf("after a fake deploy: power_state %v, want null", n["power_state"])
	}
	setProvision(t, e, id, "deleted")
	waitProvision(t, e, id, "available")

	resp, b := call(t, "PUT", e.URL+"/v1/nodes/"+id+"/states/power", "1.89", `{"target": "power on"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("power on: %d %s", resp.StatusCode, b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for n := getJSON(t, e.URL+"/v1/nodes/"+id, "1.89"); n["power_state"] != "power on" || n["reservation"] != nil; n = getJSON(t, e.URL+"/v1/nodes/"+id, "1.89") {
		if time.Now().After(deadline) {
			t.Fatal("the power change was never recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if bd := getJSON(t, e.URL+"/v1/nodes/"+id+"/management/boot_device", "1.89"); bd["boot_device"] != "pxe" || bd["persistent"] != false {
		t.Errorf("boot device %v, want pxe, not persistent", bd)
	}
	if s := getJSON(t, e.URL+"/v1/nodes/"+id+"/management/boot_device/supported", "1.89"); !jsonIs(s["supported_boot_devices"], []any{"pxe"}) {
		t.Errorf("supported boot devices %v, want [pxe]", s)
	}
	want4xx(t, "PUT", e.URL+"/v1/nodes/"+id+"/management/boot_device", "1.89", `{"boot_device": "disk"}`, 400, "Invalid boot device disk specified")

	var names []string
	for _, d := range getJSON(t, e.URL+"/v1/drivers", "1.89")["drivers"].([]any) {
		d := d.(map[string]any)
		names = append(names, d["name"].(string))
		if d["name"] == "fake-hardware" && d["type"] != "dynamic" {
			t.Errorf("fake-hardware listed as %v", d)
		}
	}
	if !slices.Contains(names, "fake-hardware") {
		t.Fatalf("GET /v1/drivers lists %v, without fake-hardware", names)
	}
}

func jsonIs(got, want any) bool {
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	return string(a) == string(b)
}

// Item 2: every collection answers with and without a trailing slash, as
// Ironic's pecan routing does; the baremetal CLI sends /v1/nodes/?fields=.
func TestIronicTrailingSlash(t *testing.T) {
	e := compatEnv(t)
	id := createNode(t, e, `{"driver": "fake", "name": "slash"}`)
	for _, p := range []string{
		"/v1/nodes", "/v1/nodes?fields=uuid,name", "/v1/nodes/detail", "/v1/nodes/" + id,
		"/v1/nodes/" + id + "/ports", "/v1/nodes/" + id + "/states", "/v1/nodes/" + id + "/volume/connectors",
		"/v1/ports", "/v1/ports?node=slash", "/v1/ports/detail", "/v1/drivers", "/v1/drivers/fake-hardware",
		"/v1/conductors", "/v1/volume", "/v1/volume/connectors", "/v1/volume/targets", "/v1",
	} {
		path, query, _ := strings.Cut(p, "?")
		if query != "" {
			query = "?" + query
		}
		plain, slashed := getJSON(t, e.URL+path+query, "1.89"), getJSON(t, e.URL+path+"/"+query, "1.89")
		if len(plain) == 0 || len(plain) != len(slashed) {
			t.Errorf("%s: %v, with a slash %v", p, plain, slashed)
		}
	}
}

// Item 3: a node's conductor (1.49) is the agent that owns it, the ring's
// choice among the live agents of its group; null when its group has no
// live agent (ironic/api/controllers/v1/node.py:1749, 1753).
func TestIronicNodeConductor(t *testing.T) {
	e := compatEnv(t)
	ctx := context.Background()
	for _, id := range []string{"agent-b", "agent-c"} {
		if err := e.db.Heartbeat(ctx, store.Agent{ID: id, Hostname: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.db.Heartbeat(ctx, store.Agent{ID: "agent-g", Hostname: "g", Group: "rack-2"}); err != nil {
		t.Fatal(err)
	}
	ring := cluster.NewRing([]string{"agent-test", "agent-b", "agent-c"}, 0)
	owners := map[string]bool{}
	for i := 0; i < 12; i++ {
		id := createNode(t, e, `{"driver": "fake"}`)
		n := getJSON(t, e.URL+"/v1/nodes/"+id+"?fields=conductor", "1.89")
		if want := ring.Owner(id); n["conductor"] != want {
			t.Fatalf("node %s: conductor %v, want the ring's %s", id, n["conductor"], want)
		}
		owners[n["conductor"].(string)] = true
	}
	if len(owners) < 2 {
		t.Errorf("12 nodes all owned by %v: the ring was not consulted", owners)
	}
	// ?conductor= lists the nodes the agent owns (node.py,
	// _filter_by_conductor).
	listed := 0
	for owner := range owners {
		for _, x := range getJSON(t, e.URL+"/v1/nodes?conductor="+owner+"&fields=uuid,conductor", "1.89")["nodes"].([]any) {
			listed++
			if x.(map[string]any)["conductor"] != owner {
				t.Errorf("?conductor=%s lists %v", owner, x)
			}
		}
	}
	if listed != 12 {
		t.Errorf("the owners' lists hold %d nodes, want the 12", listed)
	}
	want4xx(t, "GET", e.URL+"/v1/nodes?conductor=agent-b", "1.48", "", 406, "")
	g := createNode(t, e, `{"driver": "fake", "conductor_group": "rack-2"}`)
	if n := getJSON(t, e.URL+"/v1/nodes/"+g, "1.89"); n["conductor"] != "agent-g" {
		t.Errorf("node of group rack-2: conductor %v, want agent-g", n["conductor"])
	}
	lone := createNode(t, e, `{"driver": "fake", "conductor_group": "nobody"}`)
	if n := getJSON(t, e.URL+"/v1/nodes/"+lone, "1.89"); n["conductor"] != nil {
		t.Errorf("node of a group without agents: conductor %v, want null", n["conductor"])
	}
	if _, ok := getJSON(t, e.URL+"/v1/nodes/"+lone, "1.48")["conductor"]; ok {
		t.Error("conductor shown before 1.49")
	}
}

// Item 4: a driver's detail (1.30) has default_<kind>_interface and
// enabled_<kind>_interfaces (ironic/api/controllers/v1/driver.py:151), in
// GET /v1/drivers/{name} and GET /v1/drivers?detail=True, not in the brief
// list; the firmware ones from 1.86; an unknown driver is DriverNotFound.
func TestIronicDriverDetails(t *testing.T) {
	e := compatEnv(t)
	d := getJSON(t, e.URL+"/v1/drivers/fake-hardware", "1.89")
	if d["default_boot_interface"] != "fake" || !jsonIs(d["enabled_boot_interfaces"], []any{"fake"}) ||
		d["default_vendor_interface"] != "no-vendor" || d["default_firmware_interface"] != "no-firmware" {
		t.Fatalf("fake-hardware detail: %v", d)
	}
	ip := getJSON(t, e.URL+"/v1/drivers/ipmi", "1.89")
	if ip["default_boot_interface"] != "ipxe" || !jsonIs(ip["enabled_boot_interfaces"], []any{"ipxe", "pxe"}) ||
		!jsonIs(ip["enabled_raid_interfaces"], []any{"no-raid", "agent"}) {
		t.Fatalf("ipmi detail: %v", ip)
	}
	if _, ok := getJSON(t, e.URL+"/v1/drivers/ipmi", "1.85")["default_firmware_interface"]; ok {
		t.Error("firmware interface shown before 1.86")
	}
	for _, x := range getJSON(t, e.URL+"/v1/drivers?detail=True", "1.89")["drivers"].([]any) {
		if _, ok := x.(map[string]any)["enabled_power_interfaces"]; !ok {
			t.Errorf("?detail=True without the interfaces: %v", x)
		}
	}
	for _, x := range getJSON(t, e.URL+"/v1/drivers", "1.89")["drivers"].([]any) {
		if _, ok := x.(map[string]any)["enabled_power_interfaces"]; ok {
			t.Errorf("the brief list has the interfaces: %v", x)
		}
	}
	want4xx(t, "GET", e.URL+"/v1/drivers?detail=True", "1.29", "", 406, "minimal required API version")
	want4xx(t, "GET", e.URL+"/v1/drivers?type=legacy", "1.89", "", 400, `"type" filter must be one of`)
	want4xx(t, "GET", e.URL+"/v1/drivers/nope", "1.89", "", 404, "Could not find the following driver(s) or hardware type(s): nope.")
}

// Item 5: volume connectors and targets take ?detail from their first
// version, 1.32 (volume_connector.py:160 and volume_target.py:194 check no
// other version); fields with detail is a 400 (volume_connector.py:199).
func TestIronicVolumeDetail(t *testing.T) {
	e := compatEnv(t)
	id := createNode(t, e, `{"driver": "fake"}`)
	resp, b := call(t, "POST", e.URL+"/v1/volume/connectors", "1.32", `{"node_uuid": "`+id+`", "type": "iqn", "connector_id": "iqn.2024-01.org.example:n1"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create connector: %d %s", resp.StatusCode, b)
	}
	for _, p := range []string{"/v1/volume/connectors", "/v1/volume/targets"} {
		l := getJSON(t, e.URL+p+"?detail=True", "1.32")
		for _, items := range l {
			for _, x := range items.([]any) {
				if _, ok := x.(map[string]any)["extra"]; !ok {
					t.Errorf("%s?detail=True at 1.32 is not detailed: %v", p, x)
				}
			}
		}
		want4xx(t, "GET", e.URL+p+"?detail=True&fields=uuid", "1.32", "", 400, "detail")
	}
}

// Item 6: the vendor methods of a no-vendor node or driver are {} with 200
// (node.py:2033 and driver.py:233 return the vendor interface's routes,
// none for no-vendor); an unknown node or driver is a 404.
func TestIronicVendorPassthruMethods(t *testing.T) {
	e := compatEnv(t)
	id := createNode(t, e, `{"driver": "fake-hardware"}`)
	for _, p := range []string{"/v1/nodes/" + id + "/vendor_passthru/methods", "/v1/drivers/fake-hardware/vendor_passthru/methods", "/v1/drivers/ipmi/vendor_passthru/methods"} {
		if m := getJSON(t, e.URL+p, "1.89"); len(m) != 0 {
			t.Errorf("%s: %v, want {}", p, m)
		}
	}
	want4xx(t, "GET", e.URL+"/v1/nodes/nope/vendor_passthru/methods", "1.89", "", 404, "nope")
	want4xx(t, "GET", e.URL+"/v1/drivers/nope/vendor_passthru/methods", "1.89", "", 404, "Could not find the following driver(s)")
	// A call: no handler (ironic/conductor/manager.py vendor_passthru).
	want4xx(t, "POST", e.URL+"/v1/nodes/"+id+"/vendor_passthru?method=first_method", "1.89", `{}`, 400, "No handler for method first_method")
	want4xx(t, "POST", e.URL+"/v1/nodes/"+id+"/vendor_passthru", "1.89", `{}`, 400, "Method not specified")
}

// Item 7: GET /v1/nodes/{node}/firmware (1.86): none for a no-firmware
// node, the driver's inventory for one that has a firmware interface; 404
// before 1.86 (firmware.py's api_version check raises HTTPNotFound).
func TestIronicNodeFirmware(t *testing.T) {
	e := compatEnv(t)
	hw := createNode(t, e, `{"driver": "fake-hardware"}`)
	if n := getJSON(t, e.URL+"/v1/nodes/"+hw, "1.89"); n["firmware_interface"] != "no-firmware" {
		t.Errorf("fake-hardware firmware_interface %v", n["firmware_interface"])
	}
	if f := getJSON(t, e.URL+"/v1/nodes/"+hw+"/firmware", "1.86"); !jsonIs(f, map[string]any{"firmware": []any{}}) {
		t.Errorf("no-firmware node: %v", f)
	}
	id := createNode(t, e, `{"driver": "fake"}`)
	if n := getJSON(t, e.URL+"/v1/nodes/"+id, "1.89"); n["firmware_interface"] != "fake" {
		t.Errorf("fake firmware_interface %v", n["firmware_interface"])
	}
	f := getJSON(t, e.URL+"/v1/nodes/"+id+"/firmware", "1.86")["firmware"].([]any)
	if len(f) != 2 || f[0].(map[string]any)["component"] != "bios" || f[0].(map[string]any)["current_version"] != "fake-bios-1.0" {
		t.Errorf("fake node firmware: %v", f)
	}
	if e.fake.Calls(id) != 1 {
		t.Errorf("the firmware was read %d times from the driver, want 1", e.fake.Calls(id))
	}
	want4xx(t, "GET", e.URL+"/v1/nodes/"+id+"/firmware", "1.85", "", 404, "")
}

// Item 7 on Redfish: firmware_interface is redfish and the components are
// the BIOS and BMC of the BMC's UpdateService inventory, read through the
// redfish driver from the simulator.
func TestIronicNodeFirmwareRedfish(t *testing.T) {
	sim := startBMCSim(t, 2)
	e := newEnv(t, envOptions{drivers: []drivers.Driver{redfish.New(redfish.Options{})}})
	sysID := sim.SystemIDs()[1]
	id := createNode(t, e, `{"driver": "redfish", "driver_info": {"redfish_address": "`+sim.URL()+`", "redfish_system_id": "/redfish/v1/Systems/`+sysID+`", "redfish_username": "admin", "redfish_password": "`+bmcPassword+`"}}`)
	if n := getJSON(t, e.URL+"/v1/nodes/"+id, "1.89"); n["firmware_interface"] != "redfish" {
		t.Fatalf("firmware_interface %v, want redfish", n["firmware_interface"])
	}
	f := getJSON(t, e.URL+"/v1/nodes/"+id+"/firmware", "1.89")["firmware"].([]any)
	if len(f) != 2 {
		t.Fatalf("firmware %v, want bios and bmc", f)
	}
	bios, bmc := f[0].(map[string]any), f[1].(map[string]any)
	if bios["component"] != "bios" || bios["current_version"] != "SIM-1.0.0" || bmc["component"] != "bmc" || bmc["current_version"] != "SIM-BMC-1.0.0" || bmc["updated_at"] == nil {
		t.Errorf("firmware %v", f)
	}
	sel := getJSON(t, e.URL+"/v1/nodes/"+id+"/firmware?fields=component", "1.89")["firmware"].([]any)
	if len(sel[0].(map[string]any)) != 1 {
		t.Errorf("?fields=component: %v", sel)
	}
	// The read takes a shared task: it goes on while another holds the
	// node's exclusive lock.
	held, err := e.tm.Acquire(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	if f := getJSON(t, e.URL+"/v1/nodes/"+id+"/firmware", "1.89")["firmware"].([]any); len(f) != 2 {
		t.Errorf("firmware while the node is locked: %v", f)
	}
}

// Item 8: a port's connectivity attributes change only in enroll,
// inspecting, inspect wait or manageable, or in maintenance; otherwise
// InvalidState, 409 (ironic/conductor/manager.py:2755).
func TestIronicPortUpdateRules(t *testing.T) {
	e := compatEnv(t)
	id := createNode(t, e, `{"driver": "fake-hardware"}`)
	resp, b := call(t, "POST", e.URL+"/v1/ports", "1.89", `{"node_uuid": "`+id+`", "address": "52:54:00:00:00:01"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create port: %d %s", resp.StatusCode, b)
	}
	var p struct{ UUID string }
	json.Unmarshal(b, &p)
	patch := func(op string) (*http.Response, []byte) {
		return call(t, "PATCH", e.URL+"/v1/ports/"+p.UUID, "1.89", op)
	}
	pxeOff := `[{"op": "replace", "path": "/pxe_enabled", "value": false}]`
	pxeOn := `[{"op": "replace", "path": "/pxe_enabled", "value": true}]`
	if resp, b := patch(pxeOff); resp.StatusCode != http.StatusOK { // enroll
		t.Fatalf("pxe_enabled in enroll: %d %s", resp.StatusCode, b)
	}
	setProvision(t, e, id, "manage")
	waitProvision(t, e, id, "manageable")
	setProvision(t, e, id, "provide")
	waitProvision(t, e, id, "available")
	want4xx(t, "PATCH", e.URL+"/v1/ports/"+p.UUID, "1.89", pxeOn, 409, "can not have any connectivity attributes")
	want4xx(t, "PATCH", e.URL+"/v1/ports/"+p.UUID, "1.89", `[{"op": "add", "path": "/local_link_connection/switch_id", "value": "aa:bb:cc:dd:ee:ff"}]`, 409, "connectivity")
	// Other fields still change, and in maintenance everything does.
	if resp, b := patch(`[{"op": "add", "path": "/extra/rack", "value": "r1"}]`); resp.StatusCode != http.StatusOK {
		t.Fatalf("extra on an available node: %d %s", resp.StatusCode, b)
	}
	if resp, b := call(t, "PUT", e.URL+"/v1/nodes/"+id+"/maintenance", "1.89", `{}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("maintenance: %d %s", resp.StatusCode, b)
	}
	if resp, b := patch(pxeOn); resp.StatusCode != http.StatusOK {
		t.Fatalf("pxe_enabled in maintenance: %d %s", resp.StatusCode, b)
	}
}

// Item 9: ?fields keeps links (ironic/api/controllers/v1/utils.py:437);
// ?detail before 1.43 is a 400 (utils.py:1535), not a 406.
func TestIronicFieldsAndDetailStatuses(t *testing.T) {
	e := compatEnv(t)
	id := createNode(t, e, `{"driver": "fake", "name": "f1"}`)
	if n := getJSON(t, e.URL+"/v1/nodes/"+id+"?fields=name", "1.89"); n["links"] == nil || n["name"] != "f1" || len(n) != 2 {
		t.Errorf("?fields=name: %v, want name and links", n)
	}
	for _, x := range getJSON(t, e.URL+"/v1/nodes?fields=uuid", "1.89")["nodes"].([]any) {
		if x.(map[string]any)["links"] == nil {
			t.Errorf("listing with fields lacks links: %v", x)
		}
	}
	want4xx(t, "GET", e.URL+"/v1/ports?detail=True", "1.42", "", 400, "Invalid query parameter ?detail=True received.")
	want4xx(t, "GET", e.URL+"/v1/nodes?detail=True", "1.42", "", 400, "Invalid query parameter ?detail=True received.")
}

// Item 10: an interface the node's driver does not offer gets Ironic's own
// answers (ironic/common/driver_factory.py:97, InterfaceNotFoundInEntrypoint,
// and :111, IncompatibleInterface; both 400); one it offers is recorded and
// shown; null returns to the default. The target RAID configuration of a
// node with a RAID interface is recorded (ironic/conductor/manager.py
// set_target_raid_config); with no-raid it is a 404 (node.py:846).
func TestIronicInterfaceFields(t *testing.T) {
	e := compatEnv(t)
	want4xx(t, "POST", e.URL+"/v1/nodes", "1.89", `{"driver": "fake", "boot_interface": "ipxe"}`, 400,
		"boot interface implementation 'ipxe' is not supported by hardware type fake.")
	want4xx(t, "POST", e.URL+"/v1/nodes", "1.89", `{"driver": "ipmi", "boot_interface": "http-ipxe"}`, 400,
		"Could not find the following interface in the 'ironic.hardware.interfaces.boot' entrypoint: http-ipxe. Valid interfaces are [")
	want4xx(t, "POST", e.URL+"/v1/nodes", "1.89", `{"driver": "ipmi", "boot_interface": "fake-virtual-media"}`, 400,
		"is not supported by hardware type IPMIHardware.")

	// gophercloud's fixture: ipmi with boot_interface ipxe and raid agent.
	id := createNode(t, e, `{"driver": "ipmi", "boot_interface": "pxe", "raid_interface": "agent", "driver_info": {"ipmi_address": "127.0.0.1"}}`)
	n := getJSON(t, e.URL+"/v1/nodes/"+id, "1.89")
	if n["boot_interface"] != "pxe" || n["raid_interface"] != "agent" || n["firmware_interface"] != "no-firmware" {
		t.Fatalf("recorded interfaces: boot %v raid %v firmware %v", n["boot_interface"], n["raid_interface"], n["firmware_interface"])
	}
	resp, b := call(t, "PATCH", e.URL+"/v1/nodes/"+id, "1.89", `[{"op": "replace", "path": "/boot_interface", "value": "ipxe"}, {"op": "add", "path": "/extra/a", "value": 1}]`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patch boot_interface: %d %s", resp.StatusCode, b)
	}
	if n := getJSON(t, e.URL+"/v1/nodes/"+id, "1.89"); n["boot_interface"] != "ipxe" || n["raid_interface"] != "agent" {
		t.Fatalf("after the patch: boot %v raid %v", n["boot_interface"], n["raid_interface"])
	}
	want4xx(t, "PATCH", e.URL+"/v1/nodes/"+id, "1.89", `[{"op": "replace", "path": "/power_interface", "value": "ipmitool"}]`, 400, "Could not find the following interface")
	resp, b = call(t, "PATCH", e.URL+"/v1/nodes/"+id, "1.89", `[{"op": "replace", "path": "/boot_interface", "value": null}]`)
	if resp.StatusCode != http.StatusOK || getJSON(t, e.URL+"/v1/nodes/"+id, "1.89")["boot_interface"] != "ipxe" {
		t.Fatalf("boot_interface null: %d %s, want the default ipxe", resp.StatusCode, b)
	}

	raid := `{"logical_disks": [{"size_gb": 100, "raid_level": "5", "is_root_volume": true, "disk_type": "hdd", "number_of_physical_disks": 5}]}`
	if resp, b := call(t, "PUT", e.URL+"/v1/nodes/"+id+"/states/raid", "1.89", raid); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("states/raid: %d %s", resp.StatusCode, b)
	}
	var wantRAID any
	json.Unmarshal([]byte(raid), &wantRAID)
	if n := getJSON(t, e.URL+"/v1/nodes/"+id, "1.89"); !jsonIs(n["target_raid_config"], wantRAID) {
		t.Fatalf("target_raid_config %v", n["target_raid_config"])
	}
	want4xx(t, "PUT", e.URL+"/v1/nodes/"+id+"/states/raid", "1.89", `{"logical_disks": [{"size_gb": 1, "raid_level": "7"}]}`, 400, "RAID config validation error")
	want4xx(t, "PUT", e.URL+"/v1/nodes/"+id+"/states/raid", "1.11", raid, 406, "")
	plain := createNode(t, e, `{"driver": "fake"}`)
	want4xx(t, "PUT", e.URL+"/v1/nodes/"+plain+"/states/raid", "1.89", raid, 404, "Driver fake does not support raid (disabled or not implemented).")
}

// Item 10, changes: an interface changes only in enroll, inspecting,
// inspect wait, manageable or available, or in maintenance (InvalidState,
// 409, ironic/conductor/manager.py update_node); a node keeps its
// interfaces across a change of driver, which must offer them (driver
// factory's 400) unless ?reset_interfaces=true (1.45) returns them to its
// defaults; reset_interfaces without a new driver is a 400
// (ironic/api/controllers/v1/node.py, _validate_patch).
func TestIronicInterfaceChanges(t *testing.T) {
	e := compatEnv(t)
	id := createNode(t, e, `{"driver": "fake-hardware", "raid_interface": "agent"}`)
	patch := func(query, body string) (*http.Response, []byte) {
		return call(t, "PATCH", e.URL+"/v1/nodes/"+id+query, "1.89", body)
	}
	want4xx(t, "PATCH", e.URL+"/v1/nodes/"+id, "1.89", `[{"op": "replace", "path": "/driver", "value": "ipmi"}]`, 400,
		"boot interface implementation 'fake' is not supported by hardware type IPMIHardware.")
	toIPMI := `[{"op": "replace", "path": "/driver", "value": "ipmi"}, {"op": "replace", "path": "/boot_interface", "value": "pxe"},
		{"op": "replace", "path": "/deploy_interface", "value": "ramdisk"}, {"op": "replace", "path": "/inspect_interface", "value": "ipmi"},
		{"op": "replace", "path": "/management_interface", "value": "ipmi"}, {"op": "replace", "path": "/power_interface", "value": "ipmi"}]`
	if resp, b := patch("", toIPMI); resp.StatusCode != http.StatusOK {
		t.Fatalf("fake-hardware to ipmi keeping raid agent: %d %s", resp.StatusCode, b)
	}
	if n := getJSON(t, e.URL+"/v1/nodes/"+id, "1.89"); n["raid_interface"] != "agent" || n["boot_interface"] != "pxe" {
		t.Fatalf("after the driver change: raid %v boot %v", n["raid_interface"], n["boot_interface"])
	}
	want4xx(t, "PATCH", e.URL+"/v1/nodes/"+id+"?reset_interfaces=true", "1.89", `[{"op": "add", "path": "/extra/x", "value": 1}]`, 400,
		"The reset_interfaces parameter can only be used when changing the node's driver.")
	want4xx(t, "PATCH", e.URL+"/v1/nodes/"+id+"?reset_interfaces=true", "1.44", `[{"op": "replace", "path": "/driver", "value": "fake"}]`, 406, "")
	want4xx(t, "PATCH", e.URL+"/v1/nodes/"+id, "1.89", `[{"op": "replace", "path": "/raid_interface", "value": "fake"}]`, 400,
		"raid interface implementation 'fake' is not supported by hardware type IPMIHardware.")
	if resp, b := patch("?reset_interfaces=true", `[{"op": "replace", "path": "/driver", "value": "fake-hardware"}]`); resp.StatusCode != http.StatusOK {
		t.Fatalf("back to fake-hardware with reset: %d %s", resp.StatusCode, b)
	}
	if n := getJSON(t, e.URL+"/v1/nodes/"+id, "1.89"); n["raid_interface"] != "fake" || n["boot_interface"] != "fake" {
		t.Fatalf("reset_interfaces kept raid %v boot %v", n["raid_interface"], n["boot_interface"])
	}

	setProvision(t, e, id, "manage")
	waitProvision(t, e, id, "manageable")
	setProvision(t, e, id, "provide")
	waitProvision(t, e, id, "available")
	if resp, b := patch("", `[{"op": "replace", "path": "/raid_interface", "value": "agent"}]`); resp.StatusCode != http.StatusOK {
		t.Fatalf("raid on an available node: %d %s", resp.StatusCode, b)
	}
	setProvision(t, e, id, "active")
	waitProvision(t, e, id, "active")
	want4xx(t, "PATCH", e.URL+"/v1/nodes/"+id, "1.89", `[{"op": "replace", "path": "/raid_interface", "value": "no-raid"}]`, 409,
		"can not have raid_interface updated unless it is in one of allowed (enroll, inspecting, inspect wait, manageable, available) states or in maintenance mode. Current state is 'active'.")
	if resp, b := patch("", `[{"op": "add", "path": "/extra/a", "value": 1}]`); resp.StatusCode != http.StatusOK {
		t.Fatalf("extra on an active node: %d %s", resp.StatusCode, b)
	}
	if resp, b := patch("", `[{"op": "replace", "path": "/maintenance", "value": true}, {"op": "replace", "path": "/raid_interface", "value": "no-raid"}]`); resp.StatusCode != http.StatusOK {
		t.Fatalf("raid in maintenance: %d %s", resp.StatusCode, b)
	}
}

// Item 9, below a node: one port, connector or target, or a creation,
// addressed through /v1/nodes/{node}/... is Ironic's MalformedRequestURI,
// 400 (ironic/api/controllers/v1/port.py:606, 627, 749, 859;
// volume_connector.py:234, 279, 341, 412; volume_target.py likewise).
func TestIronicMalformedURIBelowNode(t *testing.T) {
	e := compatEnv(t)
	id := createNode(t, e, `{"driver": "fake"}`)
	uuid := "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
	for _, c := range []struct{ method, path string }{
		{"POST", "/ports"}, {"GET", "/ports/" + uuid}, {"PATCH", "/ports/" + uuid}, {"DELETE", "/ports/" + uuid},
		{"POST", "/volume/connectors"}, {"GET", "/volume/connectors/" + uuid}, {"DELETE", "/volume/targets/" + uuid},
		{"POST", "/volume/targets"}, {"PATCH", "/volume/targets/" + uuid},
	} {
		want4xx(t, c.method, e.URL+"/v1/nodes/"+id+c.path, "1.89", `{}`, 400, "Malformed request URI.")
	}
	// Creating one for a node that does not exist is a 400 too (port.py
	// post raises NodeNotFound with code=BAD_REQUEST; volume_connector.py
	// post raises InvalidInput).
	want4xx(t, "POST", e.URL+"/v1/ports", "1.89", `{"node_uuid": "`+uuid+`", "address": "52:54:00:00:00:09"}`, 400, uuid)
	want4xx(t, "POST", e.URL+"/v1/volume/connectors", "1.89", `{"node_uuid": "`+uuid+`", "type": "iqn", "connector_id": "iqn.x"}`, 400, uuid)
}

// The baremetal CLI's `port create --node NAME` sends the node's name as
// node_uuid: Ironic looks it up by UUID or name (port.py post,
// api_utils.get_rpc_node) and records the UUID.
func TestIronicPortNodeByName(t *testing.T) {
	e := compatEnv(t)
	id := createNode(t, e, `{"driver": "fake-hardware", "name": "cli1"}`)
	resp, b := call(t, "POST", e.URL+"/v1/ports", "1.89", `{"node_uuid": "cli1", "address": "52:54:00:00:00:aa"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("port for node cli1: %d %s", resp.StatusCode, b)
	}
	var p map[string]any
	json.Unmarshal(b, &p)
	if p["node_uuid"] != id {
		t.Fatalf("port's node_uuid %v, want %s", p["node_uuid"], id)
	}
	want4xx(t, "POST", e.URL+"/v1/ports", "1.89", `{"node_uuid": "nosuch", "address": "52:54:00:00:00:ab"}`, 400, "nosuch")
	other := createNode(t, e, `{"driver": "fake-hardware", "name": "cli2"}`)
	resp, b = call(t, "PATCH", e.URL+"/v1/ports/"+p["uuid"].(string), "1.89", `[{"op": "replace", "path": "/node_uuid", "value": "cli2"}]`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"node_uuid":"`+other+`"`) {
		t.Fatalf("move the port to cli2: %d %s", resp.StatusCode, b)
	}
}
