package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/bmc-agent/bmc-agent/internal/sweep"
	"github.com/bmc-agent/bmc-agent/powersync"
	"github.com/bmc-agent/bmc-agent/telemetry"
)

// Defaults of the new-node check (docs/operations.md, New nodes).
const (
	// defaultNewNodeInterval: a check is one listing of the owned nodes
	// from the database (the power sync makes one a minute), no BMC
	// request: twice the sync's listings, for a new node served within
	// half a minute.
	defaultNewNodeInterval = 30 * time.Second
	// maxNewNodes bounds the nodes one check hands on: a bulk import or a
	// third of a fleet taken over from a dead agent is left to the regular
	// passes, which spread their BMC requests, rather than read at once.
	maxNewNodes = 32
)

// newNodes notices the nodes this agent has come to own since its last
// check (created available, taken out of enroll, taken over from another
// agent) and hands them on at once, so that a new node gets its event
// subscription and its first telemetry read within a check rather than
// within an --event-resync and a --telemetry-interval.
type newNodes struct {
	interval time.Duration
	// owned lists the nodes this agent owns now (powersync.Loop.Owned:
	// the reconciler's and the collector's ownership).
	owned func(ctx context.Context) ([]string, error)
	// handle gets the new nodes of a check, at most maxNewNodes.
	handle []func(ctx context.Context, ids []string)
	log    *slog.Logger
}

// run checks every interval until ctx ends. The first listing only learns
// the nodes owned at start: the reconciler's first pass and the collector's
// first cycle, which start with the agent, take care of them.
func (w *newNodes) run(ctx context.Context) {
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	var seen map[string]bool
	for {
		seen = w.check(ctx, seen)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// check lists the owned nodes, hands on those not in seen (none when seen
// is nil: the first check) and returns the nodes owned now, or seen again
// when they cannot be listed.
func (w *newNodes) check(ctx context.Context, seen map[string]bool) map[string]bool {
	ids, err := w.owned(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("cannot list the owned nodes to find new ones", "err", err)
		}
		return seen
	}
	now := make(map[string]bool, len(ids))
	var fresh []string
	for _, id := range ids {
		now[id] = true
		if seen != nil && !seen[id] {
			fresh = append(fresh, id)
		}
	}
	if len(fresh) > maxNewNodes {
		w.log.Info("many new nodes at once: the first are read now, the others at the regular passes",
			"new", len(fresh), "now", maxNewNodes)
		fresh = fresh[:maxNewNodes]
	}
	if len(fresh) > 0 {
		w.log.Debug("new nodes: subscribing and reading them now", "nodes", len(fresh))
		// At once: the reconciler's waits for a running pass to end.
		var wg sync.WaitGroup
		for _, h := range w.handle {
			wg.Go(func() { h(ctx, fresh) })
		}
		wg.Wait()
	}
	return now
}

// startNewNodes runs the new-node check until ctx ends, when events or
// telemetry are on and --new-node-interval is not 0, and returns a function
// that waits for it to stop.
func startNewNodes(ctx context.Context, c serveConfig, log *slog.Logger, loop *powersync.Loop, ev *eventRuntime, tel *telemetry.Collector) (wait func()) {
	w := &newNodes{interval: c.newNodeInterval, owned: loop.Owned, log: log.With("component", "new nodes")}
	if ev != nil {
		// After shutdown's Close this does nothing: no subscription is
		// made again once the agent has deleted its own.
		w.handle = append(w.handle, func(ctx context.Context, ids []string) { ev.rec.Nodes(ctx, ids) })
	}
	if tel != nil {
		w.handle = append(w.handle, func(ctx context.Context, ids []string) {
			sweep.Run(ctx, ids, newNodeReads, 0, func(id string, _ *struct{}) { _ = tel.Refresh(ctx, id) }) // a failed read is logged and cached
		})
	}
	done := make(chan struct{})
	if len(w.handle) == 0 || w.interval <= 0 {
		close(done)
	} else {
		go func() { defer close(done); w.run(ctx) }()
	}
	return func() { <-done }
}

// newNodeReads bounds the telemetry reads of new nodes in flight at once.
const newNodeReads = 4
