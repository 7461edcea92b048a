package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bmc-agent/bmc-agent/cluster"
	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/internal/sweep"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// Purpose is the purpose of the collector's tasks and locks.
const Purpose = "telemetry"

// Defaults of Config.
const (
	// DefaultInterval is how often each node's telemetry is read. Three
	// minutes: a Redfish read is five to eight requests (System, Chassis,
	// Power or PowerSubsystem, Thermal or ThermalSubsystem, Manager), which
	// slow BMCs answer in one to three seconds each, and BMC request limits
	// are per BMC, shared with the power sync (a read a minute) and every
	// operator action; sensors that matter for alerts (temperatures, power
	// draw) move over minutes. At 10,000 nodes it is 56 node reads a
	// second for one agent, spread evenly.
	DefaultInterval    = 3 * time.Minute
	DefaultWorkers     = 100
	DefaultCallTimeout = 60 * time.Second
	// DefaultMaxSensors caps the sensors kept per node: a large server
	// reports 40 to 150 (a sensor per DIMM, per core on some BMCs).
	DefaultMaxSensors = 250
)

// Tasks is what the collector needs of the task manager
// (*taskmanager.Manager).
type Tasks interface {
	Acquire(ctx context.Context, ident string, opts ...taskmanager.Option) (*taskmanager.Task, error)
}

// Config configures a Collector.
type Config struct {
	// AgentID is this agent's id: its name on the ownership ring.
	AgentID string
	// Group is the agent group whose nodes the collector reads.
	Group string
	// Interval between two reads of a node; default DefaultInterval.
	Interval time.Duration
	// Workers bounds the reads in flight at once; default DefaultWorkers.
	Workers int
	// CallTimeout bounds one node's read; default DefaultCallTimeout.
	CallTimeout time.Duration
	// MaxSensors caps the sensors kept per node; default DefaultMaxSensors.
	MaxSensors int
	// HealthFault, when false, leaves maintenance and fault alone whatever
	// the health rollup says.
	HealthFault bool
	Logger      *slog.Logger
}

// Result is what one cycle did. Every node owned is counted in exactly one
// of Read, Failed and Skipped.
type Result struct {
	Started time.Time
	Took    time.Duration
	// Agents is the number of live agents the nodes were shared among;
	// Owned the nodes the ring gave this agent.
	Agents, Owned int
	// Read: a good read. Failed: the BMC did not answer usefully.
	// Skipped: deleted meanwhile, no telemetry in the driver, or shutting
	// down.
	Read, Failed, Skipped int
	// Dropped counts the nodes that left the cache (deleted, or owned by
	// another agent now).
	Dropped int
	// Overran says the cycle took longer than the interval.
	Overran bool
}

// Collector reads the telemetry of the nodes an agent owns into its Cache.
type Collector struct {
	cfg   Config
	tasks Tasks
	nodes cluster.NodeLister
	rings cluster.Rings
	log   *slog.Logger
	cache *Cache
	gate  gate

	cycling sync.Mutex // held by the running cycle
	mu      sync.Mutex // guards flights
	flights map[string]*flights
}

