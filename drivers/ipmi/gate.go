package ipmi

import (
	"context"
	"sync"
	"time"
)

// gates holds one gate per BMC address. It is the single place where the
// driver enforces "one command at a time per BMC, and at least the minimum
// interval between two of them", like Ironic's min_command_interval: every
// BMC command of every method goes through it.
type gates struct {
	interval time.Duration

	mu    sync.Mutex
	m     map[string]*gate
	calls int
}

// gate serialises the commands to one BMC. The token channel holds one value
// while no command runs; last is when the previous command ended, read and
// written only by the holder of the token.
type gate struct {
	token chan struct{}
	last  time.Time
	users int // holders and waiters, guarded by gates.mu
}

func newGates(interval time.Duration) *gates {
	return &gates{interval: interval, m: make(map[string]*gate)}
}

// do runs fn as one command to the BMC at addr: after every earlier command
// to it ended, and no sooner than the interval after the last one. Waiting
// ends early when ctx does; fn is then not run.
func (g *gates) do(ctx context.Context, addr string, fn func(context.Context) error) error {
	gt := g.enter(addr)
	defer g.leave(addr, gt)
	select {
	case <-gt.token:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() {
		gt.last = time.Now()
		gt.token <- struct{}{}
	}()
	if wait := g.interval - time.Since(gt.last); !gt.last.IsZero() && wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return fn(ctx)
}

// enter finds or makes the gate of addr and counts the caller as its user.
func (g *gates) enter(addr string) *gate {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.calls++; g.calls%64 == 0 {
		g.sweepLocked()
	}
	gt, ok := g.m[addr]
	if !ok {
		gt = &gate{token: make(chan struct{}, 1)}
		gt.token <- struct{}{}
		g.m[addr] = gt
	}
	gt.users++
	return gt
}

// leave uncounts the caller.
func (g *gates) leave(addr string, gt *gate) {
	g.mu.Lock()
	defer g.mu.Unlock()
	gt.users--
}

// sweepLocked drops the gates nobody uses whose last command ended more than
// the interval ago, so the map holds only BMCs in use. Every 64th command
// sweeps. A gate without users has no holder, so reading last is safe: its
// last writer released g.mu after writing it.
func (g *gates) sweepLocked() {
	for addr, gt := range g.m {
		if gt.users == 0 && time.Since(gt.last) >= g.interval {
			delete(g.m, addr)
		}
	}
}

// size returns the number of gates held, for tests.
func (g *gates) size() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m)
}
