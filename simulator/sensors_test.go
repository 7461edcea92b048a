package simulator

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"
)

// sensorByName finds a sensor of a snapshot.
func sensorByName(t *testing.T, tel Telemetry, name string) Sensor {
	t.Helper()
	for _, s := range tel.Sensors {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no sensor %q in %+v", name, tel.Sensors)
	return Sensor{}
}

func TestTelemetryFollowsPowerState(t *testing.T) {
	sys, clk := newTestSystem(t, 0)
	off := sys.Telemetry()
	if off.PowerWatts <= 0 || off.PowerWatts > 20 {
		t.Fatalf("off: draw %v W, want standby watts", off.PowerWatts)
	}
	if err := sys.Reset(ResetOn); err != nil {
		t.Fatal(err)
	}
	on := sys.Telemetry()
	if on.PowerWatts < 100 {
		t.Fatalf("on: draw %v W, want a running machine's", on.PowerWatts)
	}
	for _, name := range []string{"CPU1 Temp", "CPU2 Temp", "Exhaust Temp", "Fan1", "Fan4"} {
		if a, b := sensorByName(t, off, name).Reading, sensorByName(t, on, name).Reading; b <= a {
			t.Errorf("%s: %v off, %v on: want higher on", name, a, b)
		}
	}
	for _, ps := range on.PowerSupplies {
		if ps.InputWatts <= ps.OutputWatts || ps.OutputWatts <= 0 {
			t.Errorf("%s: in %v out %v W, want input > output > 0", ps.Name, ps.InputWatts, ps.OutputWatts)
		}
	}
	if on.SystemHealth != HealthOK || on.ChassisHealth != HealthOK {
		t.Fatalf("rollups %s/%s, want OK/OK", on.SystemHealth, on.ChassisHealth)
	}
	// Off again: back to the standby readings (same clock step).
	if err := sys.Reset(ResetForceOff); err != nil {
		t.Fatal(err)
	}
	if again := sys.Telemetry(); !reflect.DeepEqual(again, off) {
		t.Fatalf("off again %+v, want the first off readings %+v", again, off)
	}
	// On, readings vary with the clock but stay near the nominal.
	if err := sys.Reset(ResetOn); err != nil {
		t.Fatal(err)
	}
	moved := false
	for range 6 {
		clk.Advance(variationStep)
		tt := sys.Telemetry()
		if tt.PowerWatts != on.PowerWatts {
			moved = true
		}
		if d := tt.PowerWatts - on.PowerWatts; d > 2*powerJitter+1 || d < -2*powerJitter-1 {
			t.Fatalf("draw moved by %v W in a minute, want within the jitter", d)
		}
	}
	if !moved {
		t.Fatal("draw never moved in six clock steps")
	}
}

func TestTelemetryIsDeterministic(t *testing.T) {
	clk := newFakeClock()
	a, err := New(Config{Systems: 3, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Systems: 3, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ids := a.SystemIDs()
	for _, id := range ids {
		_ = a.System(id).Reset(ResetOn)
		_ = b.System(id).Reset(ResetOn)
		if x, y := a.System(id).Telemetry(), b.System(id).Telemetry(); !reflect.DeepEqual(x, y) {
			t.Fatalf("%s: two simulators at one clock disagree:\n%+v\n%+v", id, x, y)
		}
	}
	if x, y := a.System(ids[0]).Telemetry(), a.System(ids[1]).Telemetry(); x.PowerWatts == y.PowerWatts {
		t.Fatalf("systems 0 and 1 both draw %v W: want per-system readings", x.PowerWatts)
	}
}

func TestPartHealthRollsUp(t *testing.T) {
	sys, _ := newTestSystem(t, 0)
	_ = sys.Reset(ResetOn)
	if err := sys.SetPartHealth("PSU1", HealthCritical); err != nil {
		t.Fatal(err)
	}
	tel := sys.Telemetry()
	if tel.ChassisHealth != HealthCritical || tel.SystemHealth != HealthOK {
		t.Fatalf("PSU1 failed: rollups system %s chassis %s, want OK/Critical", tel.SystemHealth, tel.ChassisHealth)
	}
	p1, p2 := tel.PowerSupplies[0], tel.PowerSupplies[1]
	if p1.Health != HealthCritical || p1.InputWatts != 0 || p2.InputWatts != tel.PowerWatts {
		t.Fatalf("PSU1 failed: %+v %+v, want PSU1 without readings and PSU2 carrying %v W", p1, p2, tel.PowerWatts)
	}
	if err := sys.SetPartHealth("CPU2 Temp", HealthWarning); err != nil {
		t.Fatal(err)
	}
	tel = sys.Telemetry()
	cpu := sensorByName(t, tel, "CPU2 Temp")
	if tel.SystemHealth != HealthWarning || cpu.Health != HealthWarning || cpu.Reading >= cpu.UpperCritical {
		t.Fatalf("CPU2 warning: system %s, sensor %+v", tel.SystemHealth, cpu)
	}
	if err := sys.SetPartHealth("CPU2 Temp", HealthCritical); err != nil {
		t.Fatal(err)
	}
	if cpu := sensorByName(t, sys.Telemetry(), "CPU2 Temp"); cpu.Reading <= cpu.UpperCritical {
		t.Fatalf("CPU2 critical reads %v, want above %v", cpu.Reading, cpu.UpperCritical)
	}
	for _, bad := range [][2]string{{"PSU9", HealthCritical}, {"Fan1", "Broken"}} {
		if err := sys.SetPartHealth(bad[0], bad[1]); err == nil {
			t.Errorf("SetPartHealth(%q, %q) accepted", bad[0], bad[1])
		}
	}
	_ = sys.SetPartHealth("PSU1", "")
	_ = sys.SetPartHealth("CPU2 Temp", HealthOK)
	if tel := sys.Telemetry(); tel.ChassisHealth != HealthOK || len(sys.PartHealth()) != 0 {
		t.Fatalf("after recovery: chassis %s, parts %v", tel.ChassisHealth, sys.PartHealth())
	}
}

func TestTelemetryQuirksShapeReadings(t *testing.T) {
	sys, _ := newTestSystem(t, 0)
	_ = sys.Reset(ResetOn)
	if err := sys.SetQuirks(Quirks{FanPercent: true, NoPSUInputWatts: true}); err != nil {
		t.Fatal(err)
	}
	tel := sys.Telemetry()
	fan := sensorByName(t, tel, "Fan1")
	if fan.Units != "Percent" || fan.Reading <= 0 || fan.Reading > 100 {
		t.Fatalf("percent fan %+v", fan)
	}
	if ps := tel.PowerSupplies[0]; ps.InputWatts != 0 || ps.OutputWatts <= 0 {
		t.Fatalf("no input watts: %+v", ps)
	}
	if err := sys.SetQuirks(Quirks{Telemetry: "Both"}); err == nil {
		t.Fatal("SetQuirks accepted Telemetry \"Both\"")
	}
}

func TestAdminPartsAndTelemetry(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	id := sim.SystemIDs()[0]
	c := newClient(t, sim.URL())
	path := "/sim/systems/" + id + "/parts/" + url.PathEscape("Inlet Temp")
	if st, _, body := c.do(http.MethodPut, path, map[string]string{"Health": "Critical"}, nil); st != http.StatusOK {
		t.Fatalf("PUT part: %d %v", st, body)
	}
	body := c.get("/sim/systems/" + id + "/telemetry")
	if body["ChassisHealth"] != HealthCritical || getObj(body, "FailedParts")["Inlet Temp"] != HealthCritical {
		t.Fatalf("telemetry after a failed inlet: %v", body)
	}
	if st, _, _ := c.do(http.MethodPut, "/sim/systems/"+id+"/parts/PSU7", map[string]string{"Health": "Critical"}, nil); st != http.StatusBadRequest {
		t.Fatalf("PUT of an unknown part: %d, want 400", st)
	}
	if st, _, _ := c.do(http.MethodDelete, path, nil, nil); st != http.StatusOK {
		t.Fatalf("DELETE part: %d", st)
	}
	if got := sim.System(id).Telemetry().ChassisHealth; got != HealthOK {
		t.Fatalf("chassis %s after DELETE, want OK", got)
	}
}

// BenchmarkTelemetry is the cost of one snapshot, what every sensor read of
// the Redfish and IPMI faces pays.
func BenchmarkTelemetry(b *testing.B) {
	clk := newFakeClock()
	sim, err := New(Config{Systems: 1, Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	sys := sim.System(sim.SystemIDs()[0])
	_ = sys.Reset(ResetOn)
	b.ReportAllocs()
	for b.Loop() {
		clk.Advance(time.Second)
		_ = sys.Telemetry()
	}
}

// TestTelemetryResources reads each profile's power and thermal resources
// over HTTP: the Chassis links the profile's generation and no other, and
// what the resources say matches System.Telemetry at the same clock.
func TestTelemetryResources(t *testing.T) {
	clk := newFakeClock()
	for _, p := range Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			sim := startSim(t, Config{Systems: 1, Profile: p.Name, Now: clk.Now})
			id := sim.SystemIDs()[0]
			sys := sim.System(id)
			_ = sys.Reset(ResetOn)
			_ = sys.SetPartHealth("PSU2", HealthCritical)
			c := newClient(t, sim.URL())
			cp := "/redfish/v1/Chassis/" + id
			ch := c.get(cp)
			tel := sys.Telemetry()
			if got := getObj(ch, "Status")["HealthRollup"]; got != HealthCritical {
				t.Errorf("chassis HealthRollup %v, want Critical", got)
			}
			legacy, modern := p.Quirks.Telemetry != TelemetryModern, p.Quirks.Telemetry != TelemetryLegacy
			for link, want := range map[string]bool{"Power": legacy, "Thermal": legacy, "PowerSubsystem": modern, "ThermalSubsystem": modern, "EnvironmentMetrics": modern, "Sensors": modern} {
				if _, has := ch[link]; has != want {
					t.Errorf("chassis links %s: %v, want %v", link, has, want)
				}
				if st, _, _ := c.do(http.MethodGet, cp+"/"+link, nil, nil); (st == http.StatusOK) != want {
					t.Errorf("GET %s: %d", link, st)
				}
			}
			if legacy {
				pw := c.get(cp + "/Power")
				ctl, _ := pw["PowerControl"].([]any)
				if len(ctl) != 1 || getObj(ctl[0])["PowerConsumedWatts"] != tel.PowerWatts {
					t.Errorf("PowerControl %v, want %v W", ctl, tel.PowerWatts)
				}
				psus, _ := pw["PowerSupplies"].([]any)
				_, hasIn := getObj(psus[0])["PowerInputWatts"]
				if len(psus) != 2 || hasIn != !p.Quirks.NoPSUInputWatts {
					t.Errorf("PowerSupplies %v: input watts present %v", psus, hasIn)
				}
				if _, has := getObj(psus[1])["PowerOutputWatts"]; has || getObj(psus[1], "Status")["Health"] != HealthCritical {
					t.Errorf("failed PSU2 %v, want Critical without readings", psus[1])
				}
				fans, _ := c.get(cp + "/Thermal")["Fans"].([]any)
				if len(fans) != 4 || getObj(fans[0])["ReadingUnits"] != sensorByName(t, tel, "Fan1").Units {
					t.Errorf("fans %v", fans)
				}
			}
			if modern {
				env := c.get(cp + "/EnvironmentMetrics")
				if getObj(env, "PowerWatts")["Reading"] != tel.PowerWatts {
					t.Errorf("EnvironmentMetrics %v, want %v W", env, tel.PowerWatts)
				}
				coll := c.get(cp + "/Sensors?$expand=.")
				ms, _ := coll["Members"].([]any)
				if len(ms) != len(tel.Sensors) {
					t.Fatalf("%d sensors, model has %d", len(ms), len(tel.Sensors))
				}
				for i, m := range ms {
					if s := tel.Sensors[i]; getObj(m)["Name"] != s.Name || getObj(m)["Reading"] != s.Reading {
						t.Errorf("sensor %v, model %+v", m, s)
					}
				}
				m := c.get(cp + "/PowerSubsystem/PowerSupplies/PSU1/Metrics")
				if getObj(m, "OutputPowerWatts")["Reading"] != tel.PowerSupplies[0].OutputWatts {
					t.Errorf("PSU1 metrics %v, model %+v", m, tel.PowerSupplies[0])
				}
			}
			if got := getObj(c.get("/redfish/v1/Systems/"+id), "Status")["HealthRollup"]; got != HealthOK {
				t.Errorf("system HealthRollup %v with a PSU failed, want OK (the PSU is the chassis')", got)
			}
			if rc := sys.Requests(); rc.Writes != 0 || rc.Reads == 0 {
				t.Errorf("requests %+v, want reads only", rc)
			}
		})
	}
}
