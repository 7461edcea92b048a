package simulator

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/redfish"
)

// quirkBMC is one system on its own port with only the given quirks on,
// driven by a fake clock: the "for a while" windows pass when the test
// advances the clock, never by sleeping.
type quirkBMC struct {
	sim   *Simulator
	sys   *System
	id    string
	clock *fakeClock
	raw   *client
	path  string // the system's path on its port
}

func newQuirkBMC(t *testing.T, profile string, q *Quirks, delay time.Duration) *quirkBMC {
	t.Helper()
	clock := newFakeClock()
	sim := startSim(t, Config{Systems: 1, PortPerSystem: true, Profile: profile, Now: clock.Now, PowerDelay: delay})
	id := sim.SystemIDs()[0]
	sys := sim.System(id)
	if q != nil {
		if err := sys.SetQuirks(*q); err != nil {
			t.Fatal(err)
		}
	}
	ep := sim.Endpoint(id)
	return &quirkBMC{sim: sim, sys: sys, id: id, clock: clock, raw: newClient(t, ep),
		path: strings.TrimPrefix(sim.SystemURL(id), ep)}
}

// gofish connects with Basic auth to the system's port.
func (b *quirkBMC) gofish(t *testing.T) *gofish.APIClient {
	return connect(t, b.sim.Endpoint(b.id), "admin", "password", true)
}

// wantError asserts a Redfish error answer: status and MessageId.
func wantError(t *testing.T, what string, st int, body map[string]any, status int, msgID string) {
	t.Helper()
	if st != status || messageID(body) != msgID {
		t.Fatalf("%s: %d %q, want %d %q (body %v)", what, st, messageID(body), status, msgID, body)
	}
}

// wantGofishStatus asserts that a gofish call failed with status.
func wantGofishStatus(t *testing.T, what string, err error, status int) {
	t.Helper()
	if statusOf(err) != status {
		t.Fatalf("gofish %s: %v, want status %d", what, err, status)
	}
}

func (b *quirkBMC) reset(kind string) (int, map[string]any) {
	st, _, body := b.raw.do(http.MethodPost, b.path+"/Actions/ComputerSystem.Reset", map[string]string{"ResetType": kind}, nil)
	return st, body
}

func TestProfileMixIsDeterministic(t *testing.T) {
	mix, err := ParseProfiles("dell-idrac=40,hpe-ilo=30,supermicro=30")
	if err != nil {
		t.Fatal(err)
	}
	sim := startSim(t, Config{Systems: 10, ProfileMix: mix})
	want := []string{"dell-idrac", "dell-idrac", "dell-idrac", "dell-idrac", "hpe-ilo", "hpe-ilo", "hpe-ilo", "supermicro", "supermicro", "supermicro"}
	for i, id := range sim.SystemIDs() {
		if got := sim.System(id).Profile(); got != want[i] {
			t.Fatalf("%s: profile %s, want %s", id, got, want[i])
		}
	}
	c := newClient(t, sim.URL())
	list := c.get("/sim/systems")
	members, _ := list["Members"].([]any)
	if got := getStr(getObj(members[4]), "Profile"); got != "hpe-ilo" {
		t.Fatalf("admin lists sys-00005 as %q", got)
	}
	if got := getObj(c.get("/sim"), "Profiles")["supermicro"]; got != 3.0 {
		t.Fatalf("admin summary counts %v supermicro systems", got)
	}
	// On the shared port every system keeps its fleet id, with the vendor's
	// locations below it: Dell's CD under the Manager only.
	dell := c.get(systemsPath + "/sys-00001")
	if getStr(dell, "Id") != "sys-00001" || dell["VirtualMedia"] != nil {
		t.Fatalf("Dell system on the shared port: %v", dell)
	}
	c.get(managersPath + "/sys-00001/VirtualMedia/CD")
	if st, _, _ := c.do(http.MethodGet, systemsPath+"/sys-00001/VirtualMedia/CD", nil, nil); st != http.StatusNotFound {
		t.Fatalf("Dell media under the System on the shared port: %d", st)
	}
	if st, _, _ := c.do(http.MethodGet, systemsPath+"/System.Embedded.1", nil, nil); st != http.StatusNotFound {
		t.Fatalf("vendor id on the shared port: %d", st)
	}
	for _, bad := range []string{"dell-idrac", "nope=1", "dell-idrac=0"} {
		if _, err := ParseProfiles(bad); err == nil {
			t.Fatalf("ParseProfiles(%q) accepted", bad)
		}
	}
	if _, err := New(Config{Profile: "nope"}); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("unknown profile: %v", err)
	}
}

