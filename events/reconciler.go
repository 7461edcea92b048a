package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// Purpose is the purpose of the reconciler's tasks.
const Purpose = "event subscription"

// DefaultInterval is the reconciler's default pass interval.
const DefaultInterval = 5 * time.Minute

// Tasks is what the reconciler needs of the task manager.
type Tasks interface {
	Acquire(ctx context.Context, ident string, opts ...taskmanager.Option) (*taskmanager.Task, error)
}

// Owned lists the UUIDs of the nodes this agent owns now (the power sync's
// ownership: *powersync.Loop).
type Owned interface {
	Owned(ctx context.Context) ([]string, error)
}

// Drivers finds a driver by name (*drivers.Registry): how the reconciler
// deletes the subscription of a node that no longer exists, with the
// driver_info it last saw.
type Drivers interface {
	Driver(name string) (drivers.Driver, error)
}

// ReconcilerConfig configures a Reconciler.
type ReconcilerConfig struct {
	// AgentID is this agent's id.
	AgentID string
	// URL is the base URL the BMCs reach the listener at
	// (http://host:port); a node's Destination is URL/events/<uuid>.
	URL string
	Key *Key
	// Interval between passes (default 5 minutes).
	Interval time.Duration
	// Workers bounds the nodes worked on at once (default 16).
	Workers int
	// CallTimeout bounds one node's work (default 30s).
	CallTimeout time.Duration
	Logger      *slog.Logger
}

// entry is what the reconciler knows of a node it subscribed.
type entry struct {
	driver string
	node   drivers.Node // as last seen, to unsubscribe after a deletion
	// sub is the ID of the agent's subscription found or made by the last
	// pass ("" if none): the next pass reads only it.
	sub string
}

// Result is what one pass did.
type Result struct {
	Owned, Kept, Created, Replaced, Removed, Unsupported, Failed int
}

// Reconciler keeps the agent's subscriptions in step with the nodes it owns.
type Reconciler struct {
	cfg     ReconcilerConfig
	tasks   Tasks
	owned   Owned
	drivers Drivers
	log     *slog.Logger

	passMu sync.Mutex // one pass (or Close) at a time
	closed bool       // Close has run: passes do nothing; under passMu
	mu     sync.Mutex
	known  map[string]entry // node UUID -> last seen, for nodes subscribed
}

// NewReconciler returns a Reconciler.
func NewReconciler(cfg ReconcilerConfig, tasks Tasks, owned Owned, drv Drivers) (*Reconciler, error) {
	if cfg.AgentID == "" || cfg.Key == nil || tasks == nil || owned == nil || drv == nil {
		return nil, errors.New("events: the reconciler needs an agent id, a key, tasks, ownership and drivers")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("events: the event URL %q is not an http(s) URL", cfg.URL)
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{cfg: cfg, tasks: tasks, owned: owned, drivers: drv,
		log: cfg.Logger.With("component", "events", "agent", cfg.AgentID), known: make(map[string]entry)}, nil
}

// Destination is the URL a node's BMC posts its events to.
func (r *Reconciler) Destination(node string) string {
	return r.cfg.URL + "/events/" + url.PathEscape(node)
}

// Run makes a pass at once and then every Interval until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := r.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("event subscription pass failed", "err", err)
		}
		lv := slog.LevelDebug
		if res.Created+res.Replaced+res.Removed+res.Failed > 0 {
			lv = slog.LevelInfo
		}
		r.log.Log(ctx, lv, "event subscription pass done", "owned", res.Owned, "kept", res.Kept, "created", res.Created,
			"replaced", res.Replaced, "removed", res.Removed, "unsupported", res.Unsupported, "failed", res.Failed)
		t.Reset(r.cfg.Interval)
	}
}

// Pass makes every owned node's subscription right and removes those of
// nodes no longer owned or gone. It fails only when the owned nodes cannot
// be listed.
func (r *Reconciler) Pass(ctx context.Context) (Result, error) {
	r.passMu.Lock()
	defer r.passMu.Unlock()
	if r.closed {
		return Result{}, nil
	}
	ids, err := r.owned.Owned(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("owned nodes: %w", err)
	}
	res := Result{Owned: len(ids)}
	owned := make(map[string]bool, len(ids))
	for _, id := range ids {
		owned[id] = true
	}
	var stale []string
	r.mu.Lock()
	for id := range r.known {
		if !owned[id] {
			stale = append(stale, id)
		}
	}
	r.mu.Unlock()

	var mu sync.Mutex
	r.ensureAll(ctx, ids, &mu, &res)
	r.each(ctx, stale, func(ctx context.Context, id string) {
		err := r.remove(ctx, id)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			res.Failed++
			r.log.Warn("cannot delete the event subscription of a node this agent no longer owns", "node", id, "err", err)
			return
		}
		res.Removed++
	})
	return res, ctx.Err()
}

