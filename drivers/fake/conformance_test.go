package fake_test

import (
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/driverstest"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
)

func TestConformance(t *testing.T) {
	driverstest.Run(t, func(t *testing.T) driverstest.Target {
		f := fake.New()
		n := drivers.Node{UUID: "conformance"}
		return driverstest.Target{
			Driver: f,
			Node:   n,
			Power: func(*testing.T) drivers.PowerState {
				p, _, _ := f.State(n.UUID)
				return p
			},
			BootDevice: func(*testing.T) (drivers.BootDevice, bool) {
				_, bd, _ := f.State(n.UUID)
				return bd.Device, *bd.Persistent
			},
			Media: func(*testing.T) (string, bool) {
				_, _, m := f.State(n.UUID)
				return m[0].Image, m[0].Inserted
			},
		}
	})
}
