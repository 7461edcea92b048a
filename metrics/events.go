package metrics

import (
	"github.com/bmc-agent/bmc-agent/events"
	"github.com/prometheus/client_golang/prometheus"
)

// EventStater is what the events collector reads (*events.Listener).
type EventStater interface {
	Stats() events.Stats
}

// Events exports the Redfish event listener's counts, read at scrape time:
// what arrived (accepted, refused for want of the node's secret, invalid),
// and the reads the accepted events made. A rising refused count is
// someone posting events without the secret: forged, or a BMC holding a
// subscription of an old key.
type Events struct {
	src                        EventStater
	received, reads, coalesced *prometheus.Desc
	failed, ignored            *prometheus.Desc
}

// NewEvents returns the event listener's collector.
func NewEvents(src EventStater) *Events {
	return &Events{
		src: src,
		received: prometheus.NewDesc(namespace+"_events_received_total",
			"Events posted to the listener, by result: accepted, refused (no or a wrong secret) or invalid (not a Redfish Event, or another node's).",
			[]string{"result"}, nil),
		ignored: prometheus.NewDesc(namespace+"_events_ignored_total",
			"Accepted events with no power or health change, which read nothing.", nil, nil),
		reads: prometheus.NewDesc(namespace+"_event_reads_total",
			"Reads of a node that events triggered.", nil, nil),
		coalesced: prometheus.NewDesc(namespace+"_events_coalesced_total",
			"Events folded into a read of their node already queued.", nil, nil),
		failed: prometheus.NewDesc(namespace+"_event_read_failures_total",
			"Event-triggered reads that failed.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (e *Events) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{e.received, e.ignored, e.reads, e.coalesced, e.failed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (e *Events) Collect(ch chan<- prometheus.Metric) {
	s := e.src.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(e.received, s.Accepted, "accepted")
	counter(e.received, s.Refused, "refused")
	counter(e.received, s.Invalid, "invalid")
	counter(e.ignored, s.Ignored)
	counter(e.reads, s.Refreshes)
	counter(e.coalesced, s.Coalesced)
	counter(e.failed, s.Failed)
}

var _ prometheus.Collector = (*Events)(nil)