// TestProfileShapes checks each profile's ids on its own port, where its
// virtual media lives and how it lists reset types.
func TestProfileShapes(t *testing.T) {
	for _, tc := range []struct {
		profile, sys, mgr, cd     string
		mediaSystem, mediaManager bool
		actionInfo                bool
	}{
		{"generic", "sys-00001", "sys-00001", "Cd", true, true, false},
		{"dell-idrac", "System.Embedded.1", "iDRAC.Embedded.1", "CD", false, true, false},
		{"hpe-ilo", "1", "1", "2", false, true, false},
		{"supermicro", "1", "1", "CD1", false, true, true},
		{"lenovo-xcc", "1", "1", "EXT1", false, true, false},
		{"ami", "Self", "Self", "CD1", false, true, false},
		{"openbmc", "system", "bmc", "", false, false, true},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			b := newQuirkBMC(t, tc.profile, nil, 0)
			if b.path != systemsPath+"/"+tc.sys {
				t.Fatalf("SystemURL path %s", b.path)
			}
			coll := b.raw.get(systemsPath)
			members, _ := coll["Members"].([]any)
			if len(members) != 1 || getStr(getObj(members[0]), "@odata.id") != b.path {
				t.Fatalf("Systems %v", coll)
			}
			s := b.raw.get(b.path)
			if getStr(s, "Id") != tc.sys {
				t.Fatalf("Id %q", getStr(s, "Id"))
			}
			mgr := b.raw.get(managersPath + "/" + tc.mgr)
			reset := getObj(s, "Actions", "#ComputerSystem.Reset")
			_, inline := reset["ResetType@Redfish.AllowableValues"]
			if tc.actionInfo == inline || (getStr(reset, "@Redfish.ActionInfo") != "") != tc.actionInfo {
				t.Fatalf("reset action %v", reset)
			}
			if tc.actionInfo {
				info := b.raw.get(b.path + "/ResetActionInfo")
				params, _ := info["Parameters"].([]any)
				if len(params) != 1 || len(getStrs(getObj(params[0]), "AllowableValues")) != len(allResetTypes) {
					t.Fatalf("ResetActionInfo %v", info)
				}
			}
			for _, where := range []struct {
				base string
				res  map[string]any
				want bool
			}{{b.path, s, tc.mediaSystem}, {managersPath + "/" + tc.mgr, mgr, tc.mediaManager}} {
				st, _, _ := b.raw.do(http.MethodGet, where.base+"/VirtualMedia", nil, nil)
				_, linked := where.res["VirtualMedia"]
				if (st == http.StatusOK) != where.want || linked != where.want {
					t.Fatalf("%s/VirtualMedia: %d linked %v, want %v", where.base, st, linked, where.want)
				}
				if where.want {
					b.raw.get(where.base + "/VirtualMedia/" + tc.cd)
				}
			}
			// gofish walks the same shape.
			c := b.gofish(t)
			systems, err := c.Service.Systems()
			if err != nil || len(systems) != 1 || systems[0].ID != tc.sys {
				t.Fatalf("gofish systems %v %v", systems, err)
			}
			mgrs, err := c.Service.Managers()
			if err != nil || len(mgrs) != 1 || mgrs[0].ID != tc.mgr {
				t.Fatalf("gofish managers %v %v", mgrs, err)
			}
		})
	}
}

