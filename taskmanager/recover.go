package taskmanager

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bmc-agent/bmc-agent/store"
)

// Recover cleans up after this agent's previous life, at start and before
// serving: every node it still holds the lock of was caught mid-operation by
// a crash. Such a node gets last_error saying what was interrupted, loses its
// target power state, leaves a transient provision state through "fail"
// (deploying becomes deploy failed, ...), and is then unlocked. It returns
// the nodes it released.
func (m *Manager) Recover(ctx context.Context) ([]string, error) {
	held, err := m.cfg.Store.Nodes(ctx, store.NodeFilter{Reservation: m.cfg.AgentID})
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	reason := fmt.Sprintf("agent %s restarted", m.cfg.AgentID)
	for _, n := range held {
		if err := m.interrupt(ctx, n, reason); err != nil {
			return nil, fmt.Errorf("recover node %s: %w", n.UUID, err)
		}
	}
	released, err := m.cfg.Locker.Backend().ReleaseHolder(ctx, m.cfg.AgentID)
	if err != nil {
		return nil, fmt.Errorf("recover: release own locks: %w", err)
	}
	if len(released) > 0 {
		m.log.Warn("released locks left by a previous run", "agent", m.cfg.AgentID, "nodes", len(released))
	}
	return released, nil
}

// RecoverStale releases the locks of agents whose heartbeat is older than
// timeout and marks the operations they were running on those nodes as
// interrupted, as Recover does for the agent's own. It also releases this
// agent's own locks that no task holds any more (a release that could not
// reach the database, an outcome that could not be recorded; see
// Task.Settle), the last line of defence while the agent lives. It returns
// the nodes it released. The cluster's heartbeat loop calls it after each
// heartbeat that reached the database.
func (m *Manager) RecoverStale(ctx context.Context, timeout time.Duration) ([]string, error) {
	var errs []error
	own, err := m.sweepOrphans(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("release own locks left held: %w", err))
	}
	released, err := m.cfg.Locker.Backend().ReleaseStale(ctx, timeout, m.cfg.AgentID)
	if err != nil {
		return own, errors.Join(append(errs, fmt.Errorf("release stale locks: %w", err))...)
	}
	for _, id := range released {
		err := m.Do(ctx, id, []Option{Purpose("recover interrupted operation")}, func(ctx context.Context, t *Task) error {
			return m.interrupt(ctx, t.Node(), "its agent stopped heartbeating")
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, fmt.Errorf("node %s: %w", id, err))
		}
	}
	if len(released) > 0 {
		m.log.Warn("released locks of dead agents", "nodes", len(released))
	}
	return append(own, released...), errors.Join(errs...)
}

// interrupt records that the operation running on n was interrupted. n must
// be held by the caller (or by a dead holder).
func (m *Manager) interrupt(ctx context.Context, n *store.Node, reason string) error {
	for attempt := 0; ; attempt++ {
		var what []string
		if n.TargetPowerState != "" {
			what = append(what, fmt.Sprintf("power state change to %q", n.TargetPowerState))
			n.TargetPowerState = ""
		}
		if !IsStable(n.ProvisionState) {
			what = append(what, fmt.Sprintf("%s (towards %q)", n.ProvisionState, n.TargetProvisionState))
			if next, err := NextState(n.ProvisionState, EventFail); err == nil {
				now := time.Now().UTC()
				n.ProvisionState, n.TargetProvisionState, n.ProvisionUpdatedAt = next, TargetOf(next), &now
			}
		}
		if len(what) == 0 {
			return nil
		}
		n.LastError = fmt.Sprintf("%s was interrupted: %s", joinAnd(what), reason)
		err := m.cfg.Store.UpdateNode(ctx, n)
		if err == nil {
			m.log.Warn("operation interrupted", "node", n.UUID, "last_error", n.LastError, "provision_state", n.ProvisionState)
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt > 2 {
			return err
		}
		fresh, err := m.cfg.Store.Node(ctx, n.UUID)
		if err != nil {
			return err
		}
		*n = *fresh
	}
}

func joinAnd(s []string) string {
	if len(s) == 2 {
		return s[0] + " and " + s[1]
	}
	return s[0]
}
