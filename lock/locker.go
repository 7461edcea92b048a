package lock

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Policy says how long Lock waits for a held node.
type Policy struct {
	// Attempts is how many times Lock tries before giving up (at least 1).
	Attempts int
	// Interval is the pause between attempts.
	Interval time.Duration
	// ReleaseTimeout bounds Unlock, retries included; it runs on its own
	// clock so that a cancelled request still releases its lock.
	ReleaseTimeout time.Duration
}

// DefaultPolicy is Ironic's: 3 attempts, 1 s apart.
var DefaultPolicy = Policy{Attempts: 3, Interval: time.Second, ReleaseTimeout: 30 * time.Second}

// Locker takes and releases node locks in a Backend with a retry policy.
// It is safe for concurrent use.
type Locker struct {
	b   Backend
	p   Policy
	obs Observer
}

// NewLocker returns a Locker over b. A nil obs discards events; zero fields
// of p take DefaultPolicy's values.
func NewLocker(b Backend, p Policy, obs Observer) *Locker {
	if p.Attempts < 1 {
		p.Attempts = DefaultPolicy.Attempts
	}
	if p.Interval <= 0 {
		p.Interval = DefaultPolicy.Interval
	}
	if p.ReleaseTimeout <= 0 {
		p.ReleaseTimeout = DefaultPolicy.ReleaseTimeout
	}
	if obs == nil {
		obs = nopObserver{}
	}
	return &Locker{b: b, p: p, obs: obs}
}

// Backend returns the backend the Locker uses.
func (l *Locker) Backend() Backend { return l.b }

// Lock takes node's lock for holder, trying up to Attempts times while
// another holder has it, and returns the acquisition's token. It returns the
// last *LockedError when every attempt found the node held, ctx's error if
// ctx ends first, and the backend's error (not retried) for anything else,
// such as a missing node.
func (l *Locker) Lock(ctx context.Context, node string, r Reservation) (Token, error) {
	var tok Token
	err := l.LockFunc(ctx, node, func(ctx context.Context) (err error) {
		tok, err = l.b.Reserve(ctx, node, r)
		return err
	})
	return tok, err
}

// LockFunc is Lock with the policy applied to reserve, a function that
// reserves node the way Backend.Reserve does (and returns its errors) but
// may do more in the same statement, such as loading the node.
func (l *Locker) LockFunc(ctx context.Context, node string, reserve func(context.Context) error) error {
	start := time.Now()
	var timer *time.Timer
	for attempt := 1; ; attempt++ {
		err := reserve(ctx)
		if err == nil {
			l.obs.Acquired(time.Since(start))
			return nil
		}
		if !errors.Is(err, ErrNodeLocked) || attempt >= l.p.Attempts {
			if errors.Is(err, ErrNodeLocked) {
				l.obs.Contended(time.Since(start))
			}
			return err
		}
		if timer == nil {
			timer = time.NewTimer(l.p.Interval)
			defer timer.Stop()
		} else {
			timer.Reset(l.p.Interval)
		}
		select {
		case <-ctx.Done():
			l.obs.Contended(time.Since(start))
			return fmt.Errorf("waiting for the lock of node %s: %w (last: %w)", node, ctx.Err(), err)
		case <-timer.C:
		}
	}
}

// Unlock releases the lock on node taken as lease. It does not take a
// context: it runs on its own deadline (Policy.ReleaseTimeout) so that a
// cancelled request still releases, and retries while the database cannot
// be reached. A lock that is not held under lease (ErrNotHolder) is not
// retried. A retry after a release whose answer was lost cannot release the
// lock of the node's next holder, even one with the same holder id: the
// release is conditional on the lease's token.
func (l *Locker) Unlock(node string, lease Lease) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.p.ReleaseTimeout)
	defer cancel()
	backoff := 50 * time.Millisecond
	for {
		err := l.b.Release(ctx, node, lease)
		if err == nil {
			l.obs.Released()
			return nil
		}
		if errors.Is(err, ErrNotHolder) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("release lock of node %s: %w", node, err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

type nopObserver struct{}

func (nopObserver) Acquired(time.Duration)  {}
func (nopObserver) Contended(time.Duration) {}
func (nopObserver) Released()               {}
