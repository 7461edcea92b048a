package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/prometheus/client_golang/prometheus"
)

// Driver times every driver call and counts BMC errors by kind. Its
// Middleware goes first in the task manager's chain, so that it sees what the
// caller waited, timeouts included.
type Driver struct {
	calls  *prometheus.HistogramVec
	errors *prometheus.CounterVec
}

// NewDriver returns the driver-call collector.
func NewDriver() *Driver {
	return &Driver{
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "driver", Name: "call_duration_seconds",
			Help: "Duration of driver calls (BMC round trips) by driver, interface, method and result " +
				"(ok, or the error kind: unreachable, timeout, auth, rejected, failed, invalid, canceled, other).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"driver", "interface", "method", "result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "bmc", Name: "errors_total",
			Help: "Failed driver calls by driver and error kind (unreachable, timeout, auth, rejected, failed, invalid, other); calls the agent cancelled itself are not counted.",
		}, []string{"driver", "kind"}),
	}
}

// Middleware returns the drivers.Middleware that feeds the collector.
func (d *Driver) Middleware() drivers.Middleware {
	return func(ctx context.Context, c drivers.Call, next func(context.Context) error) error {
		start := time.Now()
		err := next(ctx)
		kind := drivers.ErrorKind(err)
		d.calls.WithLabelValues(c.Driver, string(c.Method.Interface), c.Method.Name, kind).Observe(time.Since(start).Seconds())
		if err != nil && !errors.Is(err, context.Canceled) {
			d.errors.WithLabelValues(c.Driver, kind).Inc()
		}
		return err
	}
}

// Describe implements prometheus.Collector.
func (d *Driver) Describe(ch chan<- *prometheus.Desc) {
	d.calls.Describe(ch)
	d.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (d *Driver) Collect(ch chan<- prometheus.Metric) {
	d.calls.Collect(ch)
	d.errors.Collect(ch)
}

var _ prometheus.Collector = (*Driver)(nil)