// Nodes makes the subscriptions of the given owned nodes right now, as a
// pass does, and removes none: how a node just created, taken out of
// enroll or taken over from another agent gets its subscription before the
// next pass. It waits for a running pass to end.
func (r *Reconciler) Nodes(ctx context.Context, ids []string) Result {
	r.passMu.Lock()
	defer r.passMu.Unlock()
	if r.closed {
		return Result{}
	}
	res := Result{Owned: len(ids)}
	r.ensureAll(ctx, ids, new(sync.Mutex), &res)
	return res
}

// ensureAll makes the subscription of every id right, Workers at a time,
// and counts the outcomes in res under mu.
func (r *Reconciler) ensureAll(ctx context.Context, ids []string, mu *sync.Mutex, res *Result) {
	r.each(ctx, ids, func(ctx context.Context, id string) {
		o := r.ensure(ctx, id)
		mu.Lock()
		defer mu.Unlock()
		switch o {
		case outKept:
			res.Kept++
		case outCreated:
			res.Created++
		case outReplaced:
			res.Replaced++
		case outUnsupported:
			res.Unsupported++
		case outFailed:
			res.Failed++
		}
	})
}

// Close deletes the agent's subscriptions of every node it subscribed
// (at shutdown). Passes (Pass, Nodes) do nothing afterwards.
func (r *Reconciler) Close(ctx context.Context) error {
	r.passMu.Lock()
	defer r.passMu.Unlock()
	r.closed = true
	r.mu.Lock()
	ids := make([]string, 0, len(r.known))
	for id := range r.known {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	var mu sync.Mutex
	var errs []error
	r.each(ctx, ids, func(ctx context.Context, id string) {
		if err := r.remove(ctx, id); err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("node %s: %w", id, err))
			mu.Unlock()
		}
	})
	return errors.Join(errs...)
}

// each runs fn for every id, Workers at a time, each under CallTimeout.
func (r *Reconciler) each(ctx context.Context, ids []string, fn func(context.Context, string)) {
	sem := make(chan struct{}, r.cfg.Workers)
	var wg sync.WaitGroup
	for _, id := range ids {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
			defer cancel()
			fn(cctx, id)
		}()
	}
	wg.Wait()
}

type outcome uint8

const (
	outSkipped outcome = iota
	outKept
	outCreated
	outReplaced
	outUnsupported
	outFailed
)

// subscriber is the EventSubscriber bound to one node: a task's guarded
// driver handle, or the bare driver with the node last seen.
type subscriber interface {
	Subscriptions(ctx context.Context) ([]drivers.EventSubscription, error)
	Subscription(ctx context.Context, id string) (drivers.EventSubscription, error)
	Subscribe(ctx context.Context, req drivers.SubscriptionRequest) (drivers.EventSubscription, error)
	Unsubscribe(ctx context.Context, id string) error
}

// bound is a bare driver bound to a node, for a node that no longer exists.
type bound struct {
	d drivers.EventSubscriber
	n drivers.Node
}

func (b bound) Subscriptions(ctx context.Context) ([]drivers.EventSubscription, error) {
	return b.d.Subscriptions(ctx, b.n)
}

func (b bound) Subscription(ctx context.Context, id string) (drivers.EventSubscription, error) {
	return b.d.Subscription(ctx, b.n, id)
}

func (b bound) Subscribe(ctx context.Context, req drivers.SubscriptionRequest) (drivers.EventSubscription, error) {
	return b.d.Subscribe(ctx, b.n, req)
}

func (b bound) Unsubscribe(ctx context.Context, id string) error {
	return b.d.Unsubscribe(ctx, b.n, id)
}

// right reports whether s is the agent's subscription for node as it
// should be: this agent, this node, this key, this Destination, enabled.
func (r *Reconciler) right(s drivers.EventSubscription, node string) bool {
	agent, n, keyID, ok := parseContext(s.Context)
	return ok && agent == r.cfg.AgentID && n == node && keyID == r.cfg.Key.ID() && s.Destination == r.Destination(node) && s.Enabled
}

// mine splits a BMC's subscriptions into the agent's for node that are
// right (Destination, key, enabled) and the agent's that are not; other
// clients' are in neither.
func (r *Reconciler) mine(subs []drivers.EventSubscription, node string) (good, bad []drivers.EventSubscription) {
	for _, s := range subs {
		agent, n, _, ok := parseContext(s.Context)
		if !ok || agent != r.cfg.AgentID || n != node {
			continue // another client's (or another node's on a shared BMC): never touched
		}
		if r.right(s, node) && len(good) == 0 {
			good = append(good, s)
		} else {
			bad = append(bad, s)
		}
	}
	return good, bad
}

