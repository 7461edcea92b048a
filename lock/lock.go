package lock

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNodeLocked is matched by a *LockedError: another holder has the node.
// Nothing was changed; the caller may retry later.
var ErrNodeLocked = errors.New("node is locked")

// ErrNotHolder: a release by someone who does not hold the lock (it was
// released already, or swept as stale). Nothing was changed.
var ErrNotHolder = errors.New("lock not held by this holder")

// ErrFenced is matched by a *FencedError: the lock a task took has changed
// hands since (another agent swept it as stale, or it was released), so the
// task must not touch the node or its BMC again. Nothing was changed.
var ErrFenced = errors.New("the node's lock changed hands")

// Token identifies one acquisition of a node's lock: it grows every time the
// lock is taken, so that a holder whose lock was swept and taken by someone
// else can tell, by comparing tokens in the same statement as its write,
// that it no longer holds it (a fencing token).
type Token int64

// Lease is one acquisition of a node's lock: who took it and the token it
// got. Release, Verify and the writes a holder makes under its lock are
// conditional on it.
type Lease struct {
	Holder string
	Token  Token
}

// Reservation describes who holds a node's lock and why.
type Reservation struct {
	// Holder is the id of the agent that holds the lock.
	Holder string
	// Purpose says what the holder is doing, e.g. "power on".
	Purpose string
	// Since is when the lock was taken (database clock); zero when unknown.
	Since time.Time
	// Token is the acquisition's fencing token when read back; Reserve
	// ignores it.
	Token Token
}

// Held is a node's lock as a listing of locks reports it.
type Held struct {
	Node string
	Lease
}

// LockedError reports a node held by another holder.
type LockedError struct {
	Node string
	Reservation
}

func (e *LockedError) Error() string {
	msg := fmt.Sprintf("node %s is locked by agent %s", e.Node, e.Holder)
	if e.Purpose != "" {
		msg += fmt.Sprintf(" for %q", e.Purpose)
	}
	if !e.Since.IsZero() {
		msg += " since " + e.Since.UTC().Format(time.RFC3339)
	}
	return msg + ", please retry after the current operation is completed"
}

// Is makes errors.Is(err, ErrNodeLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrNodeLocked }

// FencedError reports a lease that no longer holds its node's lock: Now is
// the node's reservation at the time of the check (Holder "" if unlocked).
type FencedError struct {
	Node  string
	Lease Lease
	Now   Reservation
}

func (e *FencedError) Error() string {
	msg := fmt.Sprintf("node %s: the lock agent %s took (token %d) has changed hands", e.Node, e.Lease.Holder, e.Lease.Token)
	switch {
	case e.Now.Holder == "":
		msg += " and is now free"
	case e.Now.Purpose != "":
		msg += fmt.Sprintf(": agent %s holds it for %q", e.Now.Holder, e.Now.Purpose)
	default:
		msg += fmt.Sprintf(": agent %s holds it", e.Now.Holder)
	}
	return msg + "; the operation was stopped"
}

// Is makes errors.Is(err, ErrFenced) true.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }

// Backend stores reservations. Implementations must make Reserve and
// Release single conditional updates, so that two holders can never both
// succeed, and must be safe for concurrent use.
type Backend interface {
	// Reserve takes node's lock for r.Holder (r.Since and r.Token are
	// ignored: the database's clock is used) and returns the acquisition's
	// token, greater than every token the node's lock had before, taken in
	// the same statement. It returns a *LockedError when another holder
	// has it (with that holder's reservation), an error matching
	// store.ErrNotFound when there is no such node, and nil when the lock
	// is taken. Reserving a lock one already holds is a *LockedError too:
	// locks are not re-entrant. node is a UUID or a name.
	Reserve(ctx context.Context, node string, r Reservation) (Token, error)
	// Release gives up the lock on node (a UUID) taken as l; ErrNotHolder
	// if it is not held under l (released already, or swept and perhaps
	// taken again, even by the same holder).
	Release(ctx context.Context, node string, l Lease) error
	// Verify reports whether node's lock is still held under l: nil if it
	// is, a *FencedError if not (or if the node is gone). It is the check a
	// holder makes before an action outside the database.
	Verify(ctx context.Context, node string, l Lease) error
	// Stale lists the locks whose holder has no heartbeat newer than
	// timeout (by the database's clock), sparing except's. The sweeper
	// records what their holders were doing and then releases them, each
	// conditional on the lease listed.
	Stale(ctx context.Context, timeout time.Duration, except string) ([]Held, error)
}

// Observer receives lock events, e.g. to export metrics. Methods must be
// cheap and safe for concurrent use.
type Observer interface {
	// Acquired reports a lock taken after waiting wait.
	Acquired(wait time.Duration)
	// Contended reports a Lock that gave up on a held lock after its attempts.
	Contended(wait time.Duration)
	// Released reports a lock given up.
	Released()
}
