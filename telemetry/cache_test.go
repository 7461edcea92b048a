package telemetry_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/telemetry"
)

// What a hostile or broken BMC sends is bounded where it enters the cache:
// each list (sensors, power supplies, health parts) at the per-node cap,
// the excess counted; every string that becomes a label value cut to
// MaxLabelLen bytes at a character boundary; names made unique again after
// the cut (two long names sharing a prefix must not become one duplicate
// series).
func TestCacheBoundsWhatABMCSends(t *testing.T) {
	const capN = 10
	c := telemetry.NewCache(capN)
	long := strings.Repeat("é", telemetry.MaxLabelLen) // 2 bytes a rune: a cut may fall inside one
	in := &drivers.Telemetry{Vendor: long, Model: long, FirmwareVersion: long}
	for i := range 3 * capN {
		in.Sensors = append(in.Sensors, drivers.Sensor{Kind: drivers.SensorTemperature, Name: fmt.Sprintf("%s%d", long, i), Context: long, Reading: float64(i)})
		in.PowerSupplies = append(in.PowerSupplies, drivers.PowerSupply{Name: fmt.Sprintf("PSU%d", i)})
		in.Parts = append(in.Parts, drivers.HealthPart{Resource: "Chassis", ID: fmt.Sprint(i), Health: drivers.HealthOK})
	}
	e := c.Record("n1", in)
	got := e.Telemetry
	if len(got.Sensors) != 1 || len(got.PowerSupplies) != capN || len(got.Parts) != capN {
		t.Fatalf("kept %d sensors (names cut to one), %d power supplies, %d parts; want 1, %d, %d",
			len(got.Sensors), len(got.PowerSupplies), len(got.Parts), capN, capN)
	}
	// 30 sensors whose names differ only past the cut are one series; 20
	// power supplies and 20 parts over the cap are dropped and counted.
	if e.Dropped != 2*2*capN || c.Dropped() != uint64(e.Dropped) {
		t.Fatalf("dropped %d (cache total %d), want %d", e.Dropped, c.Dropped(), 4*capN)
	}
	for _, s := range []string{got.Vendor, got.Model, got.FirmwareVersion, got.Sensors[0].Name, got.Sensors[0].Context} {
		if len(s) > telemetry.MaxLabelLen || len(s) < telemetry.MaxLabelLen-utf8.UTFMax || !utf8.ValidString(s) {
			t.Fatalf("label value of %d bytes (valid UTF-8: %v), want at most %d", len(s), utf8.ValidString(s), telemetry.MaxLabelLen)
		}
	}
	// The input is the caller's: not modified.
	if len(in.Sensors) != 3*capN || in.Vendor != long {
		t.Fatal("the cache modified the driver's Telemetry")
	}
	// A BMC within the bounds keeps everything as sent.
	small := &drivers.Telemetry{Vendor: "Contoso", Sensors: []drivers.Sensor{{Kind: drivers.SensorFan, Name: "Fan1", Reading: 3000}},
		PowerSupplies: []drivers.PowerSupply{{Name: "PSU1"}, {Name: "PSU2"}}}
	if e := c.Record("n2", small); e.Dropped != 0 || e.Telemetry.Vendor != "Contoso" || len(e.Telemetry.Sensors) != 1 || len(e.Telemetry.PowerSupplies) != 2 {
		t.Fatalf("a small read changed: %+v (dropped %d)", e.Telemetry, e.Dropped)
	}
}
