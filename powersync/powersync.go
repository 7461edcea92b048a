package powersync

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/bmc-agent/bmc-agent/cluster"
	"github.com/bmc-agent/bmc-agent/internal/sweep"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// FaultPowerFailure is the fault the loop records on a node it put into
// maintenance, and the only fault it takes a node out of maintenance for.
const FaultPowerFailure = "power failure"

// Purpose is the purpose of the loop's tasks and locks.
const Purpose = "power state sync"

// Defaults of Config.
const (
	DefaultInterval     = 60 * time.Second
	DefaultWorkers      = 100
	DefaultCallTimeout  = 30 * time.Second
	DefaultPowerTimeout = 60 * time.Second
	DefaultMaxFailures  = 3
)

// Tasks is what the loop needs of the task manager (*taskmanager.Manager).
type Tasks interface {
	Acquire(ctx context.Context, ident string, opts ...taskmanager.Option) (*taskmanager.Task, error)
}

// Nodes is what the loop needs of the inventory.
type Nodes interface {
	Nodes(ctx context.Context, f store.NodeFilter) ([]*store.Node, error)
}

// Ownership gives the ring of the live agents of the group at the start of a
// cycle (*cluster.Member).
type Ownership = cluster.Rings

// Observer receives the result of every cycle, e.g. to export metrics. It is
// called from the loop's goroutine; it must not block.
type Observer interface {
	CycleDone(r Result, err error)
}

// Config configures a Loop.
type Config struct {
	// AgentID is this agent's id: its name on the ownership ring.
	AgentID string
	// Group is the agent group whose nodes the loop syncs.
	Group string
	// Interval between the starts of two cycles; default 60s.
	Interval time.Duration
	// Workers bounds the BMC calls in flight at once; default 100.
	Workers int
	// CallTimeout bounds one power state read; default 30s.
	CallTimeout time.Duration
	// ForcePowerState powers a node whose BMC reports another state than
	// the recorded one back to the recorded state, instead of recording the
	// BMC's (Ironic's force_power_state_during_sync).
	ForcePowerState bool
	// PowerTimeout bounds one forced power action; default 60s.
	PowerTimeout time.Duration
	// MaxFailures is the number of consecutive failed cycles of a node
	// after which it goes into maintenance; default 3.
	MaxFailures int
	Logger      *slog.Logger
	// Observer, if set, gets every cycle's result.
	Observer Observer
}

// Result is what one cycle did. Every node the cycle owned is counted in
// exactly one of InSync, Changed, Forced, Skipped, Failed, Maintenance and
// Recovered.
type Result struct {
	Started time.Time
	Took    time.Duration
	// Overran is true when the cycle took longer than the interval.
	Overran bool
	// Agents is the number of live agents the nodes were shared among.
	Agents int
	// Owned counts the nodes the ring gave this agent.
	Owned int
	// InSync: the BMC reported the recorded state.
	InSync int
	// Changed: a new state was recorded (an out-of-band change, or the
	// first reading of a node).
	Changed int
	// Forced: the recorded state was restored on the BMC.
	Forced int
	// Skipped: locked, changed meanwhile by someone else, deleted, or not
	// to be synced (unsupported driver, incomplete driver_info).
	Skipped int
	// Failed: the BMC did not answer usefully, or a forced action failed,
	// or the database failed us.
	Failed int
	// Maintenance: put into maintenance with fault "power failure".
	Maintenance int
	// Recovered: taken out of maintenance because the BMC answers again.
	Recovered int
	// Errors counts failures by kind: drivers.ErrorKind for BMC errors,
	// "store" for the database.
	Errors map[string]int
}

func (r *Result) add(o Result) {
	r.InSync += o.InSync
	r.Changed += o.Changed
	r.Forced += o.Forced
	r.Skipped += o.Skipped
	r.Failed += o.Failed
	r.Maintenance += o.Maintenance
	r.Recovered += o.Recovered
	for k, v := range o.Errors {
		if r.Errors == nil {
			r.Errors = make(map[string]int)
		}
		r.Errors[k] += v
	}
}

// excluded lists the provision states whose nodes are not synced, as
// Ironic's SYNC_EXCLUDED_STATES: a node being enrolled may have no working
// credentials yet, and a node waiting for a call-back is being worked on.
var excluded = map[string]bool{
	taskmanager.StateEnroll:     true,
	taskmanager.StateDeployWait: true,
	taskmanager.StateCleanWait:  true,
}

// Loop is the power state sync loop of one agent.
type Loop struct {
	cfg    Config
	tasks  Tasks
	nodes  Nodes
	owners Ownership
	log    *slog.Logger

	mu       sync.Mutex
	failures map[string]int // consecutive failed cycles by node UUID
	running  bool
}

