package simulator

import (
	"net/http"
	"strings"
	"testing"
)

// crawl GETs every resource reachable from the service root by @odata.id
// links and checks the Redfish basics on each: 200, @odata.id equal to the
// URI, @odata.type, and @odata.etag equal to the ETag header. For mockups,
// tolerate says which departures are the bundle's own (a dangling link that
// answers 404, an @odata.id that the stored file has wrong too).
func crawl(t *testing.T, c *client, tolerate *tolerance) map[string]map[string]any {
	t.Helper()
	seen := map[string]map[string]any{}
	queue := []string{v1 + "/"}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		key := cleanPath(p)
		if _, ok := seen[key]; ok {
			continue
		}
		st, hdr, body := c.do(http.MethodGet, p, nil, nil)
		seen[key] = body
		if st == http.StatusNotFound && tolerate != nil && tolerate.missing(key) {
			continue
		}
		if st != http.StatusOK {
			t.Errorf("GET %s: %d %v", p, st, body)
			continue
		}
		if hdr.Get("Content-Type") == "application/xml" {
			continue
		}
		if id := getStr(body, "@odata.id"); cleanPath(id) != key && (tolerate == nil || !tolerate.wrongID(key, id)) {
			t.Errorf("GET %s: @odata.id %q", p, id)
		}
		if getStr(body, "@odata.type") == "" && !strings.HasSuffix(key, "/odata") {
			t.Errorf("GET %s: no @odata.type", p)
		}
		if tag := getStr(body, "@odata.etag"); tag == "" || tag != hdr.Get("ETag") {
			t.Errorf("GET %s: @odata.etag %q, ETag header %q", p, tag, hdr.Get("ETag"))
		}
		queue = append(queue, links(body)...)
	}
	return seen
}

// tolerance lists the departures of a mockup bundle from Redfish basics.
type tolerance struct {
	missing func(path string) bool
	wrongID func(path, id string) bool
}

// links collects every @odata.id below v except its own.
func links(v any) []string {
	var out []string
	var walk func(v any, top bool)
	walk = func(v any, top bool) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				// @Redfish.ActionInfo links a resource of its own (the
				// allowable values of an action) without an @odata.id.
				if s, ok := c.(string); ok && (k == "@odata.id" && !top || k == "@Redfish.ActionInfo") {
					if i := strings.IndexByte(s, '#'); i >= 0 {
						s = s[:i]
					}
					if strings.HasPrefix(s, v1) {
						out = append(out, s)
					}
					continue
				}
				walk(c, false)
			}
		case []any:
			for _, c := range x {
				walk(c, false)
			}
		}
	}
	walk(v, true)
	return out
}

func TestCrawlNativeResources(t *testing.T) {
	sim := startSim(t, Config{Systems: 2})
	seen := crawl(t, newClient(t, sim.URL()), nil)
	id := sim.SystemIDs()[1]
	for _, p := range []string{
		systemsPath + "/" + id, systemsPath + "/" + id + "/Bios", systemsPath + "/" + id + "/Bios/Settings",
		systemsPath + "/" + id + "/SecureBoot", systemsPath + "/" + id + "/Processors/CPU0",
		systemsPath + "/" + id + "/Memory/DIMM0", systemsPath + "/" + id + "/Storage/1/Drives/0",
		chassisPath + "/" + id + "/PCIeDevices/0/PCIeFunctions/0",
		systemsPath + "/" + id + "/EthernetInterfaces/1", systemsPath + "/" + id + "/SimpleStorage/1",
		systemsPath + "/" + id + "/VirtualMedia/Cd", managersPath + "/" + id + "/VirtualMedia/Usb",
		chassisPath + "/" + id, sessionServicePath, sessionsPath,
	} {
		if _, ok := seen[p]; !ok {
			t.Errorf("crawl did not reach %s", p)
		}
	}
	sys := seen[systemsPath+"/"+id]
	if got := getStrs(getObj(sys, "Actions", "#ComputerSystem.Reset"), "ResetType@Redfish.AllowableValues"); len(got) != 9 {
		t.Errorf("allowable reset types %v", got)
	}
	if got := getStrs(getObj(sys, "Boot"), "BootSourceOverrideTarget@Redfish.AllowableValues"); len(got) == 0 {
		t.Error("no allowable boot targets")
	}
	if mac := getStr(seen[systemsPath+"/"+id+"/EthernetInterfaces/1"], "MACAddress"); mac != "52:54:00:00:00:01" {
		t.Errorf("MAC %q", mac)
	}
}

