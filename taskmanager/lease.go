package taskmanager

import (
	"context"
	"errors"
	"fmt"

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

// acquireLease returns the lease a new task is bound to (nil without a
// Lease), or an error matching ErrLeaseLost. The lease is read before it is
// checked: one that ends in between binds the task to an ended lease, and
// the task is refused everything, rather than the other way round.
func (m *Manager) acquireLease() (context.Context, error) {
	if m.cfg.Lease == nil {
		return nil, nil
	}
	epoch := m.cfg.Lease.Context()
	if err := m.checkLease(); err != nil {
		return nil, err
	}
	return epoch, nil
}

// leaseLive reports whether the lease a task is bound to has not ended. A
// task bound to an ended lease is fenced for good, even after the agent
// regained its lease: the others may have taken its lock meanwhile. Its
// setters are refused before any BMC I/O (leaseGuard), and Save and Settle
// refuse to write its node.
func leaseLive(epoch context.Context) bool { return epoch == nil || epoch.Err() == nil }

// checkLease fails with ErrLeaseLost when the agent has no lease now, or
// the task's lease ended.
func (t *Task) checkLease() error {
	if err := t.m.checkLease(); err != nil {
		return err
	}
	t.mu.Lock()
	epoch := t.lease
	t.mu.Unlock()
	if !leaseLive(epoch) {
		return leaseLost(context.Cause(epoch))
	}
	return nil
}

// leaseContext returns parent, also cancelled (cause ErrLeaseLost) when the
// task's lease ends: the context of spawned work.
func (t *Task) leaseContext(parent context.Context) (context.Context, context.CancelFunc) {
	t.mu.Lock()
	epoch := t.lease
	t.mu.Unlock()
	if epoch == nil {
		return parent, func() {}
	}
	return withLease(parent, epoch)
}

func withLease(parent, lease context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	stop := context.AfterFunc(lease, func() { cancel(leaseLost(context.Cause(lease))) })
	return ctx, func() {
		stop()
		cancel(context.Canceled)
	}
}

// middleware is the driver middleware of the task's Handle: the manager's,
// then, with a Lease, the task's lease guard, then innermost the fencing
// check (Task.fence), which costs a database read and so runs last.
func (t *Task) middleware() []drivers.Middleware {
	mw := make([]drivers.Middleware, 0, len(t.m.cfg.Middleware)+2)
	mw = append(mw, t.m.cfg.Middleware...)
	if t.m.cfg.Lease != nil {
		mw = append(mw, t.leaseGuard)
	}
	return append(mw, t.fence)
}

// leaseGuard is a driver middleware: a mutating call runs only while the
// agent holds its lease and the task's lease has not ended, checked just
// before the call, and is cancelled when the task's lease ends while it
// runs. A task bound to an ended lease stays fenced after the agent
// regained its lease: the others may have taken its lock meanwhile.
func (t *Task) leaseGuard(ctx context.Context, c drivers.Call, next func(context.Context) error) error {
	if !c.Method.Mutates {
		return next(ctx)
	}
	if err := t.checkLease(); err != nil {
		return fmt.Errorf("%s refused before any BMC I/O: %w", c.Method, err)
	}
	ctx, cancel := t.leaseContext(ctx)
	defer cancel()
	// The check above can be stale by the time the driver writes to the
	// BMC (after its own reads, or a process stopped in between; the
	// lease's context is cancelled by a timer that may not have run yet
	// after a SIGCONT): the driver checks again right before it sends.
	return next(drivers.WithPreflight(ctx, t.checkLease))
}
