package taskmanager

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// ErrLeaseLost: the agent cannot prove that the other agents still count
// it alive (its heartbeat has not reached the database for nearly the
// heartbeat timeout), so it takes no new task, cancels its running work,
// refuses every mutating driver call before any BMC I/O and writes no
// task's node (Save, Settle), until a heartbeat reaches the database again. The request may be retried later or sent to
// another agent (HTTP 503).
var ErrLeaseLost = errors.New("this agent takes no work now")

// Lease is the agent's membership lease as the task manager uses it
// (cluster.Lease implements it).
type Lease interface {
	// Held returns nil while the lease is held, and an error saying why
	// not otherwise.
	Held() error
	// Context returns a context cancelled (with the reason as its cause)
	// when the lease held now ends; cancelled already if none is held.
	Context() context.Context
}

// whyLeaseLost is last_error's reason for an operation whose outcome was
// not recorded because its agent had lost its lease: the node may be
// another agent's by then, so the agent writes nothing to it.
const whyLeaseLost = "its agent lost its lease (no heartbeat reached the database in time), so it recorded nothing"

// leaseLost wraps the lease's reason in ErrLeaseLost.
func leaseLost(err error) error { return fmt.Errorf("%w: %w", ErrLeaseLost, err) }

// checkLease fails with ErrLeaseLost when a Lease is configured and not
// held.
func (m *Manager) checkLease() error {
	if m.cfg.Lease == nil {
		return nil
	}
	if err := m.cfg.Lease.Held(); err != nil {
		return leaseLost(err)
	}
	return nil
}

// leaseContext returns parent, also cancelled (cause ErrLeaseLost) when the
// lease held now ends: the context of spawned work.
func (m *Manager) leaseContext(parent context.Context) (context.Context, context.CancelFunc) {
	if m.cfg.Lease == nil {
		return parent, func() {}
	}
	return withLease(parent, m.cfg.Lease.Context())
}

func withLease(parent, lease context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	stop := context.AfterFunc(lease, func() { cancel(leaseLost(context.Cause(lease))) })
	return ctx, func() {
		stop()
		cancel(context.Canceled)
	}
}

// leaseGuard is the innermost driver middleware when a Lease is configured:
// a mutating call runs only while the lease is held, checked just before
// the call, and is cancelled when the lease ends while it runs.
func leaseGuard(l Lease) drivers.Middleware {
	return func(ctx context.Context, c drivers.Call, next func(context.Context) error) error {
		if !c.Method.Mutates {
			return next(ctx)
		}
		lctx := l.Context()
		if err := l.Held(); err != nil {
			return fmt.Errorf("%s refused before any BMC I/O: %w", c.Method, leaseLost(err))
		}
		ctx, cancel := withLease(ctx, lctx)
		defer cancel()
		return next(ctx)
	}
}

// withLeaseGuard installs leaseGuard as the innermost middleware.
func (cfg Config) withLeaseGuard() Config {
	if cfg.Lease != nil {
		cfg.Middleware = append(slices.Clip(cfg.Middleware), leaseGuard(cfg.Lease))
	}
	return cfg
}
