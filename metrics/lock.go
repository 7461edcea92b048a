package metrics

import (
	"time"

	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/prometheus/client_golang/prometheus"
)

// Lock is a lock.Observer that exports how long this agent waits for node
// locks, how often it gives up on a held one, and how many it holds.
type Lock struct {
	wait      prometheus.Histogram
	contended prometheus.Counter
	held      prometheus.Gauge
}

// NewLock returns the lock collector; pass it to lock.NewLocker.
func NewLock() *Lock {
	return &Lock{
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "lock", Name: "wait_seconds",
			Help:    "Time from asking for a node lock to holding it, retries for a held lock included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		contended: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "lock", Name: "contention_failures_total",
			Help: "Lock requests that gave up because another holder kept the node locked (HTTP 409 NodeLocked).",
		}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "locks_held",
			Help: "Node locks this agent has taken and not yet released.",
		}),
	}
}

// Acquired implements lock.Observer.
func (l *Lock) Acquired(wait time.Duration) {
	l.wait.Observe(wait.Seconds())
	l.held.Inc()
}

// Contended implements lock.Observer.
func (l *Lock) Contended(time.Duration) { l.contended.Inc() }

// Released implements lock.Observer.
func (l *Lock) Released() { l.held.Dec() }

// Describe implements prometheus.Collector.
func (l *Lock) Describe(ch chan<- *prometheus.Desc) {
	l.wait.Describe(ch)
	l.contended.Describe(ch)
	l.held.Describe(ch)
}

// Collect implements prometheus.Collector.
func (l *Lock) Collect(ch chan<- prometheus.Metric) {
	l.wait.Collect(ch)
	l.contended.Collect(ch)
	l.held.Collect(ch)
}

var (
	_ lock.Observer        = (*Lock)(nil)
	_ prometheus.Collector = (*Lock)(nil)
)
