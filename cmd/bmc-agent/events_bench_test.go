package main

import (
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/simulator"
)

// BenchmarkPowerChangeSeen measures how long a power change made on a
// simulated BMC takes to show in the node's power_state through the API:
// with Redfish events (the power sync an hour away, so only the event
// explains it) and without (the sync every second, so half a second on
// average plus the read). The issue asks for events within 1 s:
// x_event/1s is the event path's mean against that target, x_sync/event how
// much sooner the event path is.
func BenchmarkPowerChangeSeen(b *testing.B) {
	const eventChanges, syncChanges = 20, 4
	measure := func(e *eventEnv, system, node string, n int) time.Duration {
		var total time.Duration
		on := true
		for range n {
			start := time.Now()
			setPower(b, e.sim, system, on)
			want := map[bool]string{true: "power on", false: "power off"}[on]
			e.waitPower(b, node, want)
			total += time.Since(start)
			on = !on
		}
		return total / time.Duration(n)
	}
	simE, simS := startEventSim(b, 1), startEventSim(b, 1)
	ev := startEventAgent(b, simE, "bench-events", []string{"n"}, "--sync-interval", "1h", "--event-listen", "127.0.0.1:0", "--event-resync", "1h")
	sy := startEventAgent(b, simS, "bench-sync", []string{"n"}, "--sync-interval", "1s")
	evNode, syNode := str(ev.c.node(b, "n"), "uuid"), str(sy.c.node(b, "n"), "uuid")
	ev.waitSub(b, evNode, "created", func(_ simulator.Subscription, ok bool) bool { return ok })
	sy.waitPower(b, syNode, "power off") // the first cycle recorded it
	b.ResetTimer()
	var evMean, syMean time.Duration
	for range b.N {
		evMean = measure(ev, simE.SystemIDs()[0], evNode, eventChanges)
		syMean = measure(sy, simS.SystemIDs()[0], syNode, syncChanges)
	}
	b.StopTimer()
	b.ReportMetric(float64(evMean.Microseconds())/1000, "event-ms/change")
	b.ReportMetric(float64(syMean.Microseconds())/1000, "sync1s-ms/change")
	b.ReportMetric(evMean.Seconds()/1, "x_event/1s")
	b.ReportMetric(syMean.Seconds()/evMean.Seconds(), "x_sync/event")
}
