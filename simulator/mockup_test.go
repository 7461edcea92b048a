package simulator

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/redfish"
)

// mockupsDir holds three DMTF bundles, copied from DSP2043 with their
// license, so that a fresh clone tests them without anything beside it.
const mockupsDir = "testdata/redfish-mockups"

func TestMockupBundles(t *testing.T) {
	for _, name := range []string{"public-rackmount1", "public-bladed", "public-tower"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(mockupsDir, name)
			if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
				t.Fatalf("mockup bundle missing (it should be at %s): %v", dir, err)
			}
			testMockup(t, dir)
		})
	}
}

// testMockup serves a bundle, crawls it, and drives power, boot and virtual
// media of every system in it with gofish.
func testMockup(t *testing.T, dir string) {
	sim := startSim(t, Config{MockupDir: dir})
	if sim.Len() == 0 {
		t.Fatal("no systems found")
	}
	file := func(p string) string { return filepath.Join(dir, strings.TrimPrefix(p, v1), "index.json") }
	seen := crawl(t, newClient(t, sim.URL()), &tolerance{
		missing: func(p string) bool {
			_, err := os.Stat(file(p))
			// A dangling link of the bundle, or one of its canned sessions:
			// the live session service replaces those.
			return err != nil || strings.HasPrefix(p, sessionsPath+"/")
		},
		wrongID: func(p, id string) bool {
			b, err := os.ReadFile(file(p))
			if err != nil {
				return false
			}
			var stored struct {
				ID string `json:"@odata.id"`
			}
			return json.Unmarshal(b, &stored) == nil && stored.ID == id
		},
	})
	t.Logf("%s: %d resources, %d systems", filepath.Base(dir), len(seen), sim.Len())

	c := connect(t, sim.URL(), "admin", "password", false)
	for _, id := range sim.SystemIDs() {
		driveWithGofish(t, c, sim, id)
	}
}

func driveWithGofish(t *testing.T, c *gofish.APIClient, sim *Simulator, id string) {
	t.Helper()
	path := sim.SystemPath(id)
	s := gofishSystem(t, c, path)
	if len(s.SupportedResetTypes) == 0 {
		t.Fatalf("%s: no allowable reset types", id)
	}
	// Power off and on again; the state follows.
	for _, rt := range []redfish.ResetType{redfish.ForceOffResetType, redfish.OnResetType} {
		if err := s.Reset(rt); err != nil {
			t.Fatalf("%s: Reset(%s): %v", id, rt, err)
		}
	}
	if err := s.Reset("Explode"); err == nil {
		t.Fatalf("%s: gofish accepted an unadvertised reset type", id)
	}
	// A Once override is honoured by the next boot and consumed.
	s = gofishSystem(t, c, path)
	if s.PowerState != redfish.OnPowerState {
		t.Fatalf("%s: power %s after On", id, s.PowerState)
	}
	if err := s.SetBoot(redfish.Boot{BootSourceOverrideTarget: redfish.PxeBootSourceOverrideTarget, BootSourceOverrideEnabled: redfish.OnceBootSourceOverrideEnabled}); err != nil {
		t.Fatalf("%s: SetBoot: %v", id, err)
	}
	if err := gofishSystem(t, c, path).Reset(redfish.ForceRestartResetType); err != nil {
		t.Fatalf("%s: ForceRestart: %v", id, err)
	}
	s = gofishSystem(t, c, path)
	if s.Boot.BootSourceOverrideEnabled != redfish.DisabledBootSourceOverrideEnabled || sim.System(id).BootedFrom().Device != BootPxe {
		t.Fatalf("%s: boot %+v, booted from %+v", id, s.Boot, sim.System(id).BootedFrom())
	}
	// Virtual media, wherever the system has it.
	vms := mediaOf(s)
	if len(vms) == 0 {
		t.Fatalf("%s: no virtual media reachable", id)
	}
	vm := vms[0]
	if !vm.SupportsMediaInsert || !vm.SupportsMediaEject {
		t.Fatalf("%s: %s lacks action targets", id, vm.ODataID)
	}
	if err := vm.EjectMedia(); err != nil {
		t.Fatalf("%s: EjectMedia: %v", id, err)
	}
	if err := vm.InsertMedia("http://img/mock.iso", true, true); err != nil {
		t.Fatalf("%s: InsertMedia: %v", id, err)
	}
	if err := vm.InsertMedia("http://img/mock2.iso", true, true); statusOf(err) != http.StatusConflict {
		t.Fatalf("%s: insert into occupied: %v", id, err)
	}
	got, err := redfish.GetVirtualMedia(c, vm.ODataID)
	if err != nil || got.Image != "http://img/mock.iso" || !got.Inserted {
		t.Fatalf("%s: after insert %+v %v", id, got, err)
	}
}

