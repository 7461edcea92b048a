package sweep_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/internal/sweep"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}

// Every id is done once, never more than workers at once, and the parts
// add up.
func TestRun(t *testing.T) {
	var mu sync.Mutex
	now, most := 0, 0
	done := map[string]int{}
	parts := sweep.Run(context.Background(), ids(50), 4, 0, func(id string, part *int) {
		mu.Lock()
		now++
		most = max(most, now)
		done[id]++
		mu.Unlock()
		time.Sleep(time.Millisecond)
		*part++
		mu.Lock()
		now--
		mu.Unlock()
	})
	total := 0
	for _, p := range parts {
		total += p
	}
	if len(parts) != 4 || total != 50 || len(done) != 50 || most > 4 {
		t.Fatalf("%d parts adding to %d, %d ids done, %d at once", len(parts), total, len(done), most)
	}
	for id, n := range done {
		if n != 1 {
			t.Fatalf("id %s done %d times", id, n)
		}
	}
	if got := sweep.Run(context.Background(), nil, 4, time.Second, func(string, *int) { t.Fatal("called") }); len(got) != 0 {
		t.Fatalf("no ids: %d parts", len(got))
	}
}

// The k-th of n ids starts no earlier than spread*k/n (a lower bound:
// timers never fire early); a cancelled context stops the handing out.
func TestRunSpreads(t *testing.T) {
	start := time.Now()
	spread := 100 * time.Millisecond
	var mu sync.Mutex
	at := map[string]time.Duration{}
	sweep.Run(context.Background(), ids(5), 5, spread, func(id string, _ *struct{}) {
		mu.Lock()
		at[id] = time.Since(start)
		mu.Unlock()
	})
	for k := range 5 {
		if min := spread * time.Duration(k) / 5; at[fmt.Sprint(k)] < min {
			t.Errorf("id %d started at %v, before %v", k, at[fmt.Sprint(k)], min)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	sweep.Run(ctx, ids(5), 1, time.Hour, func(string, *struct{}) { mu.Lock(); n++; mu.Unlock() })
	if n > 1 {
		t.Fatalf("a cancelled sweep did %d ids", n)
	}
}

// A workers of 0 (a config without its default) still does the work, one
// at a time, instead of waiting for a worker that never starts.
func TestRunNoWorkers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var n int
	parts := sweep.Run(ctx, ids(3), 0, 0, func(id string, part *int) { *part++ })
	for _, p := range parts {
		n += p
	}
	if n != 3 || ctx.Err() != nil {
		t.Fatalf("%d of 3 ids done (%v)", n, ctx.Err())
	}
}
