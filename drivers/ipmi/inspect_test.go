package ipmi_test

import (
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/ipmisim"
)

// TestInspectPartial: IPMI inspection reports the FRU's vendor, product and
// serial and the BMC's MAC, as the simulator's IPMI face serves them, and
// nothing it cannot know.
func TestInspectPartial(t *testing.T) {
	sim, face := simFleet(t, 2, simulator.Config{Profile: "dell-idrac"})
	id := sim.SystemIDs()[1]
	hw := sim.System(id).Hardware()
	inv, err := ipmi.New(fastConfig()).Inspect(ctxFor(t), nodeFor(id, faceClient(face, id)))
	if err != nil {
		t.Fatal(err)
	}
	if v := inv.SystemVendor; v == nil || v.Manufacturer != hw.Manufacturer || v.ProductName != hw.Model || v.SerialNumber != hw.SerialNumber {
		t.Errorf("system_vendor %+v, serves %s %s %s", v, hw.Manufacturer, hw.Model, hw.SerialNumber)
	}
	if inv.BMCMAC != ipmisim.BMCMAC(id).String() {
		t.Errorf("bmc_mac %q, want %s", inv.BMCMAC, ipmisim.BMCMAC(id))
	}
	if inv.CPU.Count != 0 || inv.Memory != nil || len(inv.Disks) != 0 || len(inv.Interfaces) != 0 || inv.Boot != nil {
		t.Errorf("IPMI inspection invented hardware: %+v", inv)
	}
}
