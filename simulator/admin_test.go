package simulator

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAdminEndpoint(t *testing.T) {
	sim := startSim(t, Config{Systems: 3})
	ids := sim.SystemIDs()
	c := newClient(t, sim.URL())
	c.user = "" // the admin endpoint needs no credentials

	if sum := c.get("/sim"); sum["Systems"] != float64(3) || getStr(sum, "URL") != sim.URL() {
		t.Fatalf("summary %v", sum)
	}
	list := c.get("/sim/systems")
	if members := list["Members"].([]any); len(members) != 3 || getStr(getObj(members[2]), "URL") != sim.SystemURL(ids[2]) {
		t.Fatalf("systems %v", list)
	}

	// State knobs.
	st, _, body := c.do(http.MethodPatch, "/sim/systems/"+ids[0], map[string]any{"PowerState": "On", "OSCooperates": false}, nil)
	if st != 200 || getStr(body, "PowerState") != "On" || body["OSCooperates"] != false {
		t.Fatalf("PATCH state: %d %v", st, body)
	}
	if st, _, _ := c.do(http.MethodPatch, "/sim/systems/"+ids[0], map[string]any{"Username": "root"}, nil); st != 400 {
		t.Fatalf("username without password: %d", st)
	}
	if st, _, _ := c.do(http.MethodPatch, "/sim/systems/"+ids[0], map[string]any{"Colour": "red"}, nil); st != 400 {
		t.Fatalf("unknown field: %d", st)
	}
	if st, _, body := c.do(http.MethodPatch, "/sim/systems/"+ids[1], map[string]any{"Username": "root", "Password": "calvin"}, nil); st != 200 || strings.Contains(toJSON(t, body), "calvin") {
		t.Fatalf("credentials: %d %v", st, body)
	}
	rf := newClient(t, sim.URL())
	rf.user, rf.pass = "root", "calvin"
	rf.get(systemsPath + "/" + ids[1])

	// Status shows what the system booted from.
	_ = sim.System(ids[2]).InsertMedia("Cd", "http://img/x.iso", InsertOptions{Inserted: true})
	_ = sim.System(ids[2]).SetBootOverride(BootOverridePatch{Target: BootCd, Enabled: BootOnce})
	_ = sim.System(ids[2]).Reset(ResetOn)
	if bf := getObj(c.get("/sim/systems/"+ids[2]), "BootedFrom"); getStr(bf, "Device") != "Cd" || getStr(bf, "Image") != "http://img/x.iso" {
		t.Fatalf("BootedFrom %v", bf)
	}

	// Faults per system and fleet-wide.
	if st, _, body := c.do(http.MethodPut, "/sim/systems/"+ids[0]+"/fault", `{"ErrorRate": 1, "ErrorStatus": 503, "RetryAfter": "3s"}`, nil); st != 200 {
		t.Fatalf("PUT fault: %d %v", st, body)
	}
	f := c.get("/sim/systems/" + ids[0] + "/fault")
	if f["Own"] != true || getStr(getObj(f, "Effective"), "RetryAfter") != "3s" {
		t.Fatalf("fault %v", f)
	}
	rf.user, rf.pass = "admin", "password"
	if st, hdr, _ := rf.do(http.MethodGet, systemsPath+"/"+ids[0], nil, nil); st != 503 || hdr.Get("Retry-After") != "3" {
		t.Fatalf("faulted GET: %d %v", st, hdr)
	}
	if st, _, _ := c.do(http.MethodPut, "/sim/systems/"+ids[0]+"/fault", `{"ErrorRate": 7}`, nil); st != 400 {
		t.Fatalf("invalid fault: %d", st)
	}
	if st, _, _ := c.do(http.MethodDelete, "/sim/systems/"+ids[0]+"/fault", nil, nil); st != 204 {
		t.Fatalf("DELETE fault: %d", st)
	}
	if st, _, _ := c.do(http.MethodPut, "/sim/fault", `{"Latency": "1ms"}`, nil); st != 200 {
		t.Fatalf("PUT fleet fault: %d", st)
	}
	if got := sim.FleetFault(); got.Latency == 0 {
		t.Fatalf("fleet fault %+v", got)
	}
	if getStr(c.get("/sim/fault"), "Latency") != "1ms" {
		t.Fatal("GET /sim/fault")
	}
	if st, _, _ := c.do(http.MethodDelete, "/sim/fault", nil, nil); st != 204 || !sim.FleetFault().IsZero() {
		t.Fatalf("DELETE fleet fault: %d", st)
	}

	// Witness: overlaps and request log.
	a := sim.System(ids[0]).BeginMutation("test", "Reset", "On")
	sim.System(ids[0]).BeginMutation("test", "Reset", "Off").End(204)
	a.End(204)
	ov := c.get("/sim/overlaps")
	if ov["Total"] != float64(1) || getObj(ov, "Systems")[ids[0]] != float64(1) {
		t.Fatalf("overlaps %v", ov)
	}
	log := c.get("/sim/systems/" + ids[0] + "/log")
	if log["Overlaps"] != float64(1) || len(log["Entries"].([]any)) != 2 {
		t.Fatalf("log %v", log)
	}
	if st, _, _ := c.do(http.MethodDelete, "/sim/systems/"+ids[0]+"/log", nil, nil); st != 204 || sim.System(ids[0]).Overlaps() != 0 {
		t.Fatalf("DELETE log: %d", st)
	}
	if st, _, _ := c.do(http.MethodDelete, "/sim/overlaps", nil, nil); st != 204 {
		t.Fatalf("DELETE overlaps: %d", st)
	}
	if st, _, _ := c.do(http.MethodGet, "/sim/systems/nope", nil, nil); st != 404 {
		t.Fatalf("unknown system: %d", st)
	}
	if st, _, _ := c.do(http.MethodGet, "/sim/nothing", nil, nil); st != 404 {
		t.Fatalf("unknown route: %d", st)
	}
}

