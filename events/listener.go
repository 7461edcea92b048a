package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Refresher reads a node from its BMC now and records what changed (the
// power sync's per-node read; the telemetry collector's). It is called
// from the listener's workers; it takes the node's lock itself, shared.
type Refresher interface {
	Refresh(ctx context.Context, nodeID string) error
}

// RefreshFunc adapts a function to Refresher.
type RefreshFunc func(ctx context.Context, nodeID string) error

// Refresh implements Refresher.
func (f RefreshFunc) Refresh(ctx context.Context, nodeID string) error { return f(ctx, nodeID) }

// Refreshers calls every r in turn and returns their errors joined.
func Refreshers(r ...Refresher) Refresher {
	return RefreshFunc(func(ctx context.Context, id string) error {
		var errs []error
		for _, x := range r {
			errs = append(errs, x.Refresh(ctx, id))
		}
		return errors.Join(errs...)
	})
}

// Defaults of ListenerConfig.
const (
	DefaultWorkers = 8
	// MaxBody bounds an event's body: a Redfish Event with a few records
	// is a few KiB.
	MaxBody = 256 << 10
)

// ListenerConfig configures a Listener.
type ListenerConfig struct {
	// AgentID is this agent's id (part of every secret).
	AgentID string
	// Key derives the secrets.
	Key *Key
	// Refresher reads a node on a power or health event.
	Refresher Refresher
	// Workers bounds the reads running at once (default 8).
	Workers int
	Logger  *slog.Logger
}

// Stats counts what a Listener did.
type Stats struct {
	// Accepted: events with a valid secret; Refused: without one or with a
	// wrong one; Invalid: authenticated but not a Redfish Event.
	Accepted, Refused, Invalid int64
	// Ignored: accepted events with no power or health record.
	Ignored int64
	// Refreshes: reads made; Coalesced: events folded into a read already
	// queued; Failed: reads that returned an error.
	Refreshes, Coalesced, Failed int64
}

// Listener is the HTTP handler BMCs post events to. Create it with
// NewListener, run its workers with Run.
type Listener struct {
	cfg ListenerConfig
	log *slog.Logger
	mux *http.ServeMux

	accepted, refused, invalid, ignored atomic.Int64
	refreshes, coalesced, failed        atomic.Int64

	// refusedLog limits the warnings about refused events (see
	// logRefused).
	refusedLog struct {
		sync.Mutex
		next       time.Time
		suppressed int64
	}
	now func() time.Time // the clock of refusedLog; tests replace it

	mu      sync.Mutex
	cond    *sync.Cond
	state   map[string]uint8 // nodes queued or being read
	queue   []string
	stopped bool
}

// Node states in the coalescer.
const (
	stQueued  uint8 = iota + 1 // waiting for a worker
	stRunning                  // being read
	stRerun                    // being read, and an event came meanwhile: read again
)

// NewListener returns a Listener.
func NewListener(cfg ListenerConfig) (*Listener, error) {
	if cfg.AgentID == "" || cfg.Key == nil || cfg.Refresher == nil {
		return nil, errors.New("events: the listener needs an agent id, a key and a refresher")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Listener{cfg: cfg, log: cfg.Logger.With("component", "events"), state: make(map[string]uint8), now: time.Now}
	l.cond = sync.NewCond(&l.mu)
	l.mux = http.NewServeMux()
	l.mux.HandleFunc("POST /events/{node}", l.serveEvent)
	l.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/events/") {
			w.Header().Set("Allow", http.MethodPost)
			answer(w, http.StatusMethodNotAllowed, "events are POSTed")
			return
		}
		answer(w, http.StatusNotFound, "not an event destination")
	})
	return l, nil
}

// Stats returns the listener's counts so far.
func (l *Listener) Stats() Stats {
	return Stats{Accepted: l.accepted.Load(), Refused: l.refused.Load(), Invalid: l.invalid.Load(), Ignored: l.ignored.Load(),
		Refreshes: l.refreshes.Load(), Coalesced: l.coalesced.Load(), Failed: l.failed.Load()}
}

// ServeHTTP implements http.Handler.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.mux.ServeHTTP(w, r) }

