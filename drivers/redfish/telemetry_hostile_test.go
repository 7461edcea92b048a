package redfish_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// TestTelemetryNonsense reads a BMC that answers nonsense in one document
// at a time (DMTF's public-rackmount1 mockup, edited): wrong types, numbers
// no float holds, links that are not objects, point elsewhere or back at
// themselves. The read never panics; it fails with an error that says the
// BMC is at fault (drivers.ErrBMCRejected or ErrBMCFailed, error kind
// "rejected" or "failed"), or succeeds with what it could read.
func TestTelemetryNonsense(t *testing.T) {
	const (
		system  = "Systems/437XR1138R2/index.json"
		chassis = "Chassis/1U/index.json"
	)
	for _, c := range []struct {
		name, doc string
		edit      func(map[string]any)
		raw       [2]string // a textual replacement, for what JSON values cannot hold
		fails     bool
	}{
		{name: "a Chassis link that is a number", doc: system, fails: true,
			edit: func(d map[string]any) { d["Links"].(map[string]any)["Chassis"] = []any{5} }},
		{name: "a Chassis expanded with wrong types", doc: system, fails: true,
			edit: func(d map[string]any) {
				d["Links"].(map[string]any)["Chassis"] = []any{map[string]any{"Id": 5, "Status": 7}}
			}},
		{name: "a Chassis link off the BMC", doc: system, fails: true,
			edit: func(d map[string]any) {
				d["Links"].(map[string]any)["Chassis"] = []any{map[string]any{"@odata.id": "http://192.0.2.1/redfish/v1/Chassis/1U"}}
			}},
		{name: "the System as its own Chassis", doc: system,
			edit: func(d map[string]any) {
				d["Links"].(map[string]any)["Chassis"] = []any{map[string]any{"@odata.id": "/redfish/v1/Systems/437XR1138R2"}}
			}},
		{name: "a Manager that is a string", doc: system, fails: true,
			edit: func(d map[string]any) { d["Links"].(map[string]any)["ManagedBy"] = []any{"BMC"} }},
		{name: "Status a string", doc: system, fails: true,
			edit: func(d map[string]any) { d["Status"] = "OK" }},
		{name: "Sensors a string", doc: chassis, fails: true,
			edit: func(d map[string]any) { d["Sensors"] = "nope" }},
		{name: "Sensors linking the Chassis itself", doc: chassis,
			edit: func(d map[string]any) { d["Sensors"] = map[string]any{"@odata.id": "/redfish/v1/Chassis/1U"} }},
		{name: "Sensors members that are not objects", doc: "Chassis/1U/Sensors/index.json", fails: true,
			edit: func(d map[string]any) { d["Members"] = []any{1, "x", nil} }},
		{name: "a PowerWatts reading that is text", doc: "Chassis/1U/EnvironmentMetrics/index.json", fails: true,
			edit: func(d map[string]any) { d["PowerWatts"] = map[string]any{"Reading": "high"} }},
		{name: "a PowerWatts reading beyond float64", doc: "Chassis/1U/EnvironmentMetrics/index.json", fails: true,
			raw: [2]string{`"Reading":374`, `"Reading":1e999`}},
		{name: "PowerSupplies a number", doc: "Chassis/1U/PowerSubsystem/index.json", fails: true,
			edit: func(d map[string]any) { d["PowerSupplies"] = 5 }},
		{name: "PowerSupplies linked without a URI", doc: "Chassis/1U/PowerSubsystem/index.json", fails: true,
			edit: func(d map[string]any) { d["PowerSupplies"] = map[string]any{"@odata.id": 5} }},
		{name: "PowerSupplies listed without Members", doc: "Chassis/1U/PowerSubsystem/index.json", fails: true,
			edit: func(d map[string]any) { d["PowerSupplies"] = map[string]any{"Members": "x", "Name": "y", "Id": "z"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := editedMockup(t, "public-rackmount1", c.doc, func(d map[string]any) {
				if c.edit != nil {
					c.edit(d)
				}
			})
			if c.raw[0] != "" {
				p := filepath.Join(dir, c.doc)
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				s := strings.Replace(string(b), c.raw[0], c.raw[1], 1)
				if s == string(b) {
					t.Fatalf("%s has no %s", c.doc, c.raw[0])
				}
				if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			sim := startSim(t, simulator.Config{MockupDir: dir})
			d := newDriver(t, fastOptions())
			got, err := d.Telemetry(ctx(t), simNode(sim, sim.SystemIDs()[0], nil))
			switch {
			case c.fails && err == nil:
				t.Fatalf("read %+v, want an error", got)
			case !c.fails && err != nil:
				t.Fatalf("read failed: %v", err)
			case err != nil && !errors.Is(err, drivers.ErrBMCRejected) && !errors.Is(err, drivers.ErrBMCFailed):
				t.Fatalf("error of kind %q, want the BMC's fault (rejected or failed): %v", drivers.ErrorKind(err), err)
			}
			t.Logf("%v", err)
		})
	}
}