func TestQuirkSessionCap(t *testing.T) {
	b := newQuirkBMC(t, "generic", &Quirks{SessionCap: 2}, 0)
	login := map[string]string{"UserName": "admin", "Password": "password"}
	var locs []string
	for range 2 {
		st, hdr, body := b.raw.do(http.MethodPost, sessionsPath, login, nil)
		if st != http.StatusCreated {
			t.Fatalf("session: %d %v", st, body)
		}
		locs = append(locs, hdr.Get("Location"))
	}
	st, hdr, body := b.raw.do(http.MethodPost, sessionsPath, login, nil)
	wantError(t, "third session", st, body, http.StatusServiceUnavailable, "IDRAC.2.8.RAC0218")
	if ext, _ := getObj(body, "error")["@Message.ExtendedInfo"].([]any); getStr(getObj(ext[0]), "Message") != "The maximum number of user sessions is reached." || hdr.Get("X-Auth-Token") != "" {
		t.Fatalf("RAC0218 body %v", body)
	}
	if _, err := gofish.Connect(gofish.ClientConfig{Endpoint: b.sim.Endpoint(b.id), Username: "admin", Password: "password",
		HTTPClient: &http.Client{Transport: &http.Transport{}}}); statusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("gofish session beyond the cap: %v", err)
	}
	if st, _, _ := b.raw.do(http.MethodDelete, locs[0], nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete session: %d", st)
	}
	if st, _, _ := b.raw.do(http.MethodPost, sessionsPath, login, nil); st != http.StatusCreated {
		t.Fatalf("session after a logout: %d", st)
	}
}

func TestQuirkOnConflictAfterOff(t *testing.T) {
	b := newQuirkBMC(t, "generic", &Quirks{OnConflictAfterOff: Span(5 * time.Second)}, 0)
	if st, _ := b.reset("On"); st != http.StatusNoContent {
		t.Fatalf("On: %d", st)
	}
	if st, _ := b.reset("ForceOff"); st != http.StatusNoContent {
		t.Fatalf("ForceOff: %d", st)
	}
	st, body := b.reset("On")
	wantError(t, "On right after off", st, body, http.StatusConflict, "Base.1.18.ActionParameterValueConflict")
	s := gofishSystem(t, b.gofish(t), b.path)
	wantGofishStatus(t, "Reset(On)", s.Reset(redfish.OnResetType), http.StatusConflict)
	b.clock.Advance(5 * time.Second)
	if err := s.Reset(redfish.OnResetType); err != nil {
		t.Fatalf("On once the BMC settled: %v", err)
	}
	if b.sys.PowerState() != PowerOn {
		t.Fatal("not on")
	}
}

func TestQuirkBootViaSettings(t *testing.T) {
	b := newQuirkBMC(t, "dell-idrac", nil, 0)
	q := b.sys.Quirks()
	q.BootViaSettings, q.NoBootAllowableValues, q.Media = true, true, MediaUnderSystem
	if err := b.sys.SetQuirks(q); err != nil {
		t.Fatal(err)
	}
	st, _, body := b.raw.do(http.MethodPatch, b.path, map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}}, nil)
	wantError(t, "PATCH Boot on the System", st, body, http.StatusBadRequest, "Base.1.18.PropertyNotWritable")
	s := b.raw.get(b.path)
	if _, ok := getObj(s, "Boot")["BootSourceOverrideTarget@Redfish.AllowableValues"]; ok {
		t.Fatal("allowable values on the System")
	}
	settings := getStr(getObj(s, "@Redfish.Settings", "SettingsObject"), "@odata.id")
	if settings != b.path+"/Settings" {
		t.Fatalf("@Redfish.Settings %v", s["@Redfish.Settings"])
	}
	if vals := getStrs(getObj(b.raw.get(settings), "Boot"), "BootSourceOverrideTarget@Redfish.AllowableValues"); !slices.Contains(vals, "Pxe") {
		t.Fatalf("settings allowable values %v", vals)
	}
	if _, ok := s["VirtualMedia"]; !ok {
		t.Fatal("iDRAC 10 has virtual media under the System")
	}
	gs := gofishSystem(t, b.gofish(t), b.path)
	wantGofishStatus(t, "SetBoot", gs.SetBoot(redfish.Boot{BootSourceOverrideTarget: redfish.PxeBootSourceOverrideTarget}), http.StatusBadRequest)

	if st, _, body := b.raw.do(http.MethodPatch, settings, map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}}, nil); st != http.StatusOK {
		t.Fatalf("PATCH Settings: %d %v", st, body)
	}
	if got := b.sys.BootOverride().Target; got != BootNone {
		t.Fatalf("staged override applied before the reset: %s", got)
	}
	if st, _ := b.reset("On"); st != http.StatusNoContent {
		t.Fatalf("On: %d", st)
	}
	if rec := b.sys.BootedFrom(); rec.Device != BootPxe || !rec.Override {
		t.Fatalf("booted %+v, want the staged Pxe", rec)
	}
}

