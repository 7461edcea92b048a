package metrics

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
	"github.com/prometheus/client_golang/prometheus"
)

// NodeLister is what the node collector reads (the store).
type NodeLister interface {
	Nodes(ctx context.Context, f store.NodeFilter) ([]*store.Node, error)
}

// Nodes counts the nodes of the agent's group by power state, provision
// state and maintenance, and the locked ones, reading the store at scrape
// time: every agent of a group reports the same figures (aggregate with max,
// not sum).
type Nodes struct {
	src     NodeLister
	group   string
	timeout time.Duration
	nodes   *prometheus.Desc
	locked  *prometheus.Desc
}

// NewNodes returns the node collector for the nodes of group. A scrape gives
// the store timeout to answer.
func NewNodes(src NodeLister, group string, timeout time.Duration) *Nodes {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Nodes{
		src: src, group: group, timeout: timeout,
		nodes: prometheus.NewDesc(namespace+"_nodes",
			`Nodes of the agent's group by power state, provision state and maintenance ("true"/"false"); power_state "none" is not known yet.`,
			[]string{"power_state", "provision_state", "maintenance"}, nil),
		locked: prometheus.NewDesc(namespace+"_nodes_locked",
			"Nodes of the agent's group whose lock is held, by any agent.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Nodes) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.nodes
	ch <- c.locked
}

type nodeKey struct {
	power, provision string
	maintenance      bool
}

// Collect implements prometheus.Collector.
func (c *Nodes) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	group := c.group
	list, err := c.src.Nodes(ctx, store.NodeFilter{AgentGroup: &group})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.nodes, fmt.Errorf("list nodes: %w", err))
		return
	}
	counts := make(map[nodeKey]int)
	locked := 0
	for _, n := range list {
		counts[nodeKey{powerLabel(n.PowerState), provisionLabel(n.ProvisionState), n.Maintenance}]++
		if n.Reservation != "" {
			locked++
		}
	}
	for k, v := range counts {
		ch <- prometheus.MustNewConstMetric(c.nodes, prometheus.GaugeValue, float64(v),
			k.power, k.provision, strconv.FormatBool(k.maintenance))
	}
	ch <- prometheus.MustNewConstMetric(c.locked, prometheus.GaugeValue, float64(locked))
}

// powerLabel bounds the power_state label to the known states.
func powerLabel(s string) string {
	switch drivers.PowerState(s) {
	case drivers.PowerOn, drivers.PowerOff, drivers.PowerError:
		return s
	case drivers.NoPowerState:
		return "none"
	}
	return "other"
}

var provisionStates = taskmanager.States()

// provisionLabel bounds the provision_state label to the state machine's.
func provisionLabel(s string) string {
	if _, ok := slices.BinarySearch(provisionStates, s); ok {
		return s
	}
	return "other"
}

var _ prometheus.Collector = (*Nodes)(nil)
