package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bmc-agent/bmc-agent/store"
)

// Store is what membership needs of the inventory (sqlstore.DB).
type Store interface {
	// ClaimAgent registers a new incarnation of a.ID, unless a live agent
	// holds the id (an error matching store.ErrConflict).
	ClaimAgent(ctx context.Context, a store.Agent, timeout time.Duration) (store.Agent, error)
	// RenewAgent heartbeats the incarnation a; store.ErrNotFound once
	// another incarnation holds the id.
	RenewAgent(ctx context.Context, a store.Agent) error
	// LeaveAgent deletes the incarnation a.
	LeaveAgent(ctx context.Context, a store.Agent) error
	Agents(ctx context.Context, timeout time.Duration) ([]store.Agent, error)
}

// Recoverer releases the locks of dead agents (taskmanager.Manager).
type Recoverer interface {
	RecoverStale(ctx context.Context, timeout time.Duration) ([]string, error)
}

// Config configures a Member.
type Config struct {
	// Agent is this agent as the others see it.
	Agent store.Agent
	// Interval between heartbeats (and sweeps); default 10s.
	Interval time.Duration
	// Timeout after which an agent without a heartbeat is dead; default 60s.
	// It must be several Intervals.
	Timeout time.Duration
	// LeaseMargin is how much sooner than Timeout, after its last heartbeat
	// that reached the database, this agent gives up its lease and stops
	// all work (see Lease); default a quarter of Timeout. Timeout minus the
	// margin must exceed Interval.
	LeaseMargin time.Duration
	// Clock measures the lease; default the monotonic clock (rate 1).
	Clock Clock
	// VirtualNodes is the number of points each agent has on the ownership
	// Ring; default DefaultVirtualNodes. Every agent of a group must use the
	// same value, or they disagree on who owns a node.
	VirtualNodes int
	Logger       *slog.Logger
}

// Member is one agent's part in the cluster: its identity (one live agent
// per id), its heartbeat, the lease the heartbeat renews, and the sweep of
// dead agents' locks.
type Member struct {
	cfg   Config
	store Store
	rec   Recoverer
	log   *slog.Logger
	lease *Lease

	mu   sync.Mutex
	self store.Agent // this incarnation, as ClaimAgent returned it
}