func TestPortPerSystem(t *testing.T) {
	sim := startSim(t, Config{Systems: 3, PortPerSystem: true})
	ids := sim.SystemIDs()
	seen := map[string]bool{sim.URL(): true}
	for _, id := range ids {
		ep := sim.Endpoint(id)
		if seen[ep] {
			t.Fatalf("endpoint %s reused", ep)
		}
		seen[ep] = true
		c := connect(t, ep, "admin", "password", false)
		systems, err := c.Service.Systems()
		if err != nil || len(systems) != 1 || systems[0].ID != id {
			t.Fatalf("%s sees %v %v", ep, systems, err)
		}
		raw := newClient(t, ep)
		if st, _, _ := raw.do(http.MethodGet, "/sim", nil, nil); st != 404 {
			t.Fatalf("admin on a system port: %d", st)
		}
		other := ids[(indexOf(ids, id)+1)%len(ids)]
		if st, _, _ := raw.do(http.MethodGet, systemsPath+"/"+other, nil, nil); st != 404 {
			t.Fatalf("%s serves %s: %d", ep, other, st)
		}
	}
	// A system port takes only that system's credentials.
	sim.System(ids[0]).SetCredentials("root", "calvin")
	raw := newClient(t, sim.Endpoint(ids[0]))
	if st, _, _ := raw.do(http.MethodGet, systemsPath, nil, nil); st != 401 {
		t.Fatalf("default credentials on a port with its own: %d", st)
	}
	raw.user, raw.pass = "root", "calvin"
	raw.get(systemsPath)
}

func TestHandlersWithHTTPTest(t *testing.T) {
	sim, err := New(Config{Systems: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	fleet := httptest.NewServer(sim.Handler())
	defer fleet.Close()
	ids := sim.SystemIDs()
	c := newClient(t, fleet.URL)
	if n := c.get(systemsPath)["Members@odata.count"]; n != float64(2) {
		t.Fatalf("fleet handler lists %v systems", n)
	}
	h, err := sim.SystemHandler(ids[1])
	if err != nil {
		t.Fatal(err)
	}
	one := httptest.NewServer(h)
	defer one.Close()
	c = newClient(t, one.URL)
	if m := c.get(systemsPath)["Members"].([]any); len(m) != 1 || getStr(getObj(m[0]), "@odata.id") != sim.SystemPath(ids[1]) {
		t.Fatalf("system handler lists %v", m)
	}
	if _, err := sim.SystemHandler("nope"); !errors.Is(err, ErrUnknownSystem) {
		t.Fatalf("SystemHandler(nope): %v", err)
	}
	c.hc.CloseIdleConnections()
}

func indexOf(ids []string, id string) int {
	for i, v := range ids {
		if v == id {
			return i
		}
	}
	return -1
}

func TestStartAndCloseLifecycle(t *testing.T) {
	sim, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if sim.Len() != 1 || sim.URL() != "" || sim.SystemURL(sim.SystemIDs()[0]) != "" {
		t.Fatal("defaults")
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx, "127.0.0.1:0"); err == nil {
		t.Fatal("second Start succeeded")
	}
	newClient(t, sim.URL()).get(v1)
	cancel() // the context ends serving
	// A fresh connection per try, each answer's body closed: a body left
	// open holds its connection's goroutines for good (goleak saw 18 pairs
	// when a loaded machine let the server answer 18 tries after cancel).
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for deadline := 0; ; deadline++ {
		resp, err := probe.Get(sim.URL() + "/redfish")
		if err != nil {
			break
		}
		resp.Body.Close()
		if deadline > 1000 {
			t.Fatal("still serving after the context ended")
		}
	}
	_ = sim.Close()
	_ = sim.Close()
	if err := sim.Start(context.Background(), "127.0.0.1:0"); err == nil {
		t.Fatal("Start after Close succeeded")
	}
	if _, err := New(Config{Systems: -1}); err == nil {
		t.Fatal("negative systems accepted")
	}
	if _, err := New(Config{Fault: Fault{ErrorRate: 3}}); err == nil {
		t.Fatal("invalid fault accepted")
	}
	if _, err := New(Config{MockupDir: t.TempDir()}); err == nil {
		t.Fatal("empty mockup accepted")
	}
}