func TestQuirkResetDuringTransition(t *testing.T) {
	b := newQuirkBMC(t, "generic", &Quirks{ResetDuringTransition: true}, 10*time.Second)
	if st, _ := b.reset("On"); st != http.StatusNoContent {
		t.Fatalf("On: %d", st)
	}
	st, body := b.reset("ForceOff")
	wantError(t, "ForceOff while powering on", st, body, http.StatusBadRequest, "iLO.2.15.InvalidOperationForSystemState")
	s := gofishSystem(t, b.gofish(t), b.path)
	wantGofishStatus(t, "Reset(ForceOff)", s.Reset(redfish.ForceOffResetType), http.StatusBadRequest)
	b.clock.Advance(10 * time.Second)
	if err := s.Reset(redfish.ForceOffResetType); err != nil {
		t.Fatalf("ForceOff after the transition: %v", err)
	}
}

func TestQuirkPostWindow(t *testing.T) {
	b := newQuirkBMC(t, "generic", &Quirks{PostWindow: Span(30 * time.Second)}, 0)
	boot := map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Pxe"}}
	if st, _, _ := b.raw.do(http.MethodPatch, b.path, boot, nil); st != http.StatusOK {
		t.Fatalf("PATCH while off: %d", st)
	}
	b.reset("On")
	st, _, body := b.raw.do(http.MethodPatch, b.path, boot, nil)
	wantError(t, "PATCH during POST", st, body, http.StatusBadRequest, "iLO.2.15.UnableToModifyDuringSystemPOST")
	s := gofishSystem(t, b.gofish(t), b.path)
	wantGofishStatus(t, "SetBoot", s.SetBoot(redfish.Boot{BootSourceOverrideTarget: redfish.HddBootSourceOverrideTarget}), http.StatusBadRequest)
	b.clock.Advance(30 * time.Second)
	if st, _, _ := b.raw.do(http.MethodPatch, b.path, boot, nil); st != http.StatusOK {
		t.Fatalf("PATCH after POST: %d", st)
	}
}

// mediaPath is the path of the system's CD on its port.
func (b *quirkBMC) mediaPath(t *testing.T) string {
	t.Helper()
	base := b.path
	if !b.sys.mediaPlaced(false) {
		base = managersPath + "/" + namesOf(b.sys, b.sys).mgr
	}
	return base + "/VirtualMedia/" + b.sys.spec.devices[0].id
}

func TestQuirkEjectNeedsBody(t *testing.T) {
	b := newQuirkBMC(t, "hpe-ilo", nil, 0)
	vm := b.mediaPath(t)
	if err := b.sys.InsertMedia("2", "http://x/a.iso", InsertOptions{Inserted: true}); err != nil {
		t.Fatal(err)
	}
	st, _, body := b.raw.do(http.MethodPost, vm+"/Actions/VirtualMedia.EjectMedia", nil, nil)
	wantError(t, "EjectMedia without a body", st, body, http.StatusUnsupportedMediaType, "Base.1.18.MalformedJSON")
	// gofish sends {} and succeeds, as on iLO.
	m, err := redfish.GetVirtualMedia(b.gofish(t), vm)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EjectMedia(); err != nil {
		t.Fatalf("gofish EjectMedia: %v", err)
	}
	if b.sys.Media()[0].Image != "" {
		t.Fatal("not ejected")
	}
}