// ensure makes the node's subscription right, under a shared task.
func (r *Reconciler) ensure(ctx context.Context, id string) outcome {
	t, err := r.tasks.Acquire(ctx, id, taskmanager.Shared(), taskmanager.Purpose(Purpose))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			r.log.Warn("cannot load a node to check its event subscription", "node", id, "err", err)
			return outFailed
		}
		return outSkipped
	}
	defer t.Release()
	h := t.Driver()
	if h.Require(drivers.MethodSubscriptions, drivers.MethodSubscription, drivers.MethodSubscribe, drivers.MethodUnsubscribe) != nil {
		r.forget(id)
		return outUnsupported
	}
	e := entry{driver: t.Node().Driver, node: t.DriverNode()}
	// The fast path, one GET: the subscription the last pass kept or made
	// is still there and right.
	if known := r.subOf(id); known != "" {
		s, err := h.Subscription(ctx, known)
		switch {
		case err == nil && r.right(s, id):
			e.sub = known
			r.remember(id, e)
			return outKept
		case err != nil && !errors.Is(err, drivers.ErrNoSubscription):
			t.Log().Warn("cannot read the agent's event subscription", "subscription", known, "err", err)
			return outFailed
		}
		// Gone (a BMC reset, a firmware update) or changed: look at all.
	}
	subs, err := h.Subscriptions(ctx)
	if errors.Is(err, drivers.ErrUnsupported) {
		t.Log().Debug("the BMC offers no event subscriptions; the power sync alone keeps this node", "err", err)
		r.forget(id)
		return outUnsupported
	}
	if err != nil {
		t.Log().Warn("cannot list the BMC's event subscriptions", "err", err)
		return outFailed
	}
	r.remember(id, e)
	good, bad := r.mine(subs, id)
	for _, s := range bad {
		if err := h.Unsubscribe(ctx, s.ID); err != nil {
			t.Log().Warn("cannot delete a stale event subscription of this agent", "subscription", s.ID, "err", err)
			return outFailed
		}
	}
	if len(good) > 0 {
		e.sub = good[0].ID
		r.remember(id, e)
		return outKept
	}
	req := r.request(id)
	made, err := h.Subscribe(ctx, req)
	if err != nil {
		// A BMC may echo the request in its error: never log the secret.
		t.Log().Warn("cannot subscribe to the BMC's events", "err", redactSecret(err.Error(), req.Headers[TokenHeader]))
		return outFailed
	}
	e.sub = made.ID
	r.remember(id, e)
	t.Log().Info("subscribed to the BMC's events", "destination", r.Destination(id), "replaced", len(bad))
	if len(bad) > 0 {
		return outReplaced
	}
	return outCreated
}

// subOf returns the subscription the last pass kept or made for a node.
func (r *Reconciler) subOf(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.known[id].sub
}

// request is the node's subscription.
func (r *Reconciler) request(node string) drivers.SubscriptionRequest {
	return drivers.SubscriptionRequest{
		Destination: r.Destination(node),
		Context:     subContext(r.cfg.AgentID, node, r.cfg.Key.ID()),
		Headers:     map[string]string{TokenHeader: r.cfg.Key.Secret(r.cfg.AgentID, node)},
	}
}

// remove deletes every subscription of the agent's for a node: through a
// shared task while the node exists, through the bare driver with the
// driver_info last seen once it is deleted.
func (r *Reconciler) remove(ctx context.Context, id string) error {
	r.mu.Lock()
	e, ok := r.known[id]
	r.mu.Unlock()
	if !ok {
		return nil
	}
	var sub subscriber
	t, err := r.tasks.Acquire(ctx, id, taskmanager.Shared(), taskmanager.Purpose(Purpose))
	switch {
	case err == nil:
		defer t.Release()
		sub = t.Driver()
	case errors.Is(err, store.ErrNotFound):
		d, derr := r.drivers.Driver(e.driver)
		es, ok := d.(drivers.EventSubscriber)
		if derr != nil || !ok {
			r.forget(id)
			return nil
		}
		sub = bound{d: es, n: e.node}
	default:
		return err
	}
	subs, err := sub.Subscriptions(ctx)
	if err != nil && !errors.Is(err, drivers.ErrUnsupported) {
		return err
	}
	good, bad := r.mine(subs, id)
	for _, s := range append(good, bad...) {
		if err := sub.Unsubscribe(ctx, s.ID); err != nil {
			return err
		}
	}
	r.forget(id)
	r.log.Info("event subscription deleted", "node", id, "subscriptions", len(good)+len(bad))
	return nil
}

func (r *Reconciler) remember(id string, e entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.known[id] = e
}

func (r *Reconciler) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.known, id)
}

// Known returns the number of nodes the reconciler holds a subscription
// for.
func (r *Reconciler) Known() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.known)
}

var _ subscriber = (*drivers.Handle)(nil)

// redactSecret replaces secret in s with ******, and also the part of it
// left where s was cut short within it: the driver keeps 512 bytes of a
// BMC's error message, and a BMC that echoes the request may have the
// secret straddle that bound. Any run of at least 4 of the secret's first
// characters counts as such a part.
func redactSecret(s, secret string) string {
	const minPart = 4
	if len(secret) < minPart {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, secret[:minPart])
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		n := minPart
		for n < len(secret) && i+n < len(s) && s[i+n] == secret[n] {
			n++
		}
		b.WriteString(s[:i])
		b.WriteString("******")
		s = s[i+n:]
	}
}
