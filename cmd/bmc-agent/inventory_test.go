package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/simtest"
)

// TestNodeInventoryCLI: `node inspect --wait` then `node inventory` show
// the simulated system's hardware; before an inspection the inventory is
// Ironic's 404.
func TestNodeInventoryCLI(t *testing.T) {
	sim := simtest.Start(t, simulator.Config{Systems: 1, Username: "admin", Password: bmcPassword})
	id := sim.SystemIDs()[0]
	hw := sim.System(id).Hardware()
	base, _ := startServe(t, "--listen", "127.0.0.1:0", "--database", filepath.Join(t.TempDir(), "inv.db"), "--agent-id", "inv-agent")
	mustCLI(t, base, "create", "--driver", "redfish", "--name", "r1",
		"--driver-info", "redfish_address="+sim.Endpoint(id), "--driver-info", "redfish_system_id="+id,
		"--driver-info", "redfish_username=admin", "--driver-info", "redfish_password="+bmcPassword)
	mustCLI(t, base, "manage", "r1", "--wait")
	if out, err := cli(t, base, "inventory", "r1"); err == nil || !strings.Contains(err.Error()+out, "Node inventory record for node") {
		t.Fatalf("inventory before inspection: %v\n%s", err, out)
	}
	mustCLI(t, base, "inspect", "r1", "--wait")
	out := mustCLI(t, base, "inventory", "r1")
	if !strings.Contains(out, hw.Manufacturer) || !strings.Contains(out, hw.NICs[0].MAC) || !strings.Contains(out, hw.CPUModel) {
		t.Fatalf("inventory table lacks the vendor, the first MAC or the CPU:\n%s", out)
	}
	var rec struct {
		Inventory  map[string]any `json:"inventory"`
		PluginData map[string]any `json:"plugin_data"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, base, "inventory", "r1", "-o", "json")), &rec); err != nil || rec.Inventory["cpu"] == nil || rec.PluginData == nil {
		t.Fatalf("inventory -o json: %v %+v", err, rec)
	}
}
