package redfish_test

import (
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/driverstest"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// TestConformance runs the drivers contract against the simulator, with
// both kinds of authentication and with power transitions that take time,
// checking every result through the simulator's own state.
func TestConformance(t *testing.T) {
	for _, auth := range []redfish.AuthType{redfish.AuthSession, redfish.AuthBasic} {
		t.Run(string(auth), func(t *testing.T) {
			driverstest.Run(t, func(t *testing.T) driverstest.Target {
				sim := startSim(t, simulator.Config{PowerDelay: 30 * time.Millisecond})
				id := sim.SystemIDs()[0]
				d := newDriver(t, fastOptions())
				return driverstest.Target{
					Driver:       d,
					Node:         simNode(sim, id, drivers.Info{redfish.InfoAuthType: string(auth)}),
					Power:        func(*testing.T) drivers.PowerState { return simPower(sim, id) },
					BootDevice:   func(*testing.T) (drivers.BootDevice, bool) { return simBoot(sim, id) },
					Media:        func(t *testing.T) (string, bool) { m := simMedia(t, sim, id, "Cd"); return m.Image, m.Inserted },
					PowerTimeout: 10 * time.Second,
				}
			})
		})
	}
}
