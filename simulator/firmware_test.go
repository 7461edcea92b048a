package simulator

import (
	"net/http"
	"testing"
	"time"
)

// The firmware inventory lists each system's BIOS and BMC, says whose they
// are in RelatedItem, reports the versions the system and the manager
// report, and wants credentials.
func TestFirmwareInventory(t *testing.T) {
	sim := startSim(t, Config{Systems: 3, PortPerSystem: true})
	c := newClient(t, sim.URL())
	id := sim.SystemIDs()[1]
	if root := c.get(v1); getStr(root["UpdateService"].(map[string]any), "@odata.id") != updateServicePath {
		t.Fatalf("service root does not link the UpdateService: %v", root)
	}
	col := c.get(firmwareInventoryPath)
	if n := len(col["Members"].([]any)); n != 6 {
		t.Fatalf("fleet inventory has %d members, want 6", n)
	}
	bios := c.get(firmwareInventoryPath + "/" + id + "-BIOS")
	rel := bios["RelatedItem"].([]any)[0].(map[string]any)["@odata.id"]
	if bios["Version"] != c.get(systemsPath + "/" + id)["BiosVersion"] || rel != systemsPath+"/"+id {
		t.Errorf("BIOS: version %v related %v", bios["Version"], rel)
	}
	bmc := c.get(firmwareInventoryPath + "/" + id + "-BMC")
	if bmc["Version"] != c.get(managersPath + "/" + id)["FirmwareVersion"] {
		t.Errorf("BMC version %v", bmc["Version"])
	}
	if got, want := bmc["ReleaseDate"], sim.System(id).FirmwareReleaseDate(true).Format(time.RFC3339); got != want {
		t.Errorf("BMC release date %v, want %v", got, want)
	}
	if sim.System(id).FirmwareReleaseDate(false).Equal(sim.System(sim.SystemIDs()[0]).FirmwareReleaseDate(false)) {
		t.Error("two systems report the same release date")
	}

	// A system's own port shows its two only, and nothing of the others.
	own := newClient(t, sim.Endpoint(id))
	if n := len(own.get(firmwareInventoryPath)["Members"].([]any)); n != 2 {
		t.Errorf("per-system inventory has %d members, want 2", n)
	}
	if st, _, _ := own.do("GET", firmwareInventoryPath+"/"+sim.SystemIDs()[0]+"-BIOS", nil, nil); st != http.StatusNotFound {
		t.Errorf("another system's BIOS on a system's port: %d", st)
	}
	for _, p := range []string{firmwareInventoryPath + "/" + id + "-CPLD", firmwareInventoryPath + "/nope-BIOS", updateServicePath + "/Other"} {
		if st, _, _ := c.do("GET", p, nil, nil); st != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, st)
		}
	}
	anon := newClient(t, sim.URL())
	anon.user, anon.pass = "", ""
	if st, _, _ := anon.do("GET", firmwareInventoryPath, nil, nil); st != http.StatusUnauthorized {
		t.Errorf("anonymous inventory: %d, want 401", st)
	}
	if st, _, _ := c.do("PATCH", firmwareInventoryPath+"/"+id+"-BIOS", map[string]any{}, nil); st != http.StatusMethodNotAllowed {
		t.Errorf("PATCH: %d, want 405", st)
	}
}
