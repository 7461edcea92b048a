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

// Reservation describes who holds a node's lock and why.
type Reservation struct {
	// Holder is the id of the agent that holds the lock.
	Holder string
	// Purpose says what the holder is doing, e.g. "power on".
	Purpose string
	// Since is when the lock was taken (database clock); zero when unknown.
	Since time.Time
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

// Backend stores reservations. Implementations must make Reserve and
// Release single conditional updates, so that two holders can never both
// succeed, and must be safe for concurrent use.
type Backend interface {
	// Reserve takes node's lock for r.Holder (r.Since is ignored: the
	// database's clock is used). It returns a *LockedError when another
	// holder has it (with that holder's reservation), an error matching
	// store.ErrNotFound when there is no such node, and nil when the lock is
	// taken. Reserving a lock one already holds is a *LockedError too: locks
	// are not re-entrant. node is a UUID or a name.
	Reserve(ctx context.Context, node string, r Reservation) error
	// Release gives up holder's lock on node (a UUID); ErrNotHolder if
	// holder does not hold it.
	Release(ctx context.Context, node, holder string) error
	// ReleaseHolder releases every lock held by holder and returns the nodes
	// it released. An agent calls it for its own id at start.
	ReleaseHolder(ctx context.Context, holder string) ([]string, error)
	// ReleaseStale releases every lock whose holder has no heartbeat newer
	// than timeout (by the database's clock), sparing except, and returns
	// the nodes it released.
	ReleaseStale(ctx context.Context, timeout time.Duration, except string) ([]string, error)
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
