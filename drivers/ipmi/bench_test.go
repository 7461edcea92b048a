package ipmi_test

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// BenchmarkPowerState reads power states from the simulator's IPMI face,
// sequentially and from 16 goroutines, over 1 and 100 systems, through the
// driver and, in the same run and with the same calls, by running ipmitool
// directly with the arguments bmclib uses. It reports both rates and the
// driver's cost per call over ipmitool's (wall time per call, so for the
// concurrent runs it is what the driver costs the throughput). The two paths
// alternate in ten slices of the calls.
//
//	go test -run '^$' -bench PowerState -benchtime 200x ./drivers/ipmi
func BenchmarkPowerState(b *testing.B) {
	path, err := exec.LookPath("ipmitool")
	if err != nil {
		b.Fatal(err)
	}
	for _, systems := range []int{1, 100} {
		sim, face := simFleet(b, systems, simulator.Config{})
		ids := sim.SystemIDs()
		nodes := make([]drivers.Node, len(ids))
		for i, id := range ids {
			nodes[i] = nodeFor(id, faceClient(face, id))
		}
		cfg := fastConfig()
		cfg.MinCommandInterval = -1 // measure the driver, not the pause
		d := ipmi.New(cfg)
		viaDriver := func(ctx context.Context, i int) error {
			_, err := d.PowerState(ctx, nodes[i%len(nodes)])
			return err
		}
		direct := func(ctx context.Context, i int) error {
			c := faceClient(face, ids[i%len(ids)])
			cmd := exec.CommandContext(ctx, path, "-I", "lanplus", "-U", c.Username, "-E", "-N", "5",
				"-H", c.Host, "-p", strconv.Itoa(c.Port), "-C", "3", "chassis", "power", "status")
			cmd.Env = []string{"IPMITOOL_PASSWORD=" + c.Password}
			_, err := cmd.Output()
			return err
		}
		for _, workers := range []int{1, 16} {
			mode := "sequential"
			if workers > 1 {
				mode = fmt.Sprintf("concurrent-%d", workers)
			}
			b.Run(fmt.Sprintf("systems=%d/%s", systems, mode), func(b *testing.B) {
				ctx := context.Background()
				// Warm both paths (page cache, the BMC's first sessions).
				for i := range 3 {
					if err := viaDriver(ctx, i); err != nil {
						b.Fatal(err)
					}
					if err := direct(ctx, i); err != nil {
						b.Fatal(err)
					}
				}
				// Alternate the two paths in ten slices, so that load from
				// elsewhere on the machine falls on both alike.
				var dDur, iDur time.Duration
				for slice := range 10 {
					n := b.N/10 + min(1, max(0, b.N%10-slice))
					dd, err := timeCalls(ctx, n, workers, viaDriver)
					if err != nil {
						b.Fatal(err)
					}
					id, err := timeCalls(ctx, n, workers, direct)
					if err != nil {
						b.Fatal(err)
					}
					dDur, iDur = dDur+dd, iDur+id
				}
				n := float64(b.N)
				b.ReportMetric(n/dDur.Seconds(), "driver-calls/s")
				b.ReportMetric(n/iDur.Seconds(), "ipmitool-calls/s")
				b.ReportMetric(dDur.Seconds()*1000/n, "driver-ms/call")
				b.ReportMetric((dDur-iDur).Seconds()*1000/n, "overhead-ms/call")
				b.ReportMetric(dDur.Seconds()/iDur.Seconds(), "x_ipmitool") // the driver's time over ipmitool's
				b.ReportMetric(0, "ns/op")                                  // both halves are in ns/op; the metrics above say more
			})
		}
	}
}

// timeCalls makes n calls from the given number of workers and returns the
// wall time they took.
func timeCalls(ctx context.Context, n, workers int, call func(context.Context, int) error) (time.Duration, error) {
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := call(ctx, i); err != nil {
					errOnce.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), first
}

// BenchmarkTelemetry reads one system's telemetry from the simulator's IPMI
// face through two drivers, one keeping the SDR repository cached (the
// default) and one walking it at every read, alternating in ten slices. It
// reports each one's time per read, the IPMI requests and ipmitool runs per
// read (counted by the face and the driver), and the uncached time over the
// cached.
//
//	go test -run '^$' -bench Telemetry -benchtime 100x ./drivers/ipmi
func BenchmarkTelemetry(b *testing.B) {
	sim, face := simFleet(b, 1, simulator.Config{})
	id := sim.SystemIDs()[0]
	if err := sim.System(id).SetPowerState(simulator.PowerOn); err != nil {
		b.Fatal(err)
	}
	n := nodeFor(id, faceClient(face, id))
	cfg := fastConfig()
	cfg.MinCommandInterval = -1 // measure the reads, not the pause
	cached := ipmi.New(cfg)
	cfg.SDRCacheTTL = -1
	uncached := ipmi.New(cfg)
	b.Cleanup(func() {
		cached.Close(context.Background())
		uncached.Close(context.Background())
	})
	requests := func() (total int) {
		for _, v := range face.Requests(id) {
			total += v
		}
		return total
	}
	type tally struct {
		dur            time.Duration
		requests, runs int
	}
	var ct, ut tally
	measure := func(d *ipmi.Driver, t *tally, n0 int) error {
		req, runs := requests(), d.Stats().Runs
		dur, err := timeCalls(context.Background(), n0, 1, func(ctx context.Context, _ int) error {
			_, err := d.Telemetry(ctx, n)
			return err
		})
		t.dur += dur
		t.requests += requests() - req
		t.runs += int(d.Stats().Runs - runs)
		return err
	}
	// Warm both: the cached driver dumps the repository here.
	for _, d := range []*ipmi.Driver{cached, uncached} {
		if _, err := d.Telemetry(context.Background(), n); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for slice := range 10 {
		k := b.N/10 + min(1, max(0, b.N%10-slice))
		if err := measure(cached, &ct, k); err != nil {
			b.Fatal(err)
		}
		if err := measure(uncached, &ut, k); err != nil {
			b.Fatal(err)
		}
	}
	reads := float64(b.N)
	b.ReportMetric(ct.dur.Seconds()*1000/reads, "cached-ms/read")
	b.ReportMetric(ut.dur.Seconds()*1000/reads, "uncached-ms/read")
	b.ReportMetric(float64(ct.requests)/reads, "cached-requests/read")
	b.ReportMetric(float64(ut.requests)/reads, "uncached-requests/read")
	b.ReportMetric(float64(ct.runs)/reads, "cached-runs/read")
	b.ReportMetric(float64(ut.runs)/reads, "uncached-runs/read")
	b.ReportMetric(ut.dur.Seconds()/ct.dur.Seconds(), "x_cached") // uncached time over cached
	b.ReportMetric(0, "ns/op")
}
