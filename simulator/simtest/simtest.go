package simtest

import (
	"context"
	"testing"

	"github.com/bmc-agent/bmc-agent/simulator"
)

// Start returns a simulator of cfg serving on 127.0.0.1 (a free port, and
// one per system with cfg.PortPerSystem), closed when the test ends. It
// fails the test if the simulator cannot be made or started.
func Start(t testing.TB, cfg simulator.Config) *simulator.Simulator {
	t.Helper()
	sim, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}