func TestRedfishErrorPaths(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	c := newClient(t, sim.URL())
	id := sim.SystemIDs()[0]
	sp := systemsPath + "/" + id
	_ = sim.System(id).InsertMedia("Cd", "http://img/a.iso", InsertOptions{Inserted: true})
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		msgID  string
	}{
		{"bad reset type", http.MethodPost, sp + "/Actions/ComputerSystem.Reset", map[string]string{"ResetType": "Explode"}, 400, "ActionParameterValueNotInList"},
		{"missing reset type", http.MethodPost, sp + "/Actions/ComputerSystem.Reset", map[string]string{}, 400, "ActionParameterMissing"},
		{"malformed body", http.MethodPost, sp + "/Actions/ComputerSystem.Reset", "{not json", 400, "MalformedJSON"},
		{"bad boot target", http.MethodPatch, sp, map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Moon"}}, 400, "PropertyValueNotInList"},
		{"unknown property", http.MethodPatch, sp, map[string]any{"Name": "x"}, 400, "PropertyNotWritable"},
		{"unknown boot property", http.MethodPatch, sp, map[string]any{"Boot": map[string]string{"Colour": "x"}}, 400, "PropertyNotWritable"},
		{"occupied media", http.MethodPost, managersPath + "/" + id + "/VirtualMedia/Cd/Actions/VirtualMedia.InsertMedia", map[string]any{"Image": "http://img/b.iso"}, 409, "ResourceInUse"},
		{"insert without image", http.MethodPost, managersPath + "/" + id + "/VirtualMedia/Usb/Actions/VirtualMedia.InsertMedia", map[string]any{}, 400, "ActionParameterMissing"},
		{"unknown system", http.MethodGet, systemsPath + "/nope", nil, 404, "ResourceMissingAtURI"},
		{"unknown device", http.MethodGet, sp + "/VirtualMedia/Tape", nil, 404, "ResourceMissingAtURI"},
		{"delete a system", http.MethodDelete, sp, nil, 405, "OperationNotAllowed"},
		{"bios attribute unknown", http.MethodPatch, sp + "/Bios/Settings", map[string]any{"Attributes": map[string]any{"Warp": 9}}, 400, "PropertyValueNotInList"},
		{"secure boot wrong type", http.MethodPatch, sp + "/SecureBoot", map[string]any{"SecureBootEnable": "yes"}, 400, "MalformedJSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, hdr, body := c.do(tc.method, tc.path, tc.body, nil)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %v", st, tc.status, body)
			}
			if got := messageID(body); got != registryPrefix+tc.msgID {
				t.Fatalf("MessageId %q, want %s: %v", got, tc.msgID, body)
			}
			if code := getStr(getObj(body, "error"), "code"); !strings.HasPrefix(code, "Base.") {
				t.Fatalf("error.code %q", code)
			}
			if tc.status == 405 && hdr.Get("Allow") != "GET, PATCH" {
				t.Fatalf("Allow %q", hdr.Get("Allow"))
			}
		})
	}
}

