package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ErrNoLease matches a *LeaseError: this agent cannot prove that the other
// agents still count it alive, so it must not act on any node.
var ErrNoLease = errors.New("no lease")

// LeaseError says why this agent holds no lease.
type LeaseError struct {
	// Agent is this agent's id.
	Agent string
	// Age is how long ago, on this agent's monotonic clock, the last
	// heartbeat that reached the database was sent.
	Age time.Duration
	// Limit is the lease: the heartbeat timeout minus the margin.
	Limit, Timeout time.Duration
	// Never is set before the first heartbeat reached the database.
	Never bool
	// Replaced is set once another agent took over this agent's id.
	Replaced bool
}

// Error says what happened and what the agent does about it.
func (e *LeaseError) Error() string {
	switch {
	case e.Replaced:
		return fmt.Sprintf("agent %s lost its lease for good: another agent took over its id", e.Agent)
	case e.Never:
		return fmt.Sprintf("agent %s has no lease yet: no heartbeat of it has reached the database", e.Agent)
	}
	return fmt.Sprintf("agent %s lost its lease: its last heartbeat to reach the database was sent %s ago, "+
		"and an agent stops all work %s after one (heartbeat timeout %s minus the safety margin); "+
		"it resumes once a heartbeat reaches the database again",
		e.Agent, e.Age.Round(time.Millisecond), e.Limit, e.Timeout)
}

// Is makes errors.Is(err, ErrNoLease) true.
func (e *LeaseError) Is(target error) bool { return target == ErrNoLease }

// Lease is this agent's proof that the others still count it alive. The
// other agents declare an agent dead, and take its locks, once the
// database's clock says its last heartbeat is older than the heartbeat
// timeout. The agent itself counts from the moment it sent its last
// successful heartbeat (before the database stamped it) on its own monotonic
// clock, and gives up its lease a safety margin earlier: from then on Held
// fails and the lease's Context is cancelled, so running work stops and no
// new work starts, before anyone may take its locks. The margin covers the
// difference of clock rates between this host and the database's, and the
// time between the check before a BMC call and the call reaching the BMC;
// see docs/operations.md.
//
// A Lease is safe for concurrent use. Its zero value is not usable: the
// Member that heartbeats makes it.
type Lease struct {
	clock   Clock
	agent   string
	timeout time.Duration
	limit   time.Duration
	log     *slog.Logger

	mu       sync.Mutex
	held     bool
	ever     bool // a heartbeat renewed the lease once
	replaced bool
	last     time.Duration // clock reading when the last successful heartbeat was sent
	ctx      context.Context
	cancel   context.CancelCauseFunc
	stop     func() bool
}

func newLease(clock Clock, agent string, timeout, margin time.Duration, log *slog.Logger) *Lease {
	l := &Lease{clock: clock, agent: agent, timeout: timeout, limit: timeout - margin, log: log, stop: func() bool { return false }}
	l.ctx, l.cancel = context.WithCancelCause(context.Background())
	l.cancel(&LeaseError{Agent: agent, Never: true, Limit: l.limit, Timeout: timeout})
	return l
}

// Held returns nil while the agent holds its lease, and a *LeaseError
// (matching ErrNoLease) otherwise. It reads the clock: an expired lease is
// reported even if the timer that ends it has not fired yet (a process that
// was stopped and continued).
func (l *Lease) Held() error {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkLocked(now)
}

// Context returns a context that is cancelled, with a *LeaseError as its
// cause, when the lease held now ends; it is cancelled already if the lease
// is not held. A lease regained later has a new context: work started under
// a lease that ended never runs again under the next one.
func (l *Lease) Context() context.Context {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checkLocked(now)
	return l.ctx
}

// Limit returns how long after sending its last successful heartbeat the
// agent keeps its lease: the heartbeat timeout minus the margin.
func (l *Lease) Limit() time.Duration { return l.limit }

func (l *Lease) checkLocked(now time.Duration) error {
	if l.held && !l.replaced && now-l.last < l.limit {
		return nil
	}
	err := l.errLocked(now)
	if l.held {
		l.held = false
		l.stop()
		l.cancel(err)
		l.log.Error("lease lost: cancelling running work and refusing new work", "err", err)
	}
	return err
}

func (l *Lease) errLocked(now time.Duration) *LeaseError {
	return &LeaseError{Agent: l.agent, Age: now - l.last, Limit: l.limit, Timeout: l.timeout, Replaced: l.replaced, Never: !l.ever}
}

// renew records that a heartbeat sent at clock reading sent reached the
// database. An ended lease starts anew, with a new Context.
func (l *Lease) renew(sent time.Duration) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.replaced {
		return
	}
	l.checkLocked(now)
	if now-sent >= l.limit {
		// The heartbeat took longer than a whole lease: it proves
		// nothing about now.
		return
	}
	if !l.held {
		if l.ever {
			l.log.Warn("lease regained: accepting work again", "agent", l.agent)
		}
		l.ctx, l.cancel = context.WithCancelCause(context.Background())
		l.held, l.ever = true, true
	}
	l.last = sent
	l.stop()
	l.stop = l.clock.AfterFunc(sent+l.limit-now, l.expire)
}

// expire ends the lease when its time has come (the timer may fire a little
// early on a clock whose rate is not 1: it then waits for the rest).
func (l *Lease) expire() {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.checkLocked(now) == nil {
		l.stop = l.clock.AfterFunc(max(l.last+l.limit-now, time.Millisecond), l.expire)
	}
}

// end gives the lease up for good: another agent took over the id.
func (l *Lease) end() {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.replaced = true
	l.checkLocked(now)
}

// close stops the timer, on the Member's way out.
func (l *Lease) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stop()
}
