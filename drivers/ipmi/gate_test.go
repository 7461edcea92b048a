package ipmi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGate checks that commands to one BMC never overlap and are spaced by
// at least the interval, that commands to different BMCs do overlap, and
// that an idle gate is dropped.
func TestGate(t *testing.T) {
	const interval = 20 * time.Millisecond
	g := newGates(interval)
	var (
		mu     sync.Mutex
		spans  = map[string][][2]time.Time{}
		inA    atomic.Int32
		maxA   atomic.Int32
		bothAt atomic.Bool
		inB    atomic.Int32
	)
	run := func(addr string, in *atomic.Int32) {
		err := g.do(context.Background(), addr, func(context.Context) error {
			n := in.Add(1)
			defer in.Add(-1)
			if addr == "a" && n > maxA.Load() {
				maxA.Store(n)
			}
			if inA.Load() > 0 && inB.Load() > 0 {
				bothAt.Store(true)
			}
			start := time.Now()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			spans[addr] = append(spans[addr], [2]time.Time{start, time.Now()})
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(2)
		go func() { defer wg.Done(); run("a", &inA) }()
		go func() { defer wg.Done(); run("b", &inB) }()
	}
	wg.Wait()
	if maxA.Load() != 1 {
		t.Fatalf("%d commands ran at once on one BMC", maxA.Load())
	}
	if !bothAt.Load() {
		t.Log("commands to two BMCs never overlapped (possible on a busy machine)")
	}
	a := spans["a"]
	for i := 1; i < len(a); i++ {
		// Spans are appended in order: the gate lets one through at a time.
		if gap := a[i][0].Sub(a[i-1][1]); gap < interval {
			t.Fatalf("command %d started %s after the previous one ended, want at least %s", i, gap, interval)
		}
	}
	if n := g.size(); n != 2 {
		t.Fatalf("%d gates for two BMCs", n)
	}
	time.Sleep(interval)
	// Commands to other BMCs sweep the idle gates of a and b.
	for i := range 64 {
		_ = g.do(context.Background(), fmt.Sprint("c", i%2), func(context.Context) error { return nil })
	}
	if n := g.size(); n > 2 {
		t.Fatalf("%d gates kept, want the idle gates of a and b dropped", n)
	}
}

// TestGateCancel checks that a caller waiting for a busy BMC gives up when
// its context ends, without running its command.
func TestGateCancel(t *testing.T) {
	g := newGates(0)
	hold, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = g.do(context.Background(), "a", func(context.Context) error { close(hold); <-release; return nil })
	}()
	<-hold
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := g.do(ctx, "a", func(context.Context) error { ran = true; return nil })
	close(release)
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("waiting with a cancelled context: %v, ran=%v", err, ran)
	}
}
