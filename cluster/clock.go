package cluster

import (
	"sync"
	"time"
)

// Clock is a monotonic clock as the lease reads it: Now is the time elapsed
// since an arbitrary origin, never a wall-clock time, so that stepping the
// system clock (NTP, an operator) cannot stretch or shorten a lease. Only
// the rate at which a clock advances matters; see docs/operations.md for how
// the lease margin covers rate errors.
type Clock interface {
	// Now returns the time elapsed on this clock since its origin.
	Now() time.Duration
	// AfterFunc calls f in its own goroutine once the clock has advanced by
	// d. stop cancels the call if it has not started and reports whether
	// it did.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// RateClock is the process's monotonic clock (time.Since of a fixed
// instant) running at Rate times real time: 1 is the real clock, 1.5 a clock
// that runs fast, 0.5 one that runs slow. Rates other than 1 simulate a host
// whose clock drifts, in tests of the lease (serve's hidden --lease-clock-rate
// flag).
type RateClock struct {
	origin time.Time
	rate   float64
}

// NewRateClock returns a RateClock at rate; rate <= 0 means 1.
func NewRateClock(rate float64) *RateClock {
	if rate <= 0 {
		rate = 1
	}
	return &RateClock{origin: time.Now(), rate: rate}
}

// Now implements Clock.
func (c *RateClock) Now() time.Duration {
	return time.Duration(float64(time.Since(c.origin)) * c.rate)
}

// AfterFunc implements Clock: d on this clock is d/Rate of real time.
func (c *RateClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(time.Duration(float64(d)/c.rate), f).Stop
}

// ManualClock is a Clock that advances only when told to, for tests.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Duration
	timers map[*manualTimer]struct{}
}

type manualTimer struct {
	at time.Duration
	f  func()
}

// NewManualClock returns a ManualClock at zero.
func NewManualClock() *ManualClock {
	return &ManualClock{timers: map[*manualTimer]struct{}{}}
}

// Now implements Clock.
func (c *ManualClock) Now() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements Clock. f runs synchronously inside the Advance that
// reaches its time (Advance's caller is f's goroutine).
func (c *ManualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{at: c.now + d, f: f}
	c.timers[t] = struct{}{}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.timers[t]
		delete(c.timers, t)
		return ok
	}
}

// Advance moves the clock forward by d and runs the functions whose time
// has come.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now += d
	var due []func()
	for t := range c.timers {
		if t.at <= c.now {
			due = append(due, t.f)
			delete(c.timers, t)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

var (
	_ Clock = (*RateClock)(nil)
	_ Clock = (*ManualClock)(nil)
)
