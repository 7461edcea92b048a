package redfish_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// BenchmarkFleetInspect: one driver inspects 1,000 simulated BMCs (each on
// its own port, 200 ms added to every request), 100 at a time. An
// inspection's requests depend on each other (root, then System, then its
// collections, then their members), so its shortest possible time is its
// critical path, rounds x 200 ms, not requests x 200 ms. rounds is measured
// once per shape of hardware (drives, add-on adapters) by inspecting one
// system of that shape alone; the ideal is sum(rounds) x 200 ms / 100, what
// the fleet would take if 100 inspections ran at once without slowing each
// other. x-ideal is the wall time over it; requests/node is what one
// inspection sends, x-serial the wall time over requests x 200 ms / 100.
func BenchmarkFleetInspect(b *testing.B) {
	const (
		systems     = 1000
		latency     = 200 * time.Millisecond
		concurrency = 100
	)
	sim := latencyFleet(b, systems, latency)
	d := redfish.New(redfish.Options{})
	defer d.Close(bg)
	ids := sim.SystemIDs()
	inspect := func(id string) error {
		ctx, cancel := context.WithTimeout(bg, time.Minute)
		defer cancel()
		_, err := d.Inspect(ctx, simNode(sim, id, nil))
		return err
	}
	fleet := func(fn func(id string) error) { runFleet(b, ids, concurrency, fn) }
	// A long-running agent has its clients and sessions already.
	fleet(func(id string) error { return d.Check(bg, simNode(sim, id, nil)) })

	// The critical path of each shape, from one lone inspection.
	type shape struct{ drives, adapters int }
	rounds := map[shape]int{}
	shapeOf := func(id string) shape {
		hw := sim.System(id).Hardware()
		return shape{len(hw.Drives), len(hw.AddOnNICs)}
	}
	for _, id := range ids {
		s := shapeOf(id)
		if _, ok := rounds[s]; ok {
			continue
		}
		start := time.Now()
		if err := inspect(id); err != nil {
			b.Fatal(err)
		}
		rounds[s] = int(math.Round(float64(time.Since(start)) / float64(latency)))
	}
	var ideal time.Duration
	for _, id := range ids {
		ideal += time.Duration(rounds[shapeOf(id)]) * latency
	}
	ideal /= concurrency

	b.ResetTimer()
	var wall time.Duration
	var requests uint64
	for range b.N {
		before := d.Stats().Requests
		start := time.Now()
		fleet(inspect)
		wall += time.Since(start)
		requests += d.Stats().Requests - before
	}
	b.StopTimer()
	perNode := float64(requests) / float64(b.N*systems)
	serial := time.Duration(perNode*float64(systems)) * latency / concurrency
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s/op")
	b.ReportMetric(ideal.Seconds(), "ideal-s/op")
	b.ReportMetric(float64(wall)/float64(b.N)/float64(ideal), "x-ideal")
	b.ReportMetric(perNode, "requests/node")
	b.ReportMetric(float64(wall)/float64(b.N)/float64(serial), "x-serial")
	if st := d.Stats(); st.Retries > 0 {
		b.Errorf("%d retries against a healthy fleet", st.Retries)
	}
}

var _ drivers.Inspector = (*redfish.Driver)(nil)

// latencyFleet starts a simulator of systems BMCs, each on its own port,
// with latency added to every request; it stops with the benchmark.
func latencyFleet(b *testing.B, systems int, latency time.Duration) *simulator.Simulator {
	b.Helper()
	sim, err := simulator.New(simulator.Config{Systems: systems, PortPerSystem: true, Username: user, Password: pass, RequestLogSize: -1})
	if err != nil {
		b.Fatal(err)
	}
	if err := sim.Start(bg, "127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sim.Close() })
	if err := sim.SetFleetFault(simulator.Fault{Latency: latency}); err != nil {
		b.Fatal(err)
	}
	return sim
}

// runFleet runs fn for every id with the given concurrency, as the agent's
// workers would.
func runFleet(b *testing.B, ids []string, concurrency int, fn func(id string) error) {
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				if err := fn(id); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for _, id := range ids {
		jobs <- id
	}
	close(jobs)
	wg.Wait()
}