func TestPatchHonoursIfMatch(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	c := newClient(t, sim.URL())
	sp := systemsPath + "/" + sim.SystemIDs()[0]
	_, hdr, _ := c.do(http.MethodGet, sp, nil, nil)
	old := hdr.Get("ETag")
	boot := map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}}
	st, hdr, body := c.do(http.MethodPatch, sp, boot, map[string]string{"If-Match": old})
	if st != http.StatusOK {
		t.Fatalf("PATCH with the current ETag: %d %v", st, body)
	}
	if hdr.Get("ETag") == old || getStr(body, "@odata.etag") != hdr.Get("ETag") {
		t.Fatalf("ETag did not change: %q -> %q", old, hdr.Get("ETag"))
	}
	if got := getStr(getObj(body, "Boot"), "BootSourceOverrideTarget"); got != "Pxe" {
		t.Fatalf("PATCH answered %q", got)
	}
	st, _, body = c.do(http.MethodPatch, sp, map[string]any{"IndicatorLED": "Lit"}, map[string]string{"If-Match": old})
	if st != http.StatusPreconditionFailed || messageID(body) != registryPrefix+"PreconditionFailed" {
		t.Fatalf("PATCH with a stale ETag: %d %v", st, body)
	}
	if sim.System(sim.SystemIDs()[0]).IndicatorLED() != LEDOff {
		t.Fatal("a 412 PATCH changed the LED")
	}
	for _, tag := range []string{"*", "W/" + hdr.Get("ETag")} {
		_, hdr, _ = c.do(http.MethodGet, sp, nil, nil)
		if tag != "*" {
			tag = "W/" + hdr.Get("ETag")
		}
		if st, _, body := c.do(http.MethodPatch, sp, map[string]any{"IndicatorLED": "Blinking"}, map[string]string{"If-Match": tag}); st != http.StatusOK {
			t.Fatalf("If-Match %s: %d %v", tag, st, body)
		}
	}
}

func TestAuthentication(t *testing.T) {
	sim := startSim(t, Config{Systems: 2})
	ids := sim.SystemIDs()
	sim.System(ids[1]).SetCredentials("root", "calvin")
	tests := []struct {
		name       string
		user, pass string
		path       string
		status     int
	}{
		{"service root is public", "", "", v1 + "/", 200},
		{"version is public", "", "", "/redfish", 200},
		{"no credentials", "", "", systemsPath, 401},
		{"wrong password", "admin", "wrong", systemsPath + "/" + ids[0], 401},
		{"default credentials", "admin", "password", systemsPath + "/" + ids[0], 200},
		{"default credentials on a system with its own", "admin", "password", systemsPath + "/" + ids[1], 401},
		{"own credentials", "root", "calvin", systemsPath + "/" + ids[1], 200},
		{"own credentials elsewhere", "root", "calvin", systemsPath + "/" + ids[0], 401},
		{"own credentials on a fleet collection", "root", "calvin", systemsPath, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, sim.URL())
			c.user, c.pass = tc.user, tc.pass
			st, hdr, body := c.do(http.MethodGet, tc.path, nil, nil)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %v", st, tc.status, body)
			}
			if st == 401 && (hdr.Get("WWW-Authenticate") == "" || messageID(body) != registryPrefix+"NoValidSession") {
				t.Fatalf("401 without challenge or Redfish body: %v %v", hdr, body)
			}
		})
	}
}