func TestQuirkSupermicroBoot(t *testing.T) {
	b := newQuirkBMC(t, "generic", &Quirks{CdNeedsUsbCd: true}, 0)
	if vals := getStrs(getObj(b.raw.get(b.path), "Boot"), "BootSourceOverrideTarget@Redfish.AllowableValues"); !slices.Contains(vals, "UsbCd") {
		t.Fatalf("allowable values %v", vals)
	}
	if err := b.sys.InsertMedia("Cd", "http://x/a.iso", InsertOptions{Inserted: true}); err != nil {
		t.Fatal(err)
	}
	s := gofishSystem(t, b.gofish(t), b.path)
	if err := s.SetBoot(redfish.Boot{BootSourceOverrideTarget: redfish.CdBootSourceOverrideTarget, BootSourceOverrideEnabled: redfish.OnceBootSourceOverrideEnabled}); err != nil {
		t.Fatalf("Cd accepted: %v", err)
	}
	b.reset("On")
	if rec := b.sys.BootedFrom(); rec.Image != "" || rec.Fallback == "" {
		t.Fatalf("Cd booted %+v, want the default device", rec)
	}
	st, _, body := b.raw.do(http.MethodPatch, b.path, map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "UsbCd", "BootSourceOverrideEnabled": "Once"}}, nil)
	if st != http.StatusOK {
		t.Fatalf("UsbCd: %d %v", st, body)
	}
	b.reset("ForceRestart")
	if rec := b.sys.BootedFrom(); rec.Image != "http://x/a.iso" {
		t.Fatalf("UsbCd booted %+v", rec)
	}
}

func TestQuirkEnabledRevertsToOnce(t *testing.T) {
	b := newQuirkBMC(t, "generic", &Quirks{EnabledRevertsToOnce: true}, 0)
	patch := func(boot map[string]string) {
		if st, _, body := b.raw.do(http.MethodPatch, b.path, map[string]any{"Boot": boot}, nil); st != http.StatusOK {
			t.Fatalf("PATCH %v: %d %v", boot, st, body)
		}
	}
	patch(map[string]string{"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Continuous"})
	patch(map[string]string{"BootSourceOverrideTarget": "Hdd"})
	if got := getStr(getObj(b.raw.get(b.path), "Boot"), "BootSourceOverrideEnabled"); got != "Once" {
		t.Fatalf("enabled %s after a PATCH without it, want Once", got)
	}
	s := gofishSystem(t, b.gofish(t), b.path)
	if err := s.SetBoot(redfish.Boot{BootSourceOverrideTarget: redfish.PxeBootSourceOverrideTarget, BootSourceOverrideEnabled: redfish.ContinuousBootSourceOverrideEnabled}); err != nil {
		t.Fatal(err)
	}
	if got := b.sys.BootOverride().Enabled; got != BootContinuous {
		t.Fatalf("gofish sending Enabled: %s", got)
	}
}

func TestQuirkInsertRefusesFlags(t *testing.T) {
	b := newQuirkBMC(t, "supermicro", nil, 0)
	vm := b.mediaPath(t)
	st, _, body := b.raw.do(http.MethodPost, vm+"/Actions/VirtualMedia.InsertMedia", map[string]any{"Image": "http://x/a.iso", "Inserted": true}, nil)
	wantError(t, "InsertMedia with Inserted", st, body, http.StatusBadRequest, "Base.1.18.ActionParameterNotSupported")
	m, err := redfish.GetVirtualMedia(b.gofish(t), vm)
	if err != nil {
		t.Fatal(err)
	}
	wantGofishStatus(t, "InsertMedia", m.InsertMedia("http://x/a.iso", true, true), http.StatusBadRequest)
	if st, _, _ := b.raw.do(http.MethodPost, vm+"/Actions/VirtualMedia.InsertMedia", map[string]any{"Image": "http://x/a.iso"}, nil); st != http.StatusNoContent {
		t.Fatalf("InsertMedia with Image only: %d", st)
	}
}

func TestQuirkMediaPatchOnly(t *testing.T) {
	b := newQuirkBMC(t, "lenovo-xcc", nil, 0)
	vm := b.mediaPath(t)
	res := b.raw.get(vm)
	if _, ok := res["Actions"]; ok {
		t.Fatalf("XCC media has actions: %v", res)
	}
	st, _, _ := b.raw.do(http.MethodPost, vm+"/Actions/VirtualMedia.InsertMedia", map[string]any{"Image": "http://x/a.iso"}, nil)
	if st != http.StatusNotFound {
		t.Fatalf("InsertMedia: %d, want 404", st)
	}
	m, err := redfish.GetVirtualMedia(b.gofish(t), vm)
	if err != nil {
		t.Fatal(err)
	}
	if m.SupportsMediaInsert || m.InsertMedia("http://x/a.iso", true, true) == nil {
		t.Fatal("gofish sees an InsertMedia action")
	}
	m.Image, m.Inserted = "http://x/a.iso", true
	if err := m.Update(); err != nil { // gofish PATCHes with If-Match
		t.Fatalf("gofish PATCH of Image: %v", err)
	}
	if got := b.sys.Media()[0]; got.Image != "http://x/a.iso" || !got.Inserted {
		t.Fatalf("media %+v", got)
	}
}

