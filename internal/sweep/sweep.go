package sweep

import (
	"context"
	"time"
)

// Run calls do for every id, at most workers at once, and returns the
// workers' parts: each worker accumulates into its own part (a partial
// result, needing no lock), for the caller to merge. With spread > 0 the
// k-th of n ids starts no earlier than spread*k/n after Run was called, so
// that the work is paced evenly over the spread. When ctx ends, Run hands
// out no more ids (those not handed out are not done) and returns once the
// running calls have returned. A workers below 1 counts as 1.
func Run[P any](ctx context.Context, ids []string, workers int, spread time.Duration, do func(id string, part *P)) []P {
	workers = min(max(workers, 1), len(ids))
	work := make(chan string)
	parts := make(chan P, workers)
	for range workers {
		go func() {
			var part P
			for id := range work {
				do(id, &part)
			}
			parts <- part
		}()
	}
	start := time.Now()
	var timer *time.Timer
feed:
	for k, id := range ids {
		if spread > 0 && k > 0 {
			wait := time.Until(start.Add(spread * time.Duration(k) / time.Duration(len(ids))))
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-timer.C:
			case <-ctx.Done():
				break feed
			}
		}
		select {
		case work <- id:
		case <-ctx.Done():
			break feed
		}
	}
	if timer != nil {
		timer.Stop()
	}
	close(work)
	out := make([]P, 0, workers)
	for range workers {
		out = append(out, <-parts)
	}
	return out
}