func TestSessions(t *testing.T) {
	sim := startSim(t, Config{Systems: 2})
	ids := sim.SystemIDs()
	sim.System(ids[1]).SetCredentials("root", "calvin")
	c := newClient(t, sim.URL())
	c.user = ""
	if st, _, body := c.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "admin", "Password": "nope"}, nil); st != 401 {
		t.Fatalf("login with a bad password: %d %v", st, body)
	}
	if st, _, body := c.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "admin"}, nil); st != 400 {
		t.Fatalf("login without password: %d %v", st, body)
	}
	st, hdr, body := c.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "admin", "Password": "password"}, nil)
	if st != http.StatusCreated || hdr.Get("X-Auth-Token") == "" || !strings.HasPrefix(hdr.Get("Location"), sessionsPath+"/") {
		t.Fatalf("login: %d %v %v", st, hdr, body)
	}
	if getStr(body, "UserName") != "admin" || body["Password"] != nil {
		t.Fatalf("session body %v", body)
	}
	loc := hdr.Get("Location")
	c.tok = hdr.Get("X-Auth-Token")
	c.get(systemsPath + "/" + ids[0])
	if st, _, _ := c.do(http.MethodGet, systemsPath+"/"+ids[1], nil, nil); st != 401 {
		t.Fatalf("admin's session on root's system: %d", st)
	}
	members := c.get(sessionsPath)["Members"].([]any)
	if len(members) != 1 || getStr(getObj(members[0]), "@odata.id") != loc {
		t.Fatalf("sessions %v", members)
	}
	c.get(loc)
	if st, _, _ := c.do(http.MethodDelete, loc, nil, nil); st != http.StatusNoContent {
		t.Fatalf("logout: %d", st)
	}
	if st, _, _ := c.do(http.MethodGet, systemsPath, nil, nil); st != 401 {
		t.Fatalf("token after logout: %d", st)
	}
	c.tok = ""
	c.user, c.pass = "admin", "password"
	if st, _, _ := c.do(http.MethodDelete, loc, nil, nil); st != 404 {
		t.Fatalf("second logout: %d", st)
	}
	// A system with its own credentials: a session of those reaches it.
	c.user = ""
	_, hdr, _ = c.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "root", "Password": "calvin"}, nil)
	c.tok = hdr.Get("X-Auth-Token")
	c.get(systemsPath + "/" + ids[1])
}

func TestSessionLimit(t *testing.T) {
	sim := startSim(t, Config{Systems: 1, MaxSessions: 2})
	c := newClient(t, sim.URL())
	for i, want := range []int{201, 201, 503} {
		if st, _, body := c.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "admin", "Password": "password"}, nil); st != want {
			t.Fatalf("login %d: %d %v", i, st, body)
		}
	}
}

func TestVirtualMediaBothPaths(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	id := sim.SystemIDs()[0]
	c := newClient(t, sim.URL())
	mp := managersPath + "/" + id + "/VirtualMedia/Cd"
	sp := systemsPath + "/" + id + "/VirtualMedia/Cd"
	cd := c.get(mp)
	if got := getStrs(cd, "MediaTypes"); len(got) != 2 || got[0] != "CD" {
		t.Fatalf("MediaTypes %v", got)
	}
	insert := getStr(getObj(cd, "Actions", "#VirtualMedia.InsertMedia"), "target")
	if st, _, body := c.do(http.MethodPost, insert, map[string]any{"Image": "http://img/boot.iso", "Inserted": true, "WriteProtected": false}, nil); st != 204 {
		t.Fatalf("insert: %d %v", st, body)
	}
	got := c.get(sp)
	if getStr(got, "Image") != "http://img/boot.iso" || got["Inserted"] != true || got["WriteProtected"] != false || getStr(got, "ImageName") != "boot.iso" {
		t.Fatalf("system view after insert via manager: %v", got)
	}
	eject := getStr(getObj(got, "Actions", "#VirtualMedia.EjectMedia"), "target")
	if !strings.HasPrefix(eject, sp) {
		t.Fatalf("system view's eject target %q", eject)
	}
	if st, _, body := c.do(http.MethodPost, eject, map[string]any{}, nil); st != 204 {
		t.Fatalf("eject: %d %v", st, body)
	}
	if got := c.get(mp); got["Image"] != nil || got["Inserted"] != false {
		t.Fatalf("after eject: %v", got)
	}
	// The PATCH form.
	if st, _, body := c.do(http.MethodPatch, sp, map[string]any{"Image": "http://img/2.iso", "Inserted": true}, nil); st != 200 || getStr(body, "Image") != "http://img/2.iso" {
		t.Fatalf("PATCH Image: %d %v", st, body)
	}
	if st, _, body := c.do(http.MethodPatch, sp, map[string]any{"Image": nil}, nil); st != 200 || body["Image"] != nil {
		t.Fatalf("PATCH Image null: %d %v", st, body)
	}
}