// New returns a Loop. owners may be nil: the agent then syncs every node of
// its group (a single agent).
func New(cfg Config, tasks Tasks, nodes Nodes, owners Ownership) (*Loop, error) {
	if cfg.AgentID == "" {
		return nil, errors.New("powersync: an agent id is required")
	}
	if tasks == nil || nodes == nil {
		return nil, errors.New("powersync: tasks and nodes are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.PowerTimeout <= 0 {
		cfg.PowerTimeout = DefaultPowerTimeout
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Loop{
		cfg: cfg, tasks: tasks, nodes: nodes, owners: owners,
		log:      cfg.Logger.With("agent", cfg.AgentID, "component", "powersync"),
		failures: make(map[string]int),
	}, nil
}

// Run runs a cycle every Interval until ctx ends, and returns once the
// running cycle has stopped. The first cycle starts one Interval after Run:
// an agent that has just joined lets the others start a cycle that sees it
// before it syncs its share, so that no node is synced twice in a cycle.
// A cycle that overruns the Interval is followed at once by the next.
func (l *Loop) Run(ctx context.Context) {
	timer := time.NewTimer(l.cfg.Interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if ctx.Err() != nil { // both were ready
			return
		}
		start := time.Now()
		if _, err := l.Cycle(ctx); err != nil && ctx.Err() == nil {
			l.log.Error("power state sync cycle failed", "err", err)
		}
		if ctx.Err() != nil {
			return
		}
		next := l.cfg.Interval - time.Since(start)
		if next < 0 {
			next = 0
		}
		timer.Reset(next)
	}
}

// Cycle runs one cycle now and returns what it did. It fails only if it
// cannot learn which nodes to sync (the database is down); failures of single
// nodes are in the Result. Cycles of one Loop never run at once: a Cycle
// called while another runs returns an error at once.
func (l *Loop) Cycle(ctx context.Context) (Result, error) {
	l.mu.Lock()
	if l.running {
		l.mu.Unlock()
		return Result{}, errors.New("powersync: a cycle is already running")
	}
	l.running = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.running = false
		l.mu.Unlock()
	}()

	r := Result{Started: time.Now()}
	err := l.cycle(ctx, &r)
	r.Took = time.Since(r.Started)
	r.Overran = r.Took > l.cfg.Interval
	if err == nil {
		lv := slog.LevelDebug
		if r.Changed+r.Forced+r.Failed+r.Maintenance+r.Recovered > 0 || r.Overran {
			lv = slog.LevelInfo
		}
		l.log.Log(ctx, lv, "power state sync cycle done", "took", r.Took, "agents", r.Agents, "owned", r.Owned,
			"in_sync", r.InSync, "changed", r.Changed, "forced", r.Forced, "skipped", r.Skipped, "failed", r.Failed,
			"maintenance", r.Maintenance, "recovered", r.Recovered, "overran", r.Overran)
		if r.Overran {
			l.log.Warn("power state sync cycle took longer than the interval; the next starts now",
				"took", r.Took, "interval", l.cfg.Interval, "owned", r.Owned, "workers", l.cfg.Workers)
		}
	}
	if l.cfg.Observer != nil {
		l.cfg.Observer.CycleDone(r, err)
	}
	return r, err
}

func (l *Loop) cycle(ctx context.Context, r *Result) error {
	owned, agents, err := l.owned(ctx)
	if err != nil {
		return err
	}
	r.Agents, r.Owned = agents, len(owned)
	l.forget(owned)

	for _, part := range sweep.Run(ctx, owned, l.cfg.Workers, 0, func(id string, part *Result) { l.syncNode(ctx, id, part, true) }) {
		r.add(part)
	}
	return ctx.Err()
}

// owned lists the UUIDs of the nodes this agent syncs in this cycle, and the
// number of live agents they were shared among. Only UUIDs are kept: a cycle
// of a large fleet lasts long, and every node is loaded afresh by its task.
func (l *Loop) owned(ctx context.Context) ([]string, int, error) {
	var out []string
	keep := func(n *store.Node) {
		if excluded[n.ProvisionState] || (n.Maintenance && n.Fault != FaultPowerFailure) {
			return
		}
		out = append(out, n.UUID)
	}
	no, yes := false, true
	group := l.cfg.Group
	share, err := cluster.Owned(ctx, l.owners, l.cfg.AgentID, l.nodes, listPage, []store.NodeFilter{
		{AgentGroup: &group, Maintenance: &no, Reserved: &no},
		{AgentGroup: &group, Maintenance: &yes, FaultSet: &yes, Reserved: &no},
	}, keep)
	if err != nil {
		return nil, 0, err
	}
	if !share.Member {
		l.log.Warn("this agent is not among the live agents (stale heartbeat?); it syncs nothing this cycle")
	}
	return out, share.Agents, nil
}

// listPage is the page size of the cycle's listing (cluster.Owned).
var listPage = 500 // a variable for the tests

// forget drops the failure counts of nodes this agent no longer owns.
func (l *Loop) forget(owned []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) == 0 {
		return
	}
	keep := make(map[string]bool, len(owned))
	for _, id := range owned {
		keep[id] = true
	}
	maps.DeleteFunc(l.failures, func(id string, _ int) bool { return !keep[id] })
}

func (l *Loop) fail(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures[id]++
	return l.failures[id]
}

func (l *Loop) succeed(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, id)
}

// Failures returns the node's count of consecutive failed cycles.
func (l *Loop) Failures(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failures[id]
}