// mediaOf finds a system's virtual media under the system or its managers.
func mediaOf(s *redfish.ComputerSystem) []*redfish.VirtualMedia {
	if vms, err := s.VirtualMedia(); err == nil && len(vms) > 0 {
		return vms
	}
	mgrs, _ := s.ManagedBy()
	for _, m := range mgrs {
		if vms, err := m.VirtualMedia(); err == nil && len(vms) > 0 {
			return vms
		}
	}
	return nil
}

// TestSynthesizedMockup serves a bundle the simulator has never seen, with
// the redfish/v1 layout and without actions, allowable values, virtual media
// or a session service link: the simulator adds them.
func TestSynthesizedMockup(t *testing.T) {
	dir := t.TempDir()
	write := func(p string, v any) { writeBundleFile(t, filepath.Join(dir, "redfish", "v1"), p, v) }
	link := func(p string) map[string]any { return map[string]any{"@odata.id": p} }
	write("", map[string]any{"@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot", "@odata.id": "/redfish/v1/", "Id": "RootService",
		"Systems": link("/redfish/v1/Systems"), "Managers": link("/redfish/v1/Managers")})
	write("Systems", map[string]any{"@odata.type": "#ComputerSystemCollection.ComputerSystemCollection", "@odata.id": "/redfish/v1/Systems",
		"Members": []any{link("/redfish/v1/Systems/node1")}, "Members@odata.count": 1})
	write("Systems/node1", map[string]any{"@odata.type": "#ComputerSystem.v1_5_0.ComputerSystem", "@odata.id": "/redfish/v1/Systems/node1",
		"Id": "node1", "PowerState": "Off", "Links": map[string]any{"ManagedBy": []any{link("/redfish/v1/Managers/bmc1")}}})
	write("Managers", map[string]any{"@odata.type": "#ManagerCollection.ManagerCollection", "@odata.id": "/redfish/v1/Managers",
		"Members": []any{link("/redfish/v1/Managers/bmc1")}, "Members@odata.count": 1})
	write("Managers/bmc1", map[string]any{"@odata.type": "#Manager.v1_5_0.Manager", "@odata.id": "/redfish/v1/Managers/bmc1", "Id": "bmc1",
		"Actions": map[string]any{"#Manager.Reset": map[string]any{"target": "/redfish/v1/Managers/bmc1/Actions/Manager.Reset"}}})

	sim := startSim(t, Config{MockupDir: dir})
	if ids := sim.SystemIDs(); len(ids) != 1 || ids[0] != "node1" {
		t.Fatalf("systems %v", ids)
	}
	crawl(t, newClient(t, sim.URL()), nil)
	c := connect(t, sim.URL(), "admin", "password", false) // needs the added session links
	s := gofishSystem(t, c, "/redfish/v1/Systems/node1")
	if len(s.SupportedResetTypes) != 9 {
		t.Fatalf("added reset types %v", s.SupportedResetTypes)
	}
	driveWithGofish(t, c, sim, "node1")
	// The synthesised devices are reachable under the manager too.
	mgrs, err := s.ManagedBy()
	if err != nil || len(mgrs) != 1 {
		t.Fatalf("managers %v %v", mgrs, err)
	}
	if vms, err := mgrs[0].VirtualMedia(); err != nil || len(vms) != 2 {
		t.Fatalf("manager's virtual media %v %v", vms, err)
	}
	// Plain resources take a merge PATCH; advertised actions are accepted.
	raw := newClient(t, sim.URL())
	if st, _, body := raw.do(http.MethodPatch, "/redfish/v1/Managers/bmc1", map[string]any{"DateTime": "2026-01-01T00:00:00Z"}, nil); st != 200 || getStr(body, "DateTime") == "" {
		t.Fatalf("PATCH manager: %d %v", st, body)
	}
	if st, _, _ := raw.do(http.MethodPost, "/redfish/v1/Managers/bmc1/Actions/Manager.Reset", map[string]any{"ResetType": "GracefulRestart"}, nil); st != 204 {
		t.Fatalf("manager reset: %d", st)
	}
	if st, _, _ := raw.do(http.MethodGet, "/redfish/v1/Nothing", nil, nil); st != 404 {
		t.Fatalf("missing resource: %d", st)
	}
}

// TestMockupStatePersistsAcrossFaces checks that a state change through
// the Go API (as an IPMI face would make) shows over Redfish in mockup mode.
func TestMockupStatePersistsAcrossFaces(t *testing.T) {
	sim := startSim(t, Config{MockupDir: filepath.Join(mockupsDir, "public-tower")})
	id := sim.SystemIDs()[0]
	if err := sim.System(id).Reset(ResetForceOff); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, sim.URL())
	if got := getStr(c.get(sim.SystemPath(id)), "PowerState"); got != "Off" {
		t.Fatalf("Redfish reads %s after a ForceOff through the state API", got)
	}
	if got := getStr(c.get(chassisPath+"/Tower"), "PowerState"); got != "Off" {
		t.Fatalf("the system's chassis reads %s", got)
	}
}
