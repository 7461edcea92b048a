package redfish_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// The firmware inventory of a fleet endpoint lists every system's BIOS and
// BMC: the driver picks the node's by RelatedItem (the release dates
// differ per system), with the versions the system and manager report.
func TestFirmwareInventory(t *testing.T) {
	sim := startSim(t, simulator.Config{Systems: 3})
	d := newDriver(t, fastOptions())
	id := sim.SystemIDs()[1]
	comps, err := d.Firmware(ctx(t), nodeOf(sim.URL(), id, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(comps) != 2 || comps[0].Component != drivers.FirmwareBIOS || comps[1].Component != drivers.FirmwareBMC {
		t.Fatalf("components %+v, want bios and bmc", comps)
	}
	if comps[0].Version != "SIM-1.0.0" || comps[1].Version != "SIM-BMC-1.0.0" {
		t.Errorf("versions %q %q", comps[0].Version, comps[1].Version)
	}
	for i, bmc := range []bool{false, true} {
		want := sim.System(id).FirmwareReleaseDate(bmc)
		if comps[i].ReleasedAt == nil || !comps[i].ReleasedAt.Equal(want) {
			t.Errorf("%s released at %v, want %v (another system's entry?)", comps[i].Component, comps[i].ReleasedAt, want)
		}
	}
}

// A BMC without an UpdateService has no inventory: ErrUnsupported, which
// the API shows as no components.
func TestFirmwareWithoutUpdateService(t *testing.T) {
	sim := startSim(t, simulator.Config{Systems: 1})
	id := sim.SystemIDs()[0]
	h := sim.Handler()
	url := front(t, sim, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/redfish/v1/" && r.URL.Path != "/redfish/v1" {
			return false
		}
		rewrite(w, r, h, func(m map[string]any) { delete(m, "UpdateService") })
		return true
	})
	d := newDriver(t, fastOptions())
	_, err := d.Firmware(ctx(t), nodeOf(url, id, nil))
	if !errors.Is(err, drivers.ErrUnsupported) {
		t.Fatalf("firmware of a BMC without UpdateService: %v, want ErrUnsupported", err)
	}
}

// On a system's own port under a vendor profile the system and manager
// carry the vendor's ids (Dell's System.Embedded.1 and iDRAC.Embedded.1):
// the inventory's RelatedItem follows them, and the driver still finds
// both components.
func TestFirmwareInventoryVendorIDs(t *testing.T) {
	sim := startSim(t, simulator.Config{Systems: 2, PortPerSystem: true, Profile: "dell-idrac"})
	d := newDriver(t, fastOptions())
	id := sim.SystemIDs()[1]
	comps, err := d.Firmware(ctx(t), nodeOf(sim.Endpoint(id), "/redfish/v1/Systems/System.Embedded.1", nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(comps) != 2 || comps[0].Component != drivers.FirmwareBIOS || comps[1].Component != drivers.FirmwareBMC {
		t.Fatalf("components %+v, want bios and bmc", comps)
	}
	if want := sim.System(id).FirmwareReleaseDate(true); comps[1].ReleasedAt == nil || !comps[1].ReleasedAt.Equal(want) {
		t.Errorf("bmc released at %v, want %v", comps[1].ReleasedAt, want)
	}
}