// answer writes a short plain-text answer.
func answer(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// event is what the listener reads of a Redfish Event (DMTF Event schema).
type event struct {
	Context string
	Events  []struct {
		MessageId         string
		OriginOfCondition json.RawMessage
	}
}

// triggers lists the ResourceEvent messages that make the listener read
// the node: power state and health changes (DMTF ResourceEvent registry,
// DSP8011).
var triggers = map[string]bool{
	"ResourcePowerStateChanged":     true,
	"ResourceStatusChangedOK":       true,
	"ResourceStatusChangedWarning":  true,
	"ResourceStatusChangedCritical": true,
	"ResourceStateChanged":          true,
}

// triggering reports whether a MessageId (Registry.Major.Minor.Key) is a
// power or health change.
func triggering(id string) bool {
	i := strings.LastIndexByte(id, '.')
	return i >= 0 && strings.HasPrefix(id, "ResourceEvent.") && triggers[id[i+1:]]
}

func (l *Listener) serveEvent(w http.ResponseWriter, r *http.Request) {
	node := r.PathValue("node")
	tok := r.Header.Get(TokenHeader)
	if tok == "" || len(node) > 128 || !l.cfg.Key.Check(l.cfg.AgentID, node, tok) {
		l.refused.Add(1)
		l.logRefused(node, r.RemoteAddr)
		answer(w, http.StatusUnauthorized, "no valid event token for this node")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		l.invalid.Add(1)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			answer(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("an event is at most %d bytes", MaxBody))
			return
		}
		answer(w, http.StatusBadRequest, "cannot read the event")
		return
	}
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil || ev.Events == nil {
		l.invalid.Add(1)
		answer(w, http.StatusBadRequest, "not a Redfish Event: a JSON object with an Events array is expected")
		return
	}
	if ev.Context != "" {
		if agent, n, _, ok := parseContext(ev.Context); ok && (agent != l.cfg.AgentID || n != node) {
			l.invalid.Add(1)
			answer(w, http.StatusBadRequest, "the event's Context names another node or agent")
			return
		}
	}
	l.accepted.Add(1)
	for _, e := range ev.Events {
		if triggering(e.MessageId) {
			l.log.Debug("event: reading the node", "node", node, "message", e.MessageId)
			l.trigger(node)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	l.ignored.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

// refusedLogEvery is the least time between two warnings about refused
// events.
const refusedLogEvery = time.Minute

// logRefused warns of a refused event, at most once per refusedLogEvery
// with the count of those not logged since: anyone who reaches the listener
// can post events without the secret, as fast as the network allows, and
// must not fill the agent's log. Every refused event is counted
// (Stats.Refused, bmc_agent_events_received_total{result="refused"}).
func (l *Listener) logRefused(node, remote string) {
	rl := &l.refusedLog
	rl.Lock()
	now := l.now()
	if now.Before(rl.next) {
		rl.suppressed++
		rl.Unlock()
		return
	}
	rl.next = now.Add(refusedLogEvery)
	suppressed := rl.suppressed
	rl.suppressed = 0
	rl.Unlock()
	l.log.Warn("event refused: no or wrong secret", "node", truncate(node), "remote", remote,
		"refused_unlogged", suppressed, "next_log_after", refusedLogEvery)
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// trigger asks for a read of node: queued if none is, folded into the
// queued one otherwise, and run again after the running one.
func (l *Listener) trigger(node string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	switch l.state[node] {
	case 0:
		l.state[node] = stQueued
		l.queue = append(l.queue, node)
		l.cond.Signal()
	case stRunning:
		l.state[node] = stRerun
	default:
		l.coalesced.Add(1)
	}
}

// Run serves the read queue with Workers workers until ctx ends, and
// returns when every read has stopped. Reads run under ctx.
func (l *Listener) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range l.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.work(ctx)
		}()
	}
	<-ctx.Done()
	l.mu.Lock()
	l.stopped = true
	l.cond.Broadcast()
	l.mu.Unlock()
	wg.Wait()
}

func (l *Listener) work(ctx context.Context) {
	for {
		l.mu.Lock()
		for len(l.queue) == 0 && !l.stopped {
			l.cond.Wait()
		}
		if l.stopped {
			l.mu.Unlock()
			return
		}
		node := l.queue[0]
		l.queue = l.queue[1:]
		l.state[node] = stRunning
		l.mu.Unlock()

		l.refreshes.Add(1)
		if err := l.cfg.Refresher.Refresh(ctx, node); err != nil && ctx.Err() == nil {
			l.failed.Add(1)
			l.log.Warn("event-triggered read failed", "node", node, "err", err)
		}

		l.mu.Lock()
		if l.state[node] == stRerun && !l.stopped {
			l.state[node] = stQueued
			l.queue = append(l.queue, node)
			l.cond.Signal()
		} else {
			delete(l.state, node)
		}
		l.mu.Unlock()
	}
}