func TestQuirkIfMatchRequired(t *testing.T) {
	b := newQuirkBMC(t, "generic", &Quirks{IfMatchRequired: true}, 0)
	boot := map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Pxe"}}
	st, _, body := b.raw.do(http.MethodPatch, b.path, boot, nil)
	wantError(t, "PATCH without If-Match", st, body, http.StatusPreconditionRequired, "Base.1.18.PreconditionRequired")
	_, hdr, _ := b.raw.do(http.MethodGet, b.path, nil, nil)
	if st, _, _ := b.raw.do(http.MethodPatch, b.path, boot, map[string]string{"If-Match": hdr.Get("ETag")}); st != http.StatusOK {
		t.Fatalf("PATCH with If-Match: %d", st)
	}
	s := gofishSystem(t, b.gofish(t), b.path)
	if err := s.SetBoot(redfish.Boot{BootSourceOverrideTarget: redfish.HddBootSourceOverrideTarget}); err != nil {
		t.Fatalf("gofish sends If-Match: %v", err)
	}
	s = gofishSystem(t, b.gofish(t), b.path)
	s.DisableEtagMatch(true)
	wantGofishStatus(t, "SetBoot without If-Match", s.SetBoot(redfish.Boot{BootSourceOverrideTarget: redfish.PxeBootSourceOverrideTarget}), http.StatusPreconditionRequired)
}