func TestRawResetBootAndLED(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	id := sim.SystemIDs()[0]
	c := newClient(t, sim.URL())
	sp := systemsPath + "/" + id
	if st, _, body := c.do(http.MethodPatch, sp, map[string]any{
		"Boot":         map[string]string{"BootSourceOverrideTarget": "Cd", "BootSourceOverrideEnabled": "Once", "BootSourceOverrideMode": "Legacy"},
		"IndicatorLED": "Blinking",
	}, nil); st != 200 {
		t.Fatalf("PATCH: %d %v", st, body)
	}
	_ = sim.System(id).InsertMedia("Cd", "http://img/live.iso", InsertOptions{Inserted: true})
	if st, _, body := c.do(http.MethodPost, sp+"/Actions/ComputerSystem.Reset", map[string]string{"ResetType": "On"}, nil); st != 204 {
		t.Fatalf("reset: %d %v", st, body)
	}
	sys := c.get(sp)
	if getStr(sys, "PowerState") != "On" || getStr(sys, "IndicatorLED") != "Blinking" {
		t.Fatalf("system %v", sys)
	}
	if boot := getObj(sys, "Boot"); getStr(boot, "BootSourceOverrideEnabled") != "Disabled" || getStr(boot, "BootSourceOverrideMode") != "Legacy" {
		t.Fatalf("boot after the Once boot: %v", boot)
	}
	if b := sim.System(id).BootedFrom(); b.Device != BootCd || b.Image != "http://img/live.iso" || b.Mode != BootModeLegacy {
		t.Fatalf("booted from %+v", b)
	}
	if ch := c.get(chassisPath + "/" + id); getStr(ch, "PowerState") != "On" {
		t.Fatalf("chassis %v", ch)
	}
	if st, _, _ := c.do(http.MethodPost, managersPath+"/"+id+"/Actions/Manager.Reset", map[string]string{"ResetType": "GracefulRestart"}, nil); st != 204 {
		t.Fatalf("manager reset: %d", st)
	}
	// HEAD answers like GET without a body.
	if st, hdr, _ := c.do(http.MethodHead, sp, nil, nil); st != 200 || hdr.Get("ETag") == "" {
		t.Fatalf("HEAD: %d %v", st, hdr)
	}
}

func TestRawBiosAndSecureBoot(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	id := sim.SystemIDs()[0]
	c := newClient(t, sim.URL())
	sp := systemsPath + "/" + id
	if st, _, body := c.do(http.MethodPatch, sp+"/Bios/Settings", map[string]any{"Attributes": map[string]any{"BootMode": "Bios"}}, nil); st != 200 || getStr(getObj(body, "Attributes"), "BootMode") != "Bios" {
		t.Fatalf("PATCH Bios/Settings: %d %v", st, body)
	}
	if got := getStr(getObj(c.get(sp+"/Bios"), "Attributes"), "BootMode"); got != "Uefi" {
		t.Fatalf("applied before reboot: %s", got)
	}
	_, _, _ = c.do(http.MethodPost, sp+"/Actions/ComputerSystem.Reset", map[string]string{"ResetType": "On"}, nil)
	if got := getStr(getObj(c.get(sp+"/Bios"), "Attributes"), "BootMode"); got != "Bios" {
		t.Fatalf("not applied at boot: %s", got)
	}
	if st, _, _ := c.do(http.MethodPost, sp+"/Bios/Actions/Bios.ResetBios", map[string]any{}, nil); st != 204 {
		t.Fatalf("ResetBios: %d", st)
	}
	if got := getStr(getObj(c.get(sp+"/Bios"), "Attributes"), "BootMode"); got != "Uefi" {
		t.Fatalf("after ResetBios: %s", got)
	}
	if st, _, body := c.do(http.MethodPatch, sp+"/SecureBoot", map[string]any{"SecureBootEnable": true}, nil); st != 200 || body["SecureBootEnable"] != true || getStr(body, "SecureBootCurrentBoot") != "Enabled" {
		t.Fatalf("PATCH SecureBoot: %d %v", st, body)
	}
}
