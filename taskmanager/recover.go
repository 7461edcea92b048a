package taskmanager

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
)

// Recover cleans up after this agent's previous life, at start and before
// serving: every node it still holds the lock of was caught mid-operation by
// a crash. Such a node gets last_error saying what was interrupted, loses its
// target power state, leaves a transient provision state through "fail"
// (deploying becomes deploy failed, ...), and is then unlocked: each record
// and each release is conditional on the lock's token as listed, so that a
// lock another agent swept and took meanwhile is left alone. It returns the
// nodes it released.
func (m *Manager) Recover(ctx context.Context) ([]string, error) {
	held, err := m.cfg.Store.Nodes(ctx, store.NodeFilter{Reservation: m.cfg.AgentID})
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	reason := fmt.Sprintf("agent %s restarted", m.cfg.AgentID)
	var released []string
	for _, n := range held {
		lease := lock.Lease{Holder: m.cfg.AgentID, Token: lock.Token(n.LockToken)}
		ok, err := m.recordAndRelease(ctx, n, lease, reason)
		if err != nil {
			return released, fmt.Errorf("recover node %s: %w", n.UUID, err)
		}
		if ok {
			released = append(released, n.UUID)
		}
	}
	if len(released) > 0 {
		m.log.Warn("released locks left by a previous run", "agent", m.cfg.AgentID, "nodes", len(released))
	}
	return released, nil
}

// RecoverStale marks the operations that agents whose heartbeat is older
// than timeout were running as interrupted, as Recover does for the agent's
// own, and then releases their locks: record first, then release, each
// conditional on the lock's token as listed, so that a sweep cut short
// leaves the lock to the next sweep rather than a node unlocked in the
// middle of an operation, and never touches a lock that changed hands. It
// also releases this agent's own locks that no task holds any more (a
// release that could not reach the database, an outcome that could not be
// recorded; see Task.Settle), the last line of defence while the agent
// lives. It returns the nodes it released. The cluster's heartbeat loop
// calls it after each heartbeat that reached the database. It takes no
// lock and never waits for one: a node costs three statements.
func (m *Manager) RecoverStale(ctx context.Context, timeout time.Duration) ([]string, error) {
	var errs []error
	own, err := m.sweepOrphans(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("release own locks left held: %w", err))
	}
	stale, err := m.cfg.Locker.Backend().Stale(ctx, timeout, m.cfg.AgentID)
	if err != nil {
		return own, errors.Join(append(errs, fmt.Errorf("list stale locks: %w", err))...)
	}
	var released []string
	for _, h := range stale {
		ok, err := m.recoverStale(ctx, h)
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", h.Node, err))
		} else if ok {
			released = append(released, h.Node)
		}
	}
	if len(released) > 0 {
		m.log.Warn("released locks of dead agents", "nodes", len(released))
	}
	return append(own, released...), errors.Join(errs...)
}

// recoverStale records and releases one stale lock, unless it changed
// hands since it was listed.
func (m *Manager) recoverStale(ctx context.Context, h lock.Held) (bool, error) {
	n, err := m.cfg.Store.Node(ctx, h.Node)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case n.Reservation != h.Holder || lock.Token(n.LockToken) != h.Token:
		return false, nil
	}
	return m.recordAndRelease(ctx, n, h.Lease, fmt.Sprintf("its agent %s stopped heartbeating", h.Holder))
}

// recordAndRelease marks the operation running on n interrupted and then
// releases n's lock, both only while the lock is held under lease. It
// reports whether it released the lock; a lock that changed hands is not
// an error.
func (m *Manager) recordAndRelease(ctx context.Context, n *store.Node, lease lock.Lease, reason string) (bool, error) {
	if err := m.interrupt(ctx, n, lease, reason); err != nil {
		if errors.Is(err, lock.ErrFenced) {
			return false, nil
		}
		return false, err
	}
	err := m.cfg.Locker.Backend().Release(ctx, n.UUID, lease)
	if errors.Is(err, lock.ErrNotHolder) {
		return false, nil
	}
	return err == nil, err
}

// interrupt records that the operation running on n was interrupted, if
// the node's lock is still held under lease (else an error matching
// lock.ErrFenced: whoever holds it now owns the node's state).
func (m *Manager) interrupt(ctx context.Context, n *store.Node, lease lock.Lease, reason string) error {
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
		if len(what) > 0 {
			n.LastError = fmt.Sprintf("%s was interrupted: %s", joinAnd(what), reason)
		}
		// Written even with nothing to record: the write, conditional on
		// the version read, proves that the holder wrote nothing since
		// (say, a transient state before it was swept), so that the
		// release that follows cannot leave such a state unrecorded.
		err := m.cfg.Store.UpdateNodeHeld(ctx, n, lease)
		if err == nil {
			if len(what) > 0 {
				m.log.Warn("operation interrupted", "node", n.UUID, "last_error", n.LastError, "provision_state", n.ProvisionState)
			}
			return nil
		}
		// A conflict under an unchanged lease is a write by the holder (or
		// one without the lock) since the read: reread and look again.
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
