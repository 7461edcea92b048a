package fake_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
)

func TestFakeTelemetry(t *testing.T) {
	ctx := context.Background()
	f := fake.New()
	n := node(drivers.Info{fake.InfoSensors: 40.0})
	off, err := f.Telemetry(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(off.Sensors) != 40 || off.Health != drivers.HealthOK || off.PowerWatts == nil {
		t.Fatalf("off: %d sensors, health %q, power %v", len(off.Sensors), off.Health, off.PowerWatts)
	}
	for _, s := range off.Sensors {
		if s.Kind == drivers.SensorCurrent {
			t.Fatalf("the fake reports a current sensor %+v; none should be present", s)
		}
	}
	if err := f.SetPowerState(ctx, n, drivers.ActionPowerOn, 0); err != nil {
		t.Fatal(err)
	}
	f.SetHealth(n.UUID, drivers.HealthCritical)
	on, _ := f.Telemetry(ctx, n)
	if *on.PowerWatts <= *off.PowerWatts || on.Sensors[0].Reading <= off.Sensors[0].Reading {
		t.Fatalf("power on did not raise the readings: %v W %v C -> %v W %v C", *off.PowerWatts, off.Sensors[0].Reading, *on.PowerWatts, on.Sensors[0].Reading)
	}
	if on.Health != drivers.HealthCritical {
		t.Fatalf("health %q after SetHealth(Critical)", on.Health)
	}

	w := 99.0
	f.SetTelemetry(n.UUID, &drivers.Telemetry{PowerWatts: &w})
	got, _ := f.Telemetry(ctx, n)
	*got.PowerWatts = 1 // the caller's copy
	again, _ := f.Telemetry(ctx, n)
	if *again.PowerWatts != 99 || len(again.Sensors) != 0 {
		t.Fatalf("fixed telemetry: %+v", again)
	}

	f.Inject(n.UUID, fake.Fault{Err: drivers.ErrBMCUnreachable})
	if _, err := f.Telemetry(ctx, n); !errors.Is(err, drivers.ErrBMCUnreachable) {
		t.Fatalf("injected fault: %v", err)
	}
	if err := f.Validate(drivers.ManagementInterface, node(drivers.Info{fake.InfoSensors: "many"})); !errors.Is(err, drivers.ErrInvalidInfo) {
		t.Fatalf("bad %s accepted: %v", fake.InfoSensors, err)
	}
}
