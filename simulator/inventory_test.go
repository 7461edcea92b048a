package simulator

import (
	"net/http"
	"testing"
)

// TestInventoryVariesAndMACsAreUnique: generated systems differ in shape,
// are the same on every call, and no MAC is shared, on-board or add-on.
func TestInventoryVariesAndMACsAreUnique(t *testing.T) {
	seen := map[string]int{}
	shapes := map[[4]int]bool{}
	addOnOnly := 0
	for i := range 500 {
		h := hardwareOf(i, "generic")
		if again := hardwareOf(i, "generic"); again.memoryMiB() != h.memoryMiB() || len(again.nics) != len(h.nics) {
			t.Fatalf("system %d is not deterministic", i)
		}
		if n := len(h.nics); n < 2 || n > 4 {
			t.Fatalf("system %d has %d on-board NICs", i, n)
		}
		shapes[[4]int{len(h.cpus), len(h.dimmMiB), len(h.drives), len(h.nics)}] = true
		for _, n := range h.nics {
			seen[n.mac]++
		}
		for _, a := range h.adapters {
			addOnOnly++
			for _, p := range a.ports {
				seen[p.mac]++
			}
		}
	}
	for mac, n := range seen {
		if n > 1 {
			t.Fatalf("MAC %s is used %d times", mac, n)
		}
	}
	if len(shapes) < 20 || addOnOnly == 0 {
		t.Fatalf("%d shapes, %d add-on adapters: the fleet does not vary", len(shapes), addOnOnly)
	}
}

// TestInventoryResources: what the System summarises is what its
// collections hold; add-on ports are only under NetworkAdapters; $expand
// inlines members.
func TestInventoryResources(t *testing.T) {
	sim := startSim(t, Config{Systems: 3})
	c := newClient(t, sim.URL())
	id := sim.SystemIDs()[2]
	h := hardwareOf(2, "generic")
	sp, cp := systemsPath+"/"+id, chassisPath+"/"+id
	sys := c.get(sp)
	if got := getObj(sys, "MemorySummary")["TotalSystemMemoryGiB"]; got != float64(h.memoryMiB()/1024) {
		t.Errorf("memory %v, DIMMs sum to %d MiB", got, h.memoryMiB())
	}
	if got := c.get(sp + "/Memory")["Members@odata.count"]; got != float64(len(h.dimmMiB)) {
		t.Errorf("%v DIMMs, want %d", got, len(h.dimmMiB))
	}
	st := c.get(sp + "/Storage/1")
	if got := len(st["Drives"].([]any)); got != len(h.drives) {
		t.Errorf("%d drives, want %d", got, len(h.drives))
	}
	if got := c.get(sp + "/Storage/1/Drives/0")["CapacityBytes"]; got != float64(h.drives[0].bytes) {
		t.Errorf("drive 0 capacity %v", got)
	}
	exp := c.get(sp + "/EthernetInterfaces?$expand=.($levels=1)")
	ms := exp["Members"].([]any)
	onboard := map[string]bool{}
	for _, m := range ms {
		onboard[m.(map[string]any)["MACAddress"].(string)] = true
	}
	if len(ms) != len(h.nics) || !onboard[h.nics[0].mac] {
		t.Errorf("expanded interfaces %v", ms)
	}
	if plain := c.get(sp + "/EthernetInterfaces")["Members"].([]any); len(plain[0].(map[string]any)) != 1 {
		t.Errorf("without $expand members are links: %v", plain[0])
	}
	// Find a system with an add-on adapter and check its ports' MACs are
	// not among the EthernetInterfaces.
	for i := range 3 {
		h := hardwareOf(i, "generic")
		id := sim.SystemIDs()[i]
		cp = chassisPath + "/" + id
		if got := c.get(cp + "/NetworkAdapters")["Members@odata.count"]; got != float64(len(h.adapters)) {
			t.Errorf("%s: %v adapters, want %d", id, got, len(h.adapters))
		}
		for _, a := range h.adapters {
			f := c.get(cp + "/NetworkAdapters/" + a.id + "/NetworkDeviceFunctions/1")
			mac := getObj(f, "Ethernet")["MACAddress"]
			for _, n := range h.nics {
				if n.mac == mac {
					t.Errorf("add-on MAC %v is also an EthernetInterface", mac)
				}
			}
		}
	}
	if got := c.get(cp + "/PCIeDevices/0/PCIeFunctions/0")["DeviceClass"]; got != "DisplayController" {
		t.Errorf("PCIe function class %v", got)
	}
}

// TestInventoryQuirks: NoStorage, EmptyMAC and SKUServiceTag each change
// only what they say.
func TestInventoryQuirks(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	c := newClient(t, sim.URL())
	id := sim.SystemIDs()[0]
	sp := systemsPath + "/" + id
	h := hardwareOf(0, "generic")
	if err := sim.System(id).SetQuirks(Quirks{NoStorage: true, EmptyMAC: true, SKUServiceTag: true}); err != nil {
		t.Fatal(err)
	}
	sys := c.get(sp)
	if _, ok := sys["Storage"]; ok {
		t.Error("NoStorage: the System still links Storage")
	}
	if st, _, _ := c.do(http.MethodGet, sp+"/Storage", nil, nil); st != http.StatusNotFound {
		t.Errorf("NoStorage: GET Storage answered %d", st)
	}
	if got := len(c.get(sp + "/SimpleStorage/1")["Devices"].([]any)); got != len(h.drives) {
		t.Errorf("SimpleStorage lists %d devices, want %d", got, len(h.drives))
	}
	last := c.get(sp + "/EthernetInterfaces/" + h.nics[len(h.nics)-1].id)
	if last["MACAddress"] != "" {
		t.Errorf("EmptyMAC: last interface reports %v", last["MACAddress"])
	}
	if sku := sys["SKU"].(string); sku != serviceTag(0) || len(sku) != 7 {
		t.Errorf("SKUServiceTag: SKU %q", sku)
	}
	dell, err := LookupProfile("dell-idrac")
	if err != nil || !dell.Quirks.SKUServiceTag {
		t.Errorf("dell-idrac does not report the service tag as SKU by default")
	}
}
