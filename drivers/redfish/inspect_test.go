package redfish_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// ironicArch is Ironic's name for a Redfish InstructionSet.
var ironicArch = map[string]string{"x86-64": "x86_64", "ARM-A64": "aarch64"}

// CheckInventory compares an inspection with what the simulated system
// serves, field by field.
func checkInventory(t *testing.T, inv *drivers.Inventory, hw simulator.Hardware) {
	t.Helper()
	if inv.CPU.Count != hw.CPUs || inv.CPU.ModelName != hw.CPUModel || inv.CPU.Frequency != hw.CPUMaxMHz || inv.CPU.Architecture != ironicArch[hw.InstructionSet] {
		t.Errorf("cpu %+v, serves %d x %s %d MHz %s", inv.CPU, hw.CPUs, hw.CPUModel, hw.CPUMaxMHz, hw.InstructionSet)
	}
	if inv.Memory == nil || inv.Memory.PhysicalMB != hw.MemoryMiB {
		t.Errorf("memory %+v, serves %d MiB", inv.Memory, hw.MemoryMiB)
	}
	if len(inv.Disks) != len(hw.Drives) {
		t.Fatalf("disks %+v, serves %+v", inv.Disks, hw.Drives)
	}
	for i, d := range hw.Drives {
		got := inv.Disks[i]
		if got.Name != d.Name || got.Size != d.Bytes || got.Model != d.Model || got.Vendor != d.Manufacturer {
			t.Errorf("disk %d %+v, serves %+v", i, got, d)
		}
		if hw.StorageListed && (got.Serial != d.Serial || got.Rotational != (d.MediaType == "HDD")) {
			t.Errorf("disk %d %+v: serial or rotational differ from %+v", i, got, d)
		}
	}
	var want []drivers.InventoryNIC
	for _, n := range hw.NICs {
		if n.MAC != "" {
			want = append(want, drivers.InventoryNIC{Name: n.Name, MACAddress: n.MAC, SpeedMbps: n.SpeedMbps, HasCarrier: n.LinkUp})
		}
	}
	for _, n := range hw.AddOnNICs {
		want = append(want, drivers.InventoryNIC{Name: n.Name, MACAddress: n.MAC, Vendor: n.Vendor, Product: n.Product})
	}
	if !slices.Equal(inv.Interfaces, want) {
		t.Errorf("interfaces\n got %+v\nwant %+v", inv.Interfaces, want)
	}
	serial := hw.SerialNumber
	if strings.HasPrefix(hw.Manufacturer, "Dell") {
		serial = hw.SKU // the service tag
	}
	if v := inv.SystemVendor; v == nil || v.Manufacturer != hw.Manufacturer || v.ProductName != hw.Model || v.SerialNumber != serial {
		t.Errorf("system_vendor %+v, serves %s %s %s (SKU %s)", v, hw.Manufacturer, hw.Model, hw.SerialNumber, hw.SKU)
	}
	if inv.Boot == nil || inv.Boot.CurrentBootMode != "uefi" {
		t.Errorf("boot %+v", inv.Boot)
	}
	if len(inv.PCIDevices) != hw.PCIeFunctions {
		t.Errorf("%d PCI devices, serves %d", len(inv.PCIDevices), hw.PCIeFunctions)
	}
}

// TestInspectGenerated inspects varied generated systems, each vendor
// profile and the inventory switches, and counts the requests: with $expand
// one inspection stays well below one request per resource.
func TestInspectGenerated(t *testing.T) {
	var names []string
	for _, p := range simulator.Profiles() {
		names = append(names, p.Name)
	}
	for _, profile := range names {
		t.Run(profile, func(t *testing.T) {
			sim := startSim(t, simulator.Config{Systems: 4, Profile: profile})
			d := newDriver(t, fastOptions())
			for _, id := range sim.SystemIDs() {
				before := d.Stats().Requests
				inv, err := d.Inspect(ctx(t), simNode(sim, id, nil))
				if err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				checkInventory(t, inv, sim.System(id).Hardware())
				hw := sim.System(id).Hardware()
				// root, system, processors, storage, its drives, NICs,
				// chassis, adapters and their functions, PCIe devices
				// and their functions (+ login on first use).
				bound := uint64(7 + len(hw.Drives) + len(hw.AddOnNICs) + 2*hw.PCIeFunctions + 2)
				if n := d.Stats().Requests - before; n > bound {
					t.Errorf("%s: %d requests, more than %d", id, n, bound)
				}
			}
		})
	}
	t.Run("switches", func(t *testing.T) {
		sim := startSim(t, simulator.Config{Systems: 2})
		d := newDriver(t, fastOptions())
		id := sim.SystemIDs()[1]
		if err := sim.System(id).SetQuirks(simulator.Quirks{NoStorage: true, EmptyMAC: true}); err != nil {
			t.Fatal(err)
		}
		inv, err := d.Inspect(ctx(t), simNode(sim, id, nil))
		if err != nil {
			t.Fatal(err)
		}
		checkInventory(t, inv, sim.System(id).Hardware())
	})
}

// TestInspectMockups inspects the DMTF mockups and compares with their
// files.
func TestInspectMockups(t *testing.T) {
	for _, m := range []string{"public-rackmount1", "public-tower", "public-bladed"} {
		t.Run(m, func(t *testing.T) {
			sim := startSim(t, simulator.Config{MockupDir: mockups + "/" + m})
			d := newDriver(t, fastOptions())
			id := sim.SystemIDs()[0]
			inv, err := d.Inspect(ctx(t), simNode(sim, id, nil))
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(mockups, m, "Systems", filepath.Base(id))
			var sys struct {
				Manufacturer, Model, SerialNumber string
				ProcessorSummary                  struct{ Count int }
				MemorySummary                     struct{ TotalSystemMemoryGiB float64 }
			}
			readJSON(t, filepath.Join(dir, "index.json"), &sys)
			if inv.CPU.Count != sys.ProcessorSummary.Count || inv.Memory == nil || inv.Memory.PhysicalMB != int(sys.MemorySummary.TotalSystemMemoryGiB*1024) {
				t.Errorf("cpu %+v memory %+v, mockup says %+v", inv.CPU, inv.Memory, sys)
			}
			if v := inv.SystemVendor; v == nil || v.Manufacturer != sys.Manufacturer || v.ProductName != sys.Model {
				t.Errorf("vendor %+v, mockup %+v", v, sys)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "EthernetInterfaces", "*", "index.json"))
			var macs []string
			for _, f := range files {
				var e struct{ MACAddress string }
				readJSON(t, f, &e)
				if e.MACAddress != "" {
					macs = append(macs, strings.ToLower(e.MACAddress))
				}
			}
			var got []string
			for _, n := range inv.Interfaces {
				got = append(got, n.MACAddress)
			}
			for _, mac := range macs {
				if !slices.Contains(got, mac) {
					t.Errorf("MAC %s of the mockup missing from %v", mac, got)
				}
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

var _ drivers.Inspector = (*redfish.Driver)(nil)