func TestQuirkBootPatchAll(t *testing.T) {
	b := newQuirkBMC(t, "generic", &Quirks{BootPatchAll: true}, 0)
	st, _, body := b.raw.do(http.MethodPatch, b.path, map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Pxe"}}, nil)
	wantError(t, "PATCH of the target alone", st, body, http.StatusBadRequest, "Base.1.18.PropertyMissing")
	s := gofishSystem(t, b.gofish(t), b.path)
	wantGofishStatus(t, "SetBoot", s.SetBoot(redfish.Boot{BootSourceOverrideTarget: redfish.PxeBootSourceOverrideTarget}), http.StatusBadRequest)
	if err := s.SetBoot(redfish.Boot{BootSourceOverrideTarget: redfish.PxeBootSourceOverrideTarget,
		BootSourceOverrideEnabled: redfish.OnceBootSourceOverrideEnabled, BootSourceOverrideMode: redfish.UEFIBootSourceOverrideMode}); err != nil {
		t.Fatalf("full payload: %v", err)
	}
}

func TestQuirkWeakETagRefused(t *testing.T) {
	b := newQuirkBMC(t, "generic", &Quirks{WeakETagRefused: true}, 0)
	_, hdr, body := b.raw.do(http.MethodGet, b.path, nil, nil)
	tag := hdr.Get("ETag")
	if !strings.HasPrefix(tag, `W/"`) || getStr(body, "@odata.etag") != tag {
		t.Fatalf("ETag %q / %q, want weak", tag, getStr(body, "@odata.etag"))
	}
	boot := map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Pxe"}}
	st, _, body := b.raw.do(http.MethodPatch, b.path, boot, map[string]string{"If-Match": tag})
	wantError(t, "PATCH with the weak tag", st, body, http.StatusPreconditionFailed, "Base.1.18.PreconditionFailed")
	s := gofishSystem(t, b.gofish(t), b.path)
	wantGofishStatus(t, "SetBoot", s.SetBoot(redfish.Boot{BootSourceOverrideTarget: redfish.HddBootSourceOverrideTarget}), http.StatusPreconditionFailed)
	if st, _, _ := b.raw.do(http.MethodPatch, b.path, boot, map[string]string{"If-Match": strings.TrimPrefix(tag, "W/")}); st != http.StatusOK {
		t.Fatalf("PATCH with the strong form: %d", st)
	}
}

func TestQuirkEmptyImageNone(t *testing.T) {
	b := newQuirkBMC(t, "ami", nil, 0)
	q := b.sys.Quirks()
	q.EmptyImageNone = true
	if err := b.sys.SetQuirks(q); err != nil {
		t.Fatal(err)
	}
	vm := b.mediaPath(t)
	if got := b.raw.get(vm)["Image"]; got != "None" {
		t.Fatalf("Image %v, want \"None\"", got)
	}
	m, err := redfish.GetVirtualMedia(b.gofish(t), vm)
	if err != nil || m.Image != "None" {
		t.Fatalf("gofish Image %q %v", m.Image, err)
	}
}

func TestQuirkStalePower(t *testing.T) {
	b := newQuirkBMC(t, "generic", &Quirks{StalePower: Span(20 * time.Second)}, 0)
	if st, _ := b.reset("On"); st != http.StatusNoContent {
		t.Fatal(st)
	}
	if got := getStr(b.raw.get(b.path), "PowerState"); got != "Off" {
		t.Fatalf("PowerState %s right after On, want the cached Off", got)
	}
	s := gofishSystem(t, b.gofish(t), b.path)
	if s.PowerState != redfish.OffPowerState || b.sys.PowerState() != PowerOn {
		t.Fatalf("gofish reads %s; the system is %s", s.PowerState, b.sys.PowerState())
	}
	b.clock.Advance(20 * time.Second)
	if got := getStr(b.raw.get(b.path), "PowerState"); got != "On" {
		t.Fatalf("PowerState %s after the cache window", got)
	}
}

func TestQuirkBootIgnored(t *testing.T) {
	b := newQuirkBMC(t, "generic", &Quirks{BootIgnored: true}, 0)
	st, _, body := b.raw.do(http.MethodPatch, b.path, map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}}, nil)
	if st != http.StatusOK || getStr(getObj(body, "Boot"), "BootSourceOverrideTarget") != "None" {
		t.Fatalf("PATCH: %d %v, want 200 and nothing applied", st, getObj(body, "Boot"))
	}
	s := gofishSystem(t, b.gofish(t), b.path)
	if err := s.SetBoot(redfish.Boot{BootSourceOverrideTarget: redfish.PxeBootSourceOverrideTarget, BootSourceOverrideEnabled: redfish.OnceBootSourceOverrideEnabled}); err != nil {
		t.Fatal(err)
	}
	if got := b.sys.BootOverride(); got.Target != BootNone {
		t.Fatalf("override %+v applied", got)
	}
	st, _, body = b.raw.do(http.MethodPatch, b.path, map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Bogus"}}, nil)
	wantError(t, "bad value", st, body, http.StatusBadRequest, "Base.1.18.PropertyValueNotInList")
}

func TestQuirkStaleInserted(t *testing.T) {
	b := newQuirkBMC(t, "generic", &Quirks{StaleInserted: Span(15 * time.Second)}, 0)
	vm := b.mediaPath(t)
	if err := b.sys.InsertMedia("Cd", "http://x/a.iso", InsertOptions{Inserted: true}); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := b.raw.do(http.MethodPost, vm+"/Actions/VirtualMedia.EjectMedia", map[string]any{}, nil); st != http.StatusNoContent {
		t.Fatal(st)
	}
	res := b.raw.get(vm)
	if res["Inserted"] != true || res["Image"] != nil {
		t.Fatalf("right after eject: %v", res)
	}
	m, err := redfish.GetVirtualMedia(b.gofish(t), vm)
	if err != nil || !m.Inserted {
		t.Fatalf("gofish Inserted %v %v", m.Inserted, err)
	}
	b.clock.Advance(15 * time.Second)
	if res := b.raw.get(vm); res["Inserted"] != false {
		t.Fatalf("after the window: %v", res)
	}
}