// New returns a Member. Call Join, then Run, to take part.
func New(cfg Config, s Store, rec Recoverer) (*Member, error) {
	if cfg.Agent.ID == "" {
		return nil, errors.New("cluster: an agent id is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Timeout < 2*cfg.Interval {
		return nil, errors.New("cluster: the heartbeat timeout must be at least two intervals")
	}
	if cfg.LeaseMargin <= 0 {
		cfg.LeaseMargin = cfg.Timeout / 4
	}
	if cfg.Timeout-cfg.LeaseMargin <= cfg.Interval {
		return nil, fmt.Errorf("cluster: the lease (heartbeat timeout %s minus the margin %s) must be longer than the heartbeat interval %s",
			cfg.Timeout, cfg.LeaseMargin, cfg.Interval)
	}
	if cfg.Clock == nil {
		cfg.Clock = NewRateClock(1)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Member{cfg: cfg, store: s, rec: rec, log: cfg.Logger, self: cfg.Agent,
		lease: newLease(cfg.Clock, cfg.Agent.ID, cfg.Timeout, cfg.LeaseMargin, cfg.Logger)}, nil
}

// Lease returns this agent's lease, which the heartbeat renews.
func (m *Member) Lease() *Lease { return m.lease }

// IDInUseError: another agent with this agent's id is alive.
type IDInUseError struct {
	// Holder is the live agent's row.
	Holder store.Agent
}

func (e *IDInUseError) Error() string {
	return fmt.Sprintf("agent id %q is in use by a live agent (host %q, started %s, last heartbeat %s): "+
		"stop that agent or give this one another --agent-id",
		e.Holder.ID, e.Holder.Hostname, e.Holder.StartedAt.Format(time.RFC3339), e.Holder.LastHeartbeat.Format(time.RFC3339Nano))
}

// Join claims this agent's id and records the first heartbeat; call it
// before recovering and serving. If an agent of the same id has a fresh
// heartbeat, Join watches it: when it heartbeats again (it is alive), Join
// fails with an *IDInUseError; when its heartbeat grows older than the
// timeout (it crashed, or is stalled for longer than any lease), Join takes
// the id over. So an agent restarted right after a crash waits at most one
// heartbeat timeout, and recovery never touches the locks of an id whose
// previous holder may still be alive.
func (m *Member) Join(ctx context.Context) error {
	var seen *store.Agent
	for {
		sent := m.cfg.Clock.Now()
		a, err := m.store.ClaimAgent(ctx, m.cfg.Agent, m.cfg.Timeout)
		if err == nil {
			m.mu.Lock()
			m.self = a
			m.mu.Unlock()
			m.lease.renew(sent)
			if seen != nil {
				m.log.Warn("took over the id of an agent whose heartbeat timed out", "agent", a.ID, "its_last_heartbeat", seen.LastHeartbeat)
			}
			return nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		holder, err := m.holder(ctx)
		switch {
		case err != nil:
			return err
		case holder == nil:
			continue // it left meanwhile
		case seen == nil:
			seen = holder
			m.log.Warn("another agent with this id has a fresh heartbeat: waiting for it to time out, and refusing to start if it heartbeats again",
				"agent", holder.ID, "host", holder.Hostname, "last_heartbeat", holder.LastHeartbeat, "timeout", m.cfg.Timeout)
		case holder.LastHeartbeat.After(seen.LastHeartbeat) || !holder.StartedAt.Equal(seen.StartedAt):
			return &IDInUseError{Holder: *holder}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(max(m.cfg.Interval/2, 10*time.Millisecond)):
		}
	}
}

// holder returns the row of this agent's id, or nil.
func (m *Member) holder(ctx context.Context) (*store.Agent, error) {
	all, err := m.store.Agents(ctx, m.cfg.Timeout)
	if err != nil {
		return nil, err
	}
	for _, a := range all {
		if a.ID == m.cfg.Agent.ID {
			return &a, nil
		}
	}
	return nil, nil
}

// ErrReplaced: another agent took over this agent's id while this one could
// not heartbeat (it was stalled or cut off for longer than the timeout).
var ErrReplaced = errors.New("another agent took over this agent's id")

// Run heartbeats and sweeps every Interval until ctx ends (it returns nil)
// or another agent took over this agent's id (it returns an error matching
// ErrReplaced; the lease is then gone for good and the agent must stop). A
// failed heartbeat or sweep is logged and retried at the next tick: the
// database may be down for a while, and the lease ends meanwhile.
func (m *Member) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	defer m.lease.close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := m.Tick(ctx); errors.Is(err, ErrReplaced) {
			return err
		}
	}
}

// Tick heartbeats once and, if the heartbeat reached the database, renews
// the lease and sweeps the locks of dead agents once. It returns the
// heartbeat's error.
func (m *Member) Tick(ctx context.Context) error {
	m.mu.Lock()
	self := m.self
	m.mu.Unlock()
	sent := m.cfg.Clock.Now()
	err := m.store.RenewAgent(ctx, self)
	if errors.Is(err, store.ErrNotFound) {
		m.lease.end()
		err = fmt.Errorf("agent %s (started %s): %w", self.ID, self.StartedAt.Format(time.RFC3339Nano), ErrReplaced)
		m.log.Error("this agent's id was taken over by another agent while this one could not heartbeat: stopping", "err", err)
		return err
	}
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("heartbeat failed", "err", err)
		}
		return err
	}
	m.lease.renew(sent)
	if _, err := m.rec.RecoverStale(ctx, m.cfg.Timeout); err != nil && ctx.Err() == nil {
		m.log.Error("stale lock sweep failed", "err", err)
	}
	return nil
}

// Leave unregisters the agent on a clean shutdown, so that the others need
// not wait for its heartbeat to time out. It leaves alone a row another
// incarnation of the id holds.
func (m *Member) Leave(ctx context.Context) error {
	m.mu.Lock()
	self := m.self
	m.mu.Unlock()
	err := m.store.LeaveAgent(ctx, self)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// Alive lists the agents of this agent's group whose heartbeat is fresh.
func (m *Member) Alive(ctx context.Context) ([]store.Agent, error) {
	all, err := m.store.Agents(ctx, m.cfg.Timeout)
	if err != nil {
		return nil, err
	}
	var out []store.Agent
	for _, a := range all {
		if a.Alive && a.Group == m.cfg.Agent.Group {
			out = append(out, a)
		}
	}
	return out, nil
}

// RecoverFunc adapts a function to Recoverer, for a Recoverer built after
// the Member (the task manager needs the Member's Lease).
type RecoverFunc func(ctx context.Context, timeout time.Duration) ([]string, error)

// RecoverStale implements Recoverer.
func (f RecoverFunc) RecoverStale(ctx context.Context, timeout time.Duration) ([]string, error) {
	return f(ctx, timeout)
}
