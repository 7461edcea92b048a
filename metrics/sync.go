package metrics

import (
	"github.com/bmc-agent/bmc-agent/powersync"
	"github.com/prometheus/client_golang/prometheus"
)

// Sync is a powersync.Observer that exports the power-state sync loop.
type Sync struct {
	duration    prometheus.Histogram
	cycles      *prometheus.CounterVec
	overruns    prometheus.Counter
	nodes       *prometheus.CounterVec
	errors      *prometheus.CounterVec
	owned       prometheus.Gauge
	agents      prometheus.Gauge
	lastSuccess prometheus.Gauge
}

// syncOutcomes are the values of the outcome label, pre-set to zero.
var syncOutcomes = []string{"in_sync", "changed", "forced", "skipped", "failed", "maintenance", "recovered"}

// NewSync returns the sync loop collector; set it as powersync.Config.Observer.
func NewSync() *Sync {
	s := &Sync{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "power_sync", Name: "cycle_duration_seconds",
			Help:    "Duration of power-state sync cycles.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600},
		}),
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "power_sync", Name: "cycles_total",
			Help: `Power-state sync cycles by result: "ok", or "error" when the cycle could not list its nodes or the live agents.`,
		}, []string{"result"}),
		overruns: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "power_sync", Name: "overruns_total",
			Help: "Power-state sync cycles that took longer than the sync interval (the next one started at once).",
		}),
		nodes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "power_sync", Name: "nodes_total",
			Help: "Nodes handled by the power-state sync, by outcome: in_sync, changed (a new state recorded), " +
				"forced (the recorded state restored), skipped (locked or changed meanwhile), failed, " +
				"maintenance (put into maintenance), recovered (taken out of it).",
		}, []string{"outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "power_sync", Name: "errors_total",
			Help: "Power-state sync failures by kind: the BMC error kind, out_of_sync (forced state did not last), or store.",
		}, []string{"kind"}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "power_sync", Name: "owned_nodes",
			Help: "Nodes this agent owned (and synced) in the last cycle.",
		}),
		agents: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "power_sync", Name: "agents",
			Help: "Live agents of the group that shared the nodes in the last cycle.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "power_sync", Name: "last_success_timestamp_seconds",
			Help: "When the last successful power-state sync cycle ended (Unix time).",
		}),
	}
	for _, o := range syncOutcomes {
		s.nodes.WithLabelValues(o)
	}
	s.cycles.WithLabelValues("ok")
	s.cycles.WithLabelValues("error")
	return s
}

// CycleDone implements powersync.Observer.
func (s *Sync) CycleDone(r powersync.Result, err error) {
	s.duration.Observe(r.Took.Seconds())
	if r.Overran {
		s.overruns.Inc()
	}
	if err != nil {
		s.cycles.WithLabelValues("error").Inc()
		s.errors.WithLabelValues("store").Inc()
		return
	}
	s.cycles.WithLabelValues("ok").Inc()
	s.owned.Set(float64(r.Owned))
	s.agents.Set(float64(r.Agents))
	s.lastSuccess.Set(float64(r.Started.Add(r.Took).UnixNano()) / 1e9)
	for o, v := range map[string]int{
		"in_sync": r.InSync, "changed": r.Changed, "forced": r.Forced, "skipped": r.Skipped,
		"failed": r.Failed, "maintenance": r.Maintenance, "recovered": r.Recovered,
	} {
		s.nodes.WithLabelValues(o).Add(float64(v))
	}
	for k, v := range r.Errors {
		s.errors.WithLabelValues(k).Add(float64(v))
	}
}

// Describe implements prometheus.Collector.
func (s *Sync) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range s.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (s *Sync) Collect(ch chan<- prometheus.Metric) {
	for _, c := range s.collectors() {
		c.Collect(ch)
	}
}

func (s *Sync) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.duration, s.cycles, s.overruns, s.nodes, s.errors, s.owned, s.agents, s.lastSuccess}
}

var (
	_ powersync.Observer   = (*Sync)(nil)
	_ prometheus.Collector = (*Sync)(nil)
)