func TestQuirkBMCReset(t *testing.T) {
	b := newQuirkBMC(t, "dell-idrac", nil, 0)
	q := b.sys.Quirks()
	q.BMCResetRefuse, q.BMCResetUnavailable = Span(60*time.Second), Span(30*time.Second)
	if err := b.sys.SetQuirks(q); err != nil {
		t.Fatal(err)
	}
	st, hdr, _ := b.raw.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "admin", "Password": "password"}, nil)
	if st != http.StatusCreated {
		t.Fatal(st)
	}
	tok := hdr.Get("X-Auth-Token")
	mgr := managersPath + "/iDRAC.Embedded.1"
	if st, _, _ := b.raw.do(http.MethodPost, mgr+"/Actions/Manager.Reset", map[string]string{"ResetType": "GracefulRestart"}, nil); st != http.StatusNoContent {
		t.Fatalf("Manager.Reset: %d", st)
	}
	// Refusing: a new connection is reset at once.
	b.raw.hc.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, b.sim.Endpoint(b.id)+v1, nil)
	if _, err := b.raw.hc.Do(req); err == nil {
		t.Fatal("BMC answered while resetting")
	} else if ne := (*net.OpError)(nil); !errors.As(err, &ne) && !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("want a refused connection, got %v", err)
	}
	b.clock.Advance(60 * time.Second)
	st, hdr, body := b.raw.do(http.MethodGet, b.path, nil, nil)
	wantError(t, "while the BMC boots", st, body, http.StatusServiceUnavailable, "Base.1.18.ServiceTemporarilyUnavailable")
	if hdr.Get("Retry-After") != "30" {
		t.Fatalf("Retry-After %q", hdr.Get("Retry-After"))
	}
	_, err := gofish.Connect(gofish.ClientConfig{Endpoint: b.sim.Endpoint(b.id), Username: "admin", Password: "password", BasicAuth: true,
		HTTPClient: &http.Client{Transport: &http.Transport{}}})
	wantGofishStatus(t, "connect while the BMC boots", err, http.StatusServiceUnavailable)
	b.clock.Advance(30 * time.Second)
	b.raw.get(b.path)
	b.raw.tok = tok
	st, _, body = b.raw.do(http.MethodGet, b.path, nil, nil)
	wantError(t, "old session after the reset", st, body, http.StatusUnauthorized, "Base.1.18.NoValidSession")
}

func TestQuirksAdmin(t *testing.T) {
	sim := startSim(t, Config{Systems: 2, Profile: "hpe-ilo"})
	c := newClient(t, sim.URL())
	id := sim.SystemIDs()[1]
	got := c.get("/sim/systems/" + id + "/quirks")
	if got["Profile"] != "hpe-ilo" || getObj(got, "Quirks")["PostWindow"] != "30s" {
		t.Fatalf("quirks %v", got)
	}
	st, _, body := c.do(http.MethodPatch, "/sim/systems/"+id+"/quirks", map[string]any{"StalePower": "5s", "EjectNeedsBody": false}, nil)
	q := sim.System(id).Quirks()
	if st != http.StatusOK || q.StalePower != Span(5*time.Second) || q.EjectNeedsBody || !q.ResetDuringTransition {
		t.Fatalf("PATCH quirks: %d %v %+v", st, body, q)
	}
	if st, _, _ := c.do(http.MethodPut, "/sim/systems/"+id+"/quirks", map[string]any{"Media": "Nowhere"}, nil); st != http.StatusBadRequest {
		t.Fatalf("bad Media: %d", st)
	}
	if st, _, _ := c.do(http.MethodPut, "/sim/systems/"+id+"/quirks", map[string]any{"Bogus": true}, nil); st != http.StatusBadRequest {
		t.Fatalf("unknown switch: %d", st)
	}
	if st, _, _ := c.do(http.MethodPut, "/sim/systems/"+id+"/quirks", map[string]any{}, nil); st != http.StatusOK || sim.System(id).Quirks() != (Quirks{}) {
		t.Fatal("PUT {} should switch everything off")
	}
	if st := c.get("/sim/systems/" + id); st["Profile"] != "hpe-ilo" {
		t.Fatalf("status %v", st)
	}
	if ps, _, _ := c.do(http.MethodGet, "/sim/profiles", nil, nil); ps != http.StatusOK {
		t.Fatal(ps)
	}
}
