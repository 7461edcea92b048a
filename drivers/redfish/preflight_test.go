package redfish_test

import (
	"errors"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// A preflight check that fails stops a mutating call at the last instant:
// the driver's reads go out, its reset is never sent, and the error is the
// check's.
func TestPreflightStopsTheMutation(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	d := newDriver(t, fastOptions())
	n := simNode(sim, id, nil)
	errGone := errors.New("lease gone")
	checks := 0
	c := drivers.WithPreflight(ctx(t), func() error { checks++; return errGone })
	err := d.SetPowerState(c, n, drivers.ActionPowerOn, 0)
	if !errors.Is(err, errGone) {
		t.Fatalf("power on with a failing preflight: %v", err)
	}
	if checks == 0 {
		t.Fatal("the preflight check never ran")
	}
	if log := sim.System(id).RequestLog(); len(log) != 0 {
		t.Fatalf("the BMC saw mutations: %+v", log)
	}
	if got := simPower(sim, id); got != drivers.PowerOff {
		t.Fatalf("power %s, want off", got)
	}
	// With a check that passes, the same call goes through.
	if err := d.SetPowerState(drivers.WithPreflight(ctx(t), func() error { return nil }), n, drivers.ActionPowerOn, 0); err != nil {
		t.Fatal(err)
	}
	if len(sim.System(id).RequestLog()) == 0 {
		t.Fatal("the BMC logged no mutation")
	}
}
