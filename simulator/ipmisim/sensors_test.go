package ipmisim_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/ipmisim"
)

// TestSensors reads the SDR repository, the sensors and the DCMI power
// reading with the real ipmitool and compares them with the model: one
// listed sensor per model sensor, thresholds where the model has them, the
// draw in watts, Invalid Command without DCMI, and faults played on DCMI
// like on any other command.
func TestSensors(t *testing.T) {
	// A clock that does not move: the readings stay put between
	// ipmitool's read and the model's.
	frozen := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	f := startWith(t, simulator.Config{Systems: 1, Now: func() time.Time { return frozen }}, ipmisim.Config{})
	id := f.sim.SystemIDs()[0]
	sys := f.sim.System(id)
	c := f.ipmitool(id)
	ctx := ctxFor(t)
	if err := sys.SetPowerState(simulator.PowerOn); err != nil {
		t.Fatal(err)
	}
	tel := sys.Telemetry()

	out, err := c.Run(ctx, "sdr", "elist", "full")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(tel.Sensors) {
		t.Fatalf("ipmitool lists %d sensors, the model has %d:\n%s", len(lines), len(tel.Sensors), out)
	}
	for i, s := range tel.Sensors {
		name, _, _ := strings.Cut(lines[i], "|")
		if strings.TrimSpace(name) != s.Name || !strings.Contains(lines[i], fmt.Sprintf("| %02Xh | ok ", i+1)) {
			t.Errorf("line %d %q, want sensor %02Xh %q ok", i+1, lines[i], i+1, s.Name)
		}
	}

	// `sensor get` shows the threshold the model sets (Get Sensor
	// Thresholds) and the reading to the record's resolution.
	out, err = c.Run(ctx, "sensor", "get", "CPU1 Temp")
	if err != nil {
		t.Fatal(err)
	}
	var reading, ucr float64
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch strings.TrimSpace(k) {
		case "Sensor Reading":
			fmt.Sscan(v, &reading)
		case "Upper Critical":
			fmt.Sscan(v, &ucr)
		}
	}
	if cpu := tel.Sensors[0]; math.Abs(reading-cpu.Reading) > 0.25 || ucr != cpu.UpperCritical {
		t.Errorf("CPU1 Temp: reading %v, upper critical %v; want %v, %v:\n%s", reading, ucr, cpu.Reading, cpu.UpperCritical, out)
	}

	out, err = c.Run(ctx, "dcmi", "power", "reading")
	if want := fmt.Sprintf("Instantaneous power reading: %d Watts", int(math.Round(tel.PowerWatts))); err != nil || !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
		t.Errorf("dcmi power reading: %v\n%s\nwant %q", err, out, want)
	}
	if err := sys.SetFault(simulator.Fault{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(ctx, "raw", "0x2c", "0x02", "0xdc", "0x01", "0x00", "0x00"); err == nil || !strings.Contains(err.Error(), "Node busy") {
		t.Errorf("DCMI under error rate 1: %v, want Node busy", err)
	}
	sys.ClearFault()
	if err := f.face.SetDCMI(id, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(ctx, "raw", "0x2c", "0x02", "0xdc", "0x01", "0x00", "0x00"); err == nil || !strings.Contains(err.Error(), "Invalid command") {
		t.Errorf("DCMI off: %v, want Invalid command", err)
	}
	if n := f.face.Requests(id)["Get DCMI Power Reading"]; n != 3 {
		t.Errorf("%d DCMI requests counted, want 3", n)
	}
}
