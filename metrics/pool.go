package metrics

import (
	"github.com/bmc-agent/bmc-agent/taskmanager"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolStater is what the pool collector reads (*taskmanager.Manager).
type PoolStater interface {
	Stats() taskmanager.PoolStats
}

// Pool exports the task manager's worker pool, read at scrape time.
type Pool struct {
	src                  PoolStater
	size, busy, rejected *prometheus.Desc
}

// NewPool returns the worker pool collector.
func NewPool(src PoolStater) *Pool {
	return &Pool{
		src:  src,
		size: prometheus.NewDesc(namespace+"_workers", "Size of the background worker pool (power and provisioning work).", nil, nil),
		busy: prometheus.NewDesc(namespace+"_workers_busy", "Background workers running or reserved.", nil, nil),
		rejected: prometheus.NewDesc(namespace+"_worker_spawns_rejected_total",
			"Background work refused because every worker was busy (HTTP 503 NoFreeWorker).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (p *Pool) Describe(ch chan<- *prometheus.Desc) {
	ch <- p.size
	ch <- p.busy
	ch <- p.rejected
}

// Collect implements prometheus.Collector.
func (p *Pool) Collect(ch chan<- prometheus.Metric) {
	s := p.src.Stats()
	ch <- prometheus.MustNewConstMetric(p.size, prometheus.GaugeValue, float64(s.Size))
	ch <- prometheus.MustNewConstMetric(p.busy, prometheus.GaugeValue, float64(s.Busy))
	ch <- prometheus.MustNewConstMetric(p.rejected, prometheus.CounterValue, float64(s.Rejected))
}

var _ prometheus.Collector = (*Pool)(nil)
