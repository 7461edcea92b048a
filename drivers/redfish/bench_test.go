package redfish_test

import (
	"context"
	"testing"
	"time"

	"github.com/stmcginnis/gofish"
	gfredfish "github.com/stmcginnis/gofish/redfish"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// BenchmarkFleetPower: one driver powers 1,000 simulated BMCs (each on its
// own port, with 200 ms added to every request) on and then off, with 100
// operations in flight at a time, as the agent's 100 workers would. The
// ideal is the requests the driver sent x 200 ms / 100: what a driver that
// adds no time of its own and keeps all 100 slots busy would take for the
// same requests. x-ideal is the wall time over that ideal.
func BenchmarkFleetPower(b *testing.B) {
	const (
		systems     = 1000
		latency     = 200 * time.Millisecond
		concurrency = 100
	)
	sim := latencyFleet(b, systems, latency)
	d := redfish.New(redfish.Options{})
	defer d.Close(bg)
	ids := sim.SystemIDs()

	// fleet runs fn for every system with the given concurrency.
	fleet := func(fn func(n drivers.Node) error) {
		runFleet(b, ids, concurrency, func(id string) error { return fn(simNode(sim, id, nil)) })
	}
	// A long-running agent has its clients and sessions already.
	fleet(func(n drivers.Node) error { return d.Check(bg, n) })

	b.ResetTimer()
	var wall time.Duration
	var requests uint64
	for range b.N {
		before := d.Stats().Requests
		start := time.Now()
		fleet(func(n drivers.Node) error {
			ctx, cancel := context.WithTimeout(bg, time.Minute)
			defer cancel()
			if err := d.SetPowerState(ctx, n, drivers.ActionPowerOn, 0); err != nil {
				return err
			}
			return d.SetPowerState(ctx, n, drivers.ActionPowerOff, 0)
		})
		wall += time.Since(start)
		requests += d.Stats().Requests - before
	}
	b.StopTimer()
	ideal := time.Duration(requests) * latency / concurrency
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s/op")
	b.ReportMetric(ideal.Seconds()/float64(b.N), "ideal-s/op")
	b.ReportMetric(float64(wall)/float64(ideal), "x-ideal")
	b.ReportMetric(float64(requests)/float64(b.N*systems*2), "requests/power-op")
	if st := d.Stats(); st.Retries > 0 {
		b.Errorf("%d retries against a healthy fleet", st.Retries)
	}
}

// BenchmarkOverhead compares the driver with bare gofish on the same
// simulated BMC (no added latency), alternating batches so that both see the
// same load: reading the power state (one GET each) and powering on and off
// (GET, Reset, GET twice each). overhead-us/call is the driver's time over
// gofish's per driver call, x_gofish the ratio of the two.
func BenchmarkOverhead(b *testing.B) {
	sim, err := simulator.New(simulator.Config{Username: user, Password: pass, RequestLogSize: -1})
	if err != nil {
		b.Fatal(err)
	}
	if err := sim.Start(bg, "127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	id := sim.SystemIDs()[0]
	n := simNode(sim, id, nil)
	path := sim.SystemPath(id)

	gc, err := gofish.ConnectContext(bg, gofish.ClientConfig{
		Endpoint: sim.Endpoint(id), Username: user, Password: pass,
		ReuseConnections: true, MaxConcurrentRequests: 4, // gofish's own transport, kept alive
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { gc.Logout(); gc.HTTPClient.CloseIdleConnections() }()
	d := redfish.New(redfish.Options{PollInterval: time.Millisecond})
	defer d.Close(bg)

	ops := []struct {
		name   string
		gofish func() error
		driver func() error
	}{
		{"read", func() error {
			_, err := gfredfish.GetComputerSystem(gc, path)
			return err
		}, func() error {
			_, err := d.PowerState(bg, n)
			return err
		}},
		{"power", func() error {
			for _, rt := range []gfredfish.ResetType{gfredfish.OnResetType, gfredfish.ForceOffResetType} {
				s, err := gfredfish.GetComputerSystem(gc, path)
				if err != nil {
					return err
				}
				if err := s.Reset(rt); err != nil {
					return err
				}
				if _, err := gfredfish.GetComputerSystem(gc, path); err != nil {
					return err
				}
			}
			return nil
		}, func() error {
			if err := d.SetPowerState(bg, n, drivers.ActionPowerOn, 0); err != nil {
				return err
			}
			return d.SetPowerState(bg, n, drivers.ActionPowerOff, 0)
		}},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			if op.gofish() != nil || op.driver() != nil { // connect, log in
				b.Fatal("warm-up failed")
			}
			b.ResetTimer()
			const batch = 50
			var tg, td time.Duration
			for i := 0; i < b.N; i += batch {
				k := min(batch, b.N-i)
				start := time.Now()
				for range k {
					if err := op.gofish(); err != nil {
						b.Fatal(err)
					}
				}
				tg += time.Since(start)
				start = time.Now()
				for range k {
					if err := op.driver(); err != nil {
						b.Fatal(err)
					}
				}
				td += time.Since(start)
			}
			calls := float64(b.N)
			if op.name == "power" {
				calls *= 2 // two driver calls (on, off) per iteration
			}
			b.ReportMetric(float64(tg.Microseconds())/calls, "gofish-us/call")
			b.ReportMetric(float64(td.Microseconds())/calls, "driver-us/call")
			b.ReportMetric(float64((td-tg).Microseconds())/calls, "overhead-us/call")
			b.ReportMetric(float64(td)/float64(tg), "x_gofish") // the driver's time over gofish's
		})
	}
}
