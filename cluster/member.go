package cluster

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/bmc-agent/bmc-agent/store"
)

// Store is what membership needs of the inventory.
type Store interface {
	Heartbeat(ctx context.Context, a store.Agent) error
	Agents(ctx context.Context, timeout time.Duration) ([]store.Agent, error)
	DeleteAgent(ctx context.Context, id string) error
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
	// VirtualNodes is the number of points each agent has on the ownership
	// Ring; default DefaultVirtualNodes. Every agent of a group must use the
	// same value, or they disagree on who owns a node.
	VirtualNodes int
	Logger       *slog.Logger
}

// Member is one agent's part in the cluster.
type Member struct {
	cfg   Config
	store Store
	rec   Recoverer
	log   *slog.Logger
}

// New returns a Member. Call Run to take part.
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
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Member{cfg: cfg, store: s, rec: rec, log: cfg.Logger}, nil
}

// Join records the first heartbeat; call it before serving.
func (m *Member) Join(ctx context.Context) error { return m.store.Heartbeat(ctx, m.cfg.Agent) }

// Run heartbeats and sweeps every Interval until ctx ends. A failed
// heartbeat or sweep is logged and retried at the next tick: the database
// may be down for a while.
func (m *Member) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.Tick(ctx)
	}
}

// Tick heartbeats once and sweeps the locks of dead agents once.
func (m *Member) Tick(ctx context.Context) {
	if err := m.store.Heartbeat(ctx, m.cfg.Agent); err != nil {
		if ctx.Err() == nil {
			m.log.Error("heartbeat failed", "err", err)
		}
		return
	}
	if _, err := m.rec.RecoverStale(ctx, m.cfg.Timeout); err != nil && ctx.Err() == nil {
		m.log.Error("stale lock sweep failed", "err", err)
	}
}

// Leave unregisters the agent on a clean shutdown, so that the others need
// not wait for its heartbeat to time out.
func (m *Member) Leave(ctx context.Context) error {
	err := m.store.DeleteAgent(ctx, m.cfg.Agent.ID)
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