// New returns a Collector. rings may be nil: the agent then reads every node
// of its group (a single agent).
func New(cfg Config, tasks Tasks, nodes cluster.NodeLister, rings cluster.Rings) (*Collector, error) {
	if cfg.AgentID == "" {
		return nil, errors.New("telemetry: an agent id is required")
	}
	if tasks == nil || nodes == nil {
		return nil, errors.New("telemetry: tasks and nodes are required")
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
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Collector{
		cfg: cfg, tasks: tasks, nodes: nodes, rings: rings,
		log:     cfg.Logger.With("agent", cfg.AgentID, "component", "telemetry"),
		cache:   NewCache(cfg.MaxSensors),
		flights: make(map[string]*flights),
	}, nil
}

// Cache returns the collector's cache.
func (c *Collector) Cache() *Cache { return c.cache }

// Interval returns the interval between two reads of a node.
func (c *Collector) Interval() time.Duration { return c.cfg.Interval }

// Run runs a cycle every Interval, each spreading its reads over most of the
// interval (Spread), until ctx ends, and returns once the running cycle has
// stopped. The first cycle starts at once: a node read twice because two
// agents had not yet seen each other costs a read, nothing more. A cycle
// that overruns the Interval is followed at once by the next.
func (c *Collector) Run(ctx context.Context) {
	for {
		start := time.Now()
		if _, err := c.Cycle(ctx, c.Spread()); err != nil && ctx.Err() == nil {
			c.log.Error("telemetry cycle failed", "err", err)
		}
		t := time.NewTimer(max(c.cfg.Interval-time.Since(start), 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Spread is the part of the interval over which Run's cycles start their
// reads: three quarters of it, so that the last read, started at the end of
// the spread, ends within the interval.
func (c *Collector) Spread() time.Duration { return c.cfg.Interval * 3 / 4 }

// Cycle reads every node this agent owns now, the k-th of n started
// spread*k/n after the cycle has listed them (0: as fast as the workers
// allow), and
// returns what it did. It fails only if it cannot learn which nodes to read.
// Cycles of one Collector never run at once: a Cycle called while another
// runs returns an error at once.
func (c *Collector) Cycle(ctx context.Context, spread time.Duration) (Result, error) {
	if !c.cycling.TryLock() {
		return Result{}, errors.New("telemetry: a cycle is already running")
	}
	defer c.cycling.Unlock()

	r := Result{Started: time.Now()}
	err := c.cycle(ctx, spread, &r)
	r.Took = time.Since(r.Started)
	r.Overran = r.Took > c.cfg.Interval
	if err == nil {
		lv := slog.LevelDebug
		if r.Failed > 0 || r.Overran {
			lv = slog.LevelInfo
		}
		c.log.Log(ctx, lv, "telemetry cycle done", "took", r.Took, "agents", r.Agents, "owned", r.Owned,
			"read", r.Read, "failed", r.Failed, "skipped", r.Skipped, "dropped", r.Dropped, "overran", r.Overran)
		if r.Overran {
			c.log.Warn("telemetry cycle took longer than the interval; the next starts now",
				"took", r.Took, "interval", c.cfg.Interval, "owned", r.Owned, "workers", c.cfg.Workers)
		}
	}
	return r, err
}

// listPage is the page size of the cycle's listing.
const listPage = 500

func (c *Collector) cycle(ctx context.Context, spread time.Duration, r *Result) error {
	var owned []string
	keep := make(map[string]bool)
	group := c.cfg.Group
	share, err := cluster.Owned(ctx, c.rings, c.cfg.AgentID, c.nodes, listPage,
		[]store.NodeFilter{{AgentGroup: &group}}, func(n *store.Node) {
			// A node being enrolled may have no working credentials yet.
			if n.ProvisionState != taskmanager.StateEnroll {
				owned = append(owned, n.UUID)
				keep[n.UUID] = true
			}
		})
	if err != nil {
		return err
	}
	if !share.Member {
		c.log.Warn("this agent is not among the live agents (stale heartbeat?); it reads nothing this cycle")
	}
	r.Agents, r.Owned = share.Agents, len(owned)
	r.Dropped = c.cache.retain(keep)

	for _, p := range sweep.Run(ctx, owned, c.cfg.Workers, spread, func(id string, part *Result) {
		switch err := c.read(ctx, id); {
		case err == nil:
			part.Read++
		case errors.Is(err, drivers.ErrUnsupported), errors.Is(err, store.ErrNotFound), ctx.Err() != nil:
			part.Skipped++
		default:
			part.Failed++
		}
	}) {
		r.Read += p.Read
		r.Failed += p.Failed
		r.Skipped += p.Skipped
	}
	r.Skipped += r.Owned - r.Read - r.Failed - r.Skipped // not started: shutting down
	return ctx.Err()
}

// read reads one node's telemetry into the cache, in a shared task, at most
// one read per BMC endpoint at a time. A read cut short by ctx records
// nothing: it says nothing about the BMC.
func (c *Collector) read(ctx context.Context, id string) error {
	t, err := c.tasks.Acquire(ctx, id, taskmanager.Shared(), taskmanager.Purpose(Purpose))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			c.cache.drop(id)
		}
		return fmt.Errorf("load node: %w", err)
	}
	defer t.Release()
	n := t.Node()
	done, err := c.gate.enter(ctx, bmcKey(n))
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	start := time.Now()
	tel, err := t.Driver().Telemetry(cctx)
	took := time.Since(start)
	cancel()
	done()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	e, before := c.cache.record(n.UUID, n.Name, tel, err, start, took)
	if err != nil {
		if !e.Unsupported && (before == nil || before.Up) {
			t.Log().Warn("cannot read telemetry", "err", err, "kind", e.ErrorKind)
		}
		return err
	}
	if before != nil && !before.Up && !before.Unsupported {
		t.Log().Info("telemetry read again", "after", before.LastError)
	}
	if c.cfg.HealthFault {
		c.health(ctx, t, e)
	}
	return nil
}

// flights are the refreshes of one node: the one running and, if another
// was asked for meanwhile, the next one, which all later callers share.
type flights struct {
	cur, next *flight
	waiters   int // callers waiting for next
}

type flight struct {
	done chan struct{}
	err  error
}

// Refresh reads the node (UUID) now, e.g. because its BMC sent a power or
// health event, and returns once a read that started after the call has
// ended. Refreshes of one node are coalesced: while one runs, every later
// caller shares the single read that follows it. The read runs in the first
// caller's goroutine and under its ctx; a later caller whose ctx ends stops
// waiting.
func (c *Collector) Refresh(ctx context.Context, id string) error {
	c.mu.Lock()
	fs, running := c.flights[id]
	if running {
		if fs.next == nil {
			fs.next = &flight{done: make(chan struct{})}
		}
		f := fs.next
		fs.waiters++
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	fs = &flights{cur: f}
	c.flights[id] = fs
	c.mu.Unlock()
	for {
		f.err = c.read(ctx, id)
		close(f.done)
		c.mu.Lock()
		mine := f
		f, fs.cur, fs.next, fs.waiters = fs.next, fs.next, nil, 0
		if f == nil {
			delete(c.flights, id)
			c.mu.Unlock()
			return mine.err
		}
		c.mu.Unlock()
	}
}
