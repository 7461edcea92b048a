package metrics_test

import (
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/events"
	"github.com/bmc-agent/bmc-agent/metrics"
	prom "github.com/prometheus/client_golang/prometheus/testutil"
)

type eventStats events.Stats

func (s eventStats) Stats() events.Stats { return events.Stats(s) }

// The listener's counts, one series each, refused events apart.
func TestEvents(t *testing.T) {
	c := metrics.NewEvents(eventStats{Accepted: 7, Refused: 2, Invalid: 1, Ignored: 3, Refreshes: 4, Coalesced: 1, Failed: 1})
	want := `
# HELP bmc_agent_event_read_failures_total Event-triggered reads that failed.
# TYPE bmc_agent_event_read_failures_total counter
bmc_agent_event_read_failures_total 1
# HELP bmc_agent_event_reads_total Reads of a node that events triggered.
# TYPE bmc_agent_event_reads_total counter
bmc_agent_event_reads_total 4
# HELP bmc_agent_events_coalesced_total Events folded into a read of their node already queued.
# TYPE bmc_agent_events_coalesced_total counter
bmc_agent_events_coalesced_total 1
# HELP bmc_agent_events_ignored_total Accepted events with no power or health change, which read nothing.
# TYPE bmc_agent_events_ignored_total counter
bmc_agent_events_ignored_total 3
# HELP bmc_agent_events_received_total Events posted to the listener, by result: accepted, refused (no or a wrong secret) or invalid (not a Redfish Event, or another node's).
# TYPE bmc_agent_events_received_total counter
bmc_agent_events_received_total{result="accepted"} 7
bmc_agent_events_received_total{result="invalid"} 1
bmc_agent_events_received_total{result="refused"} 2
`
	if err := prom.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if problems, err := prom.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}
