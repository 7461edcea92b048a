package cluster

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

const (
	timeout = 60 * time.Second
	margin  = 15 * time.Second
)

func testLease(c Clock) *Lease {
	return newLease(c, "a1", timeout, margin, slog.New(slog.DiscardHandler))
}

func leaseErr(t *testing.T, l *Lease) *LeaseError {
	t.Helper()
	var le *LeaseError
	err := l.Held()
	if !errors.As(err, &le) || !errors.Is(err, ErrNoLease) {
		t.Fatalf("Held = %v, want a *LeaseError", err)
	}
	return le
}

func TestLeaseLifecycle(t *testing.T) {
	c := NewManualClock()
	l := testLease(c)
	if le := leaseErr(t, l); !le.Never {
		t.Fatalf("before any heartbeat: %v", le)
	}
	if l.Context().Err() == nil {
		t.Fatal("the context of a lease never held is live")
	}
	l.renew(0)
	ctx := l.Context()
	if err := l.Held(); err != nil || ctx.Err() != nil {
		t.Fatalf("after a heartbeat: %v %v", err, ctx.Err())
	}
	c.Advance(timeout - margin - time.Nanosecond)
	if err := l.Held(); err != nil || ctx.Err() != nil {
		t.Fatalf("just before the limit: %v %v", err, ctx.Err())
	}
	c.Advance(time.Nanosecond) // the timer ends the lease
	if ctx.Err() == nil {
		t.Fatal("the lease's context outlived the lease")
	}
	var le *LeaseError
	if !errors.As(context.Cause(ctx), &le) || le.Age != timeout-margin || le.Never {
		t.Fatalf("cause %v", context.Cause(ctx))
	}
	t.Logf("%v", le)
	if le := leaseErr(t, l); le.Age != timeout-margin {
		t.Fatalf("age %s", le.Age)
	}

	// A heartbeat sent now gives a new lease with a new context; work of
	// the old one stays cancelled.
	l.renew(c.Now())
	if err := l.Held(); err != nil || l.Context() == ctx || l.Context().Err() != nil || ctx.Err() == nil {
		t.Fatalf("after a new heartbeat: %v", err)
	}
}

// A heartbeat sent before the lease ended but answered after: the old lease
// ends (its work was cancelled) and the heartbeat starts a new one counted
// from when it was sent.
func TestLeaseLateAnswer(t *testing.T) {
	c := NewManualClock()
	l := testLease(c)
	l.renew(0)
	old := l.Context()
	c.Advance(40 * time.Second)
	sent := c.Now()
	c.Advance(10 * time.Second) // 50s > 45s: ended while the heartbeat was in flight
	if old.Err() == nil {
		t.Fatal("lease not ended at its limit")
	}
	l.renew(sent)
	if err := l.Held(); err != nil {
		t.Fatal(err)
	}
	if l.Context() == old {
		t.Fatal("the ended lease's context was reused")
	}
	c.Advance(sent + timeout - margin - c.Now())
	if l.Held() == nil {
		t.Fatal("the new lease did not count from the heartbeat's sending")
	}

	// A heartbeat that took longer than a whole lease proves nothing.
	sent = c.Now()
	c.Advance(timeout)
	l.renew(sent)
	if l.Held() == nil {
		t.Fatal("a heartbeat answered after a whole lease renewed it")
	}
}

// The clock-stepping case the lease must not fall for: Held reads the clock
// even when the timer has not fired (a process stopped and continued).
func TestLeaseHeldReadsTheClock(t *testing.T) {
	c := &lateTimers{ManualClock: NewManualClock()}
	l := testLease(c)
	l.renew(0)
	ctx := l.Context()
	c.Advance(time.Hour) // timers do not fire
	if l.Held() == nil {
		t.Fatal("held an hour after the last heartbeat")
	}
	if ctx.Err() == nil {
		t.Fatal("Held found the lease over but did not cancel its context")
	}
}

type lateTimers struct{ *ManualClock }

func (lateTimers) AfterFunc(time.Duration, func()) func() bool { return func() bool { return false } }

func TestLeaseReplaced(t *testing.T) {
	c := NewManualClock()
	l := testLease(c)
	l.renew(0)
	l.end()
	l.renew(c.Now())
	if le := leaseErr(t, l); !le.Replaced {
		t.Fatalf("after end: %v", le)
	}
}

// skewed is a holder's clock running at rate times the real (database's)
// time, which the ManualClock stands for.
type skewed struct {
	real *ManualClock
	rate float64
}

func (s skewed) Now() time.Duration { return time.Duration(float64(s.real.Now()) * s.rate) }
func (s skewed) AfterFunc(d time.Duration, f func()) func() bool {
	return s.real.AfterFunc(time.Duration(float64(d)/s.rate), f)
}

// The margin covers clock-rate errors: a holder whose clock runs up to
// margin/timeout (here 25%) slow still ends its lease before the others
// may declare it dead, a full timeout of real time after its heartbeat; a
// holder whose clock runs fast ends it sooner. A clock slower than that
// bound outlives its lease, which is why the margin must exceed the worst
// rate error (docs/operations.md).
func TestLeaseClockRates(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		safe bool
	}{
		{0.5, false}, {0.7, false}, {0.76, true}, {0.9, true}, {1, true}, {1.1, true}, {2, true}, {50, true},
	} {
		real := NewManualClock()
		l := testLease(skewed{real, tc.rate})
		real.Advance(time.Second)
		l.renew(skewed{real, tc.rate}.Now())
		ctx := l.Context()
		real.Advance(timeout) // the others may sweep now
		ended := ctx.Err() != nil && l.Held() != nil
		if ended != tc.safe {
			t.Errorf("clock rate %.2f: lease ended before the others' timeout = %v, want %v", tc.rate, ended, tc.safe)
		}
	}
}

// RateClock runs at its rate on the monotonic clock: a reading lies
// between rate times the real time elapsed before and after it.
func TestRateClock(t *testing.T) {
	for _, rate := range []float64{0.5, 1, 3} {
		start := time.Now()
		c := NewRateClock(rate)
		made := time.Since(start) // the clock's origin lies in [start, start+made]
		time.Sleep(time.Millisecond)
		before := time.Since(start)
		got := c.Now()
		after := time.Since(start)
		lo, hi := time.Duration(float64(before-made)*rate), time.Duration(float64(after)*rate)
		if got < lo || got > hi {
			t.Errorf("rate %v: Now %s not within [%s, %s]", rate, got, lo, hi)
		}
		fired := make(chan struct{})
		stop := c.AfterFunc(time.Millisecond, func() { close(fired) })
		<-fired
		if stop() {
			t.Error("stop reported a fired timer as stopped")
		}
	}
}

// BenchmarkLeaseHeld is the lease check of every Acquire and of every
// mutating driver call (with Context, which the guard also reads).
func BenchmarkLeaseHeld(b *testing.B) {
	l := testLease(NewRateClock(1))
	l.renew(l.clock.Now())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if l.Held() != nil || l.Context().Err() != nil {
				b.Fatal("lease lost")
			}
		}
	})
}
