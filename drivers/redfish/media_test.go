package redfish_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/simulator"
)

const mockups = "../../simulator/testdata/redfish-mockups"

func TestMediaTypesAndEject(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	d := newDriver(t, fastOptions())
	n := simNode(sim, id, nil)

	usb := drivers.MediaRequest{Type: drivers.MediaUSB, Image: "http://127.0.0.1/stick.img", WriteProtected: true}
	if err := d.InsertMedia(ctx(t), n, usb); err != nil {
		t.Fatal(err)
	}
	cd := drivers.MediaRequest{Type: drivers.MediaCD, Image: "http://127.0.0.1/boot.iso"}
	if err := d.InsertMedia(ctx(t), n, cd); err != nil {
		t.Fatal(err)
	}
	if m := simMedia(t, sim, id, "Usb"); m.Image != usb.Image || !m.Inserted || !m.WriteProtected {
		t.Fatalf("USB device: %+v", m)
	}
	// Without WriteProtected the driver leaves the BMC's default (Redfish: true).
	if m := simMedia(t, sim, id, "Cd"); m.Image != cd.Image || !m.WriteProtected {
		t.Fatalf("CD device: %+v", m)
	}
	list, err := d.Media(ctx(t), n)
	if err != nil || len(list) != 2 {
		t.Fatalf("media %+v, %v", list, err)
	}
	want := map[string][]drivers.MediaType{"Cd": {drivers.MediaCD}, "Usb": {drivers.MediaUSB, drivers.MediaFloppy}}
	for _, m := range list {
		if !slices.Equal(m.Types, want[m.ID]) || !m.Inserted {
			t.Fatalf("device %+v", m)
		}
	}

	if err := d.EjectMedia(ctx(t), n, drivers.MediaUSB); err != nil {
		t.Fatal(err)
	}
	if simMedia(t, sim, id, "Usb").Inserted || !simMedia(t, sim, id, "Cd").Inserted {
		t.Fatal("ejecting USB media touched the wrong device")
	}
	if err := d.EjectMedia(ctx(t), n, drivers.AnyMedia); err != nil {
		t.Fatal(err)
	}
	before := mutations(sim, id)
	if err := d.EjectMedia(ctx(t), n, drivers.AnyMedia); err != nil {
		t.Fatal(err)
	}
	if simMedia(t, sim, id, "Cd").Inserted || mutations(sim, id) != before {
		t.Fatal("eject all left media, or ejected empty devices")
	}
}

// TestMediaThroughManager drives a DMTF mockup whose virtual media hang off
// the system's manager, not the system, and whose CD is occupied.
func TestMediaThroughManager(t *testing.T) {
	sim := startSim(t, simulator.Config{MockupDir: mockups + "/public-tower"})
	id := sim.SystemIDs()[0]
	d := newDriver(t, fastOptions())
	n := simNode(sim, id, nil)
	list, err := d.Media(ctx(t), n)
	if err != nil || len(list) != 2 || list[0].ID != "CD1" || !list[0].Inserted || list[1].ID != "Floppy1" {
		t.Fatalf("media of the tower %+v, %v", list, err)
	}
	req := drivers.MediaRequest{Type: drivers.MediaCD, Image: "http://127.0.0.1/boot.iso"}
	before := mutations(sim, id)
	err = d.InsertMedia(ctx(t), n, req)
	checkErr(t, err, drivers.ErrBMCRejected)
	if !strings.Contains(err.Error(), "CD1 already holds") || mutations(sim, id) != before {
		t.Fatalf("insert into the occupied CD: %v", err)
	}
	req.EjectFirst = true
	if err := d.InsertMedia(ctx(t), n, req); err != nil {
		t.Fatal(err)
	}
	if m := simMedia(t, sim, id, "CD1"); m.Image != req.Image {
		t.Fatalf("CD1 holds %+v", m)
	}
	if got := witness(sim, id); !slices.Equal(got, []string{"EjectMedia CD1 204", "InsertMedia CD1 204"}) {
		t.Fatalf("the BMC saw %v", got)
	}
}

// TestMediaWithoutActions: devices that do not advertise InsertMedia and
// EjectMedia (VirtualMedia before v1.2) are driven with PATCH.
func TestMediaWithoutActions(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	h := sim.Handler()
	url := front(t, sim, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/VirtualMedia/") {
			rewrite(w, r, h, func(m map[string]any) { delete(m, "Actions") })
			return true
		}
		return false
	})
	d := newDriver(t, fastOptions())
	n := nodeOf(url, id, nil)
	req := drivers.MediaRequest{Type: drivers.MediaCD, Image: "http://127.0.0.1/boot.iso"}
	if err := d.InsertMedia(ctx(t), n, req); err != nil {
		t.Fatal(err)
	}
	if m := simMedia(t, sim, id, "Cd"); m.Image != req.Image || !m.Inserted {
		t.Fatalf("Cd holds %+v", m)
	}
	if err := d.EjectMedia(ctx(t), n, drivers.MediaCD); err != nil {
		t.Fatal(err)
	}
	if got := witness(sim, id); !slices.Equal(got, []string{"PatchMedia Cd 200", "PatchMedia Cd 200"}) || simMedia(t, sim, id, "Cd").Inserted {
		t.Fatalf("the BMC saw %v", got)
	}
}
