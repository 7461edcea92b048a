package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The EventService of the native systems: Redfish push events (DSP0266
// "Eventing"; DMTF schemas EventService v1.x, EventDestination v1.x, Event
// v1.x). A client POSTs an EventDestination to the Subscriptions collection
// (Destination, Context, Protocol "Redfish", HttpHeaders, filters); on a
// power state change of a system (through any face: Redfish, IPMI, /sim) or
// a health change the simulator POSTs an Event to every matching
// subscription, with the subscription's Context and its HttpHeaders as
// request headers.
//
// Messages come from DMTF's ResourceEvent registry (DSP8011,
// registries/ResourceEvent.1.0.json): ResourcePowerStateChanged ("The power
// state of resource %1 has changed to type %2.") and
// ResourceStatusChangedOK/Warning/Critical ("The health of resource %1 has
// changed to %2."), each with OriginOfCondition naming the ComputerSystem.
//
// A subscription belongs to one BMC: the system whose port created it, or,
// on the fleet's port, the one system its OriginResources name (otherwise
// it belongs to the fleet and sees every system's events). A BMC reset
// (Manager.Reset, IPMI Cold/Warm Reset: System.BMCReset) loses the
// subscriptions of that BMC, as BMCs that keep them in memory do; a client
// must notice and subscribe again.
//
// HttpHeaders is write-only: EventDestination's schema says it is null or
// an empty array in responses, so a GET never shows the secret a client
// put there.
//
// Delivery never blocks the request that changed the state: events go to a
// bounded queue served by a few workers per simulator (started with the
// first subscription, stopped and waited for by Close). A delivery that
// fails is retried DeliveryRetryAttempts times, DeliveryRetryIntervalSeconds
// apart; then the subscription's DeliveryRetryPolicy applies:
// SuspendRetries (the default here, as OpenBMC's bmcweb offers it) sets its
// Status.State to Disabled and nothing more is sent to it;
// TerminateAfterRetries deletes it. Only loopback destinations (127.0.0.1,
// ::1) are sent to: a subscription to any other URL is taken, as a BMC
// would, and never sent anything (the project's network rule).

const (
	eventServicePath  = v1 + "/EventService"
	subscriptionsPath = eventServicePath + "/Subscriptions"

	eventServiceType      = "#EventService.v1_7_0.EventService"
	eventDestinationsType = "#EventDestinationCollection.EventDestinationCollection"
	eventDestinationType  = "#EventDestination.v1_12_0.EventDestination"
	eventType             = "#Event.v1_7_0.Event"

	// resourceEventPrefix is the registry prefix of every message the
	// simulator sends.
	resourceEventPrefix = "ResourceEvent"
	// MsgPowerStateChanged and the health messages are the MessageIds of
	// the events the simulator sends (DMTF ResourceEvent registry 1.0).
	MsgPowerStateChanged = "ResourceEvent.1.0.ResourcePowerStateChanged"
	// MsgStatusChangedPrefix + health ("OK", "Warning", "Critical") is the
	// MessageId of a health change.
	MsgStatusChangedPrefix = "ResourceEvent.1.0.ResourceStatusChanged"

	eventQueueSize = 256
	eventWorkers   = 4
	// maxSubscriptions bounds the subscriptions of a simulator (a BMC has
	// a small fixed table; bmcweb's is 20 per BMC).
	maxSubscriptionsPerSystem = 20
)

// Delivery policies of EventDestination.DeliveryRetryPolicy the simulator
// implements.
const (
	retrySuspend   = "SuspendRetries"
	retryTerminate = "TerminateAfterRetries"
)

// EventConfig tunes event delivery (Config.Events).
type EventConfig struct {
	// RetryAttempts is how many times a failed delivery is retried before
	// the subscription's retry policy applies (default 3).
	RetryAttempts int
	// RetryInterval is the wait between two attempts (default 1s; the
	// EventService shows it rounded up to whole seconds).
	RetryInterval time.Duration
	// Timeout bounds one delivery attempt (default 5s).
	Timeout time.Duration
}

// Subscription is a snapshot of one event subscription, for tests and the
// admin endpoint. HttpHeaders are not included.
type Subscription struct {
	ID          string
	Destination string
	Context     string
	// System is the id of the system (BMC) it belongs to; empty for a
	// fleet-wide one.
	System string
	// State is "Enabled", or "Disabled" once suspended.
	State string
	// Delivered and Failed count events delivered and given up on.
	Delivered, Failed int64
}

// subscription is one EventDestination.
type subscription struct {
	id, dest, context string
	headers           map[string]string
	prefixes, types   []string
	origins           []string // OriginResources paths
	policy            string
	owner             *System // nil: the fleet's
	offHost           bool    // not a loopback address: never sent to

	suspended atomic.Bool
	delivered atomic.Int64
	failed    atomic.Int64
}

func (sub *subscription) state() string {
	if sub.suspended.Load() {
		return "Disabled"
	}
	return "Enabled"
}

// wants reports whether sub takes an event of sys whose origin is path.
func (sub *subscription) wants(sys *System, path string) bool {
	if sub.offHost || sub.suspended.Load() || (sub.owner != nil && sub.owner != sys) {
		return false
	}
	if len(sub.prefixes) > 0 && !slices.Contains(sub.prefixes, resourceEventPrefix) {
		return false
	}
	if len(sub.types) > 0 && !slices.Contains(sub.types, "ComputerSystem") {
		return false
	}
	return len(sub.origins) == 0 || slices.Contains(sub.origins, path)
}

// eventMessage is one entry of an Event's Events array.
type eventMessage struct {
	id, severity, message string
	args                  []string
}

// delivery is one Event on its way to one subscription.
type delivery struct {
	sub  *subscription
	body []byte
}

// eventService holds a simulator's subscriptions and delivers its events.
type eventService struct {
	cfg    EventConfig
	log    *slog.Logger
	pathOf func(*System) string
	hc     *http.Client

	queue   chan delivery
	stop    chan struct{}
	stopCtx context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	dropped atomic.Int64
	seq     atomic.Int64 // event ids

	mu      sync.Mutex
	subs    []*subscription
	nextID  int
	started bool
	closed  bool
	timers  map[*time.Timer]struct{} // power transitions awaited for their event
}

func newEventService(cfg EventConfig, log *slog.Logger, pathOf func(*System) string) *eventService {
	if cfg.RetryAttempts <= 0 {
		cfg.RetryAttempts = 3
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &eventService{
		cfg: cfg, log: log, pathOf: pathOf,
		hc: &http.Client{
			Transport: &http.Transport{
				// Only loopback destinations are accepted; dial them
				// directly, never through a proxy.
				Proxy:             nil,
				DisableKeepAlives: true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		queue: make(chan delivery, eventQueueSize), stop: make(chan struct{}),
		stopCtx: ctx, cancel: cancel,
		timers: make(map[*time.Timer]struct{}),
	}
}

// close stops the workers and the transition timers and waits for them.
func (es *eventService) close() {
	es.mu.Lock()
	if es.closed {
		es.mu.Unlock()
		return
	}
	es.closed = true
	for t := range es.timers {
		if t.Stop() {
			es.wg.Done() // its callback will never run
		}
	}
	clear(es.timers)
	es.mu.Unlock()
	close(es.stop)
	es.cancel()
	es.wg.Wait()
}

// startLocked starts the delivery workers once.
func (es *eventService) startLocked() {
	if es.started || es.closed {
		return
	}
	es.started = true
	for range eventWorkers {
		es.wg.Add(1)
		go func() {
			defer es.wg.Done()
			for {
				select {
				case <-es.stop:
					return
				case d := <-es.queue:
					es.deliver(d)
				}
			}
		}()
	}
}

// active reports whether any subscription could take an event of sys.
func (es *eventService) active(sys *System) bool {
	es.mu.Lock()
	defer es.mu.Unlock()
	for _, sub := range es.subs {
		if !sub.offHost && !sub.suspended.Load() && (sub.owner == nil || sub.owner == sys) {
			return true
		}
	}
	return false
}

// publish queues an event of sys for every subscription that wants it. It
// never blocks: with the queue full the event is dropped (and counted), as
// an overloaded BMC drops events. It may be called with sys.mu held.
func (es *eventService) publish(sys *System, msgs ...eventMessage) {
	path := es.pathOf(sys)
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.closed {
		return
	}
	for _, sub := range es.subs {
		if !sub.wants(sys, path) {
			continue
		}
		body := es.eventBody(sub, path, msgs)
		select {
		case es.queue <- delivery{sub: sub, body: body}:
		default:
			es.dropped.Add(1)
			es.log.Warn("event queue full: event dropped", "system", sys.id, "subscription", sub.id)
		}
	}
}

// eventBody renders an Event resource for one subscription.
func (es *eventService) eventBody(sub *subscription, origin string, msgs []eventMessage) []byte {
	id := strconv.FormatInt(es.seq.Add(1), 10)
	now := time.Now().UTC().Format(time.RFC3339)
	var w jw
	w.obj()
	w.kv("@odata.type", eventType)
	w.kv("Id", id)
	w.kv("Name", "Event")
	w.kv("Context", sub.context)
	w.key("Events")
	w.arr()
	for i, m := range msgs {
		w.obj()
		w.kv("EventId", id+"."+strconv.Itoa(i))
		w.kv("EventTimestamp", now)
		w.kv("MessageSeverity", m.severity)
		w.kv("Message", m.message)
		w.kv("MessageId", m.id)
		w.key("MessageArgs")
		w.arr()
		for _, a := range m.args {
			w.str(a)
		}
		w.endArr()
		w.link("OriginOfCondition", origin)
		w.end()
	}
	w.endArr()
	w.key("Events@odata.count")
	w.int(len(msgs))
	w.end()
	return w.b
}

// deliver sends one event, retrying as configured, and applies the retry
// policy when every attempt failed.
func (es *eventService) deliver(d delivery) {
	for attempt := 0; ; attempt++ {
		err := es.post(d)
		if err == nil {
			d.sub.delivered.Add(1)
			return
		}
		if attempt >= es.cfg.RetryAttempts {
			d.sub.failed.Add(1)
			es.giveUp(d.sub, err)
			return
		}
		t := time.NewTimer(es.cfg.RetryInterval)
		select {
		case <-t.C:
		case <-es.stop:
			t.Stop()
			return
		}
	}
}

// post makes one delivery attempt.
func (es *eventService) post(d delivery) error {
	ctx, cancel := context.WithTimeout(es.stopCtx, es.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.sub.dest, bytes.NewReader(d.body))
	if err != nil {
		return err
	}
	for k, v := range d.sub.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("OData-Version", "4.0")
	resp, err := es.hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errors.New("destination answered " + resp.Status)
	}
	return nil
}

// giveUp applies a subscription's retry policy after its retries ran out.
func (es *eventService) giveUp(sub *subscription, err error) {
	if sub.policy == retryTerminate {
		es.remove(func(s *subscription) bool { return s == sub })
		es.log.Info("event subscription terminated after failed deliveries", "subscription", sub.id, "err", err)
		return
	}
	if !sub.suspended.Swap(true) {
		es.log.Info("event subscription suspended after failed deliveries", "subscription", sub.id, "err", err)
	}
}

// remove deletes the subscriptions drop selects and returns how many.
func (es *eventService) remove(drop func(*subscription) bool) int {
	es.mu.Lock()
	defer es.mu.Unlock()
	n := len(es.subs)
	es.subs = slices.DeleteFunc(es.subs, drop)
	return n - len(es.subs)
}

// awaitTransition arms a timer that completes sys's pending power
// transition when it is due, so that its event goes out on time although
// transitions are otherwise completed lazily. Only while someone listens.
// It may be called with sys.mu held.
func (es *eventService) awaitTransition(sys *System, due time.Duration) {
	if !es.active(sys) {
		return
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.closed {
		return
	}
	es.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(due, func() {
		defer es.wg.Done()
		es.mu.Lock()
		delete(es.timers, t)
		closed := es.closed
		es.mu.Unlock()
		if !closed {
			sys.PowerState() // settles the transition, which publishes
		}
	})
	es.timers[t] = struct{}{}
}

// list returns the subscriptions visible on a port (scope nil: all).
func (es *eventService) list(scope *System) []*subscription {
	es.mu.Lock()
	defer es.mu.Unlock()
	var out []*subscription
	for _, sub := range es.subs {
		if scope == nil || sub.owner == scope {
			out = append(out, sub)
		}
	}
	return out
}

func (es *eventService) find(scope *System, id string) *subscription {
	for _, sub := range es.list(scope) {
		if sub.id == id {
			return sub
		}
	}
	return nil
}

// add stores a new subscription, within the per-BMC bound.
func (es *eventService) add(sub *subscription) error {
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.closed {
		return ErrClosed
	}
	n := 0
	for _, s := range es.subs {
		if s.owner == sub.owner {
			n++
		}
	}
	if n >= maxSubscriptionsPerSystem {
		return &httpError{status: http.StatusServiceUnavailable, msgID: "CreateLimitReachedForResource",
			msg: "The create operation failed because the resource has reached the limit of possible resources."}
	}
	es.nextID++
	sub.id = strconv.Itoa(es.nextID)
	es.subs = append(es.subs, sub)
	es.startLocked()
	return nil
}

// snapshot returns the subscriptions as Subscription values.
func (es *eventService) snapshot() []Subscription {
	subs := es.list(nil)
	out := make([]Subscription, len(subs))
	for i, sub := range subs {
		out[i] = Subscription{ID: sub.id, Destination: sub.dest, Context: sub.context, State: sub.state(),
			Delivered: sub.delivered.Load(), Failed: sub.failed.Load()}
		if sub.owner != nil {
			out[i].System = sub.owner.id
		}
	}
	return out
}

// Subscriptions returns the event subscriptions the simulator holds, of
// every system and the fleet.
func (s *Simulator) Subscriptions() []Subscription { return s.fleet.events.snapshot() }

// EventsDropped returns how many events were dropped because the delivery
// queue was full.
func (s *Simulator) EventsDropped() int64 { return s.fleet.events.dropped.Load() }

// BMCReset is what a reset of the system's BMC does to state that lives
// only in the BMC's memory: its event subscriptions are gone. Manager.Reset
// and the IPMI face's Cold and Warm Reset call it.
func (s *System) BMCReset() {
	if n := s.fleet.events.remove(func(sub *subscription) bool { return sub.owner == s }); n > 0 {
		s.fleet.events.log.Info("BMC reset: event subscriptions lost", "system", s.id, "subscriptions", n)
	}
}

// powerChangedLocked publishes a power state change; s.mu is held.
func (s *System) powerChangedLocked(to PowerState) {
	path := s.fleet.events.pathOf(s)
	s.fleet.events.publish(s, eventMessage{
		id: MsgPowerStateChanged, severity: "OK",
		message: "The power state of resource " + path + " has changed to type " + string(to) + ".",
		args:    []string{path, string(to)},
	})
}

// healthChanged publishes a change of the system's health (OK, Warning,
// Critical: the worse of its System and Chassis rollups, SetPartHealth) as
// ResourceStatusChanged<health>. It may be called with s.mu held.
func (s *System) healthChanged(old, health string) {
	if old == health {
		return
	}
	path := s.fleet.events.pathOf(s)
	s.fleet.events.publish(s, eventMessage{
		id: MsgStatusChangedPrefix + health, severity: health,
		message: "The health of resource " + path + " has changed to " + health + ".",
		args:    []string{path, health},
	})
}

// httpURL checks that a destination is an absolute http(s) URL.
func httpURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// loopbackURL checks that a destination is an http(s) URL of a loopback
// address (127.0.0.0/8, ::1).
func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return false
	}
	ip := net.ParseIP(u.Hostname()) // an address, not a name a resolver could send elsewhere
	return ip != nil && ip.IsLoopback()
}

// serveEvents answers the EventService subtree of a native simulator; it
// reports false for any other path (or model).
func (h *handler) serveEvents(w http.ResponseWriter, r *http.Request, path string) bool {
	if _, ok := h.sim.model.(*native); !ok || (path != eventServicePath && !strings.HasPrefix(path, eventServicePath+"/")) {
		return false
	}
	es := h.sim.fleet.events
	var sub *subscription
	allowed := "GET"
	switch {
	case path == eventServicePath:
	case path == subscriptionsPath:
		allowed = "GET, POST"
	case strings.HasPrefix(path, subscriptionsPath+"/"):
		if sub = es.find(h.scope, strings.TrimPrefix(path, subscriptionsPath+"/")); sub == nil {
			h.writeError(w, errNotFound)
			return true
		}
		allowed = "GET, DELETE"
	default:
		h.writeError(w, errNotFound)
		return true
	}
	if !h.authenticate(r, route{kind: kNotFound, path: path}, h.faultFor(route{})) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Redfish simulator"`)
		h.writeError(w, errUnauthorized)
		return true
	}
	if !methodAllowed(allowed, r.Method) && (r.Method != http.MethodHead || !strings.HasPrefix(allowed, "GET")) {
		w.Header().Set("Allow", allowed)
		h.writeError(w, errMethod(r.Method))
		return true
	}
	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			h.writeError(w, errTooLarge)
			return true
		}
		sub, err := h.newSubscription(body)
		if err == nil {
			err = es.add(sub)
		}
		if err != nil {
			h.writeError(w, err)
			return true
		}
		h.sim.log.Info("event subscription created", "subscription", sub.id, "destination", sub.dest, "context", sub.context)
		loc := subscriptionsPath + "/" + sub.id
		w.Header().Set("Location", loc)
		b, etag := renderSubscription(sub)
		h.writeEventJSON(w, r, b, etag, http.StatusCreated)
	case http.MethodDelete:
		es.remove(func(s *subscription) bool { return s == sub })
		h.writeNoContent(w)
	default:
		var b []byte
		var etag string
		switch {
		case sub != nil:
			b, etag = renderSubscription(sub)
		case path == subscriptionsPath:
			b, etag = renderSubscriptions(es.list(h.scope))
		default:
			b, etag = renderEventService(es.cfg)
		}
		w.Header().Set("Allow", allowed)
		h.writeEventJSON(w, r, b, etag, http.StatusOK)
	}
	return true
}

func (h *handler) writeEventJSON(w http.ResponseWriter, r *http.Request, b []byte, etag string, status int) {
	hd := w.Header()
	hd["Cache-Control"] = hdrNoCache
	hd["Odata-Version"] = hdrOData
	if r.Method == http.MethodHead {
		hd["Content-Type"] = hdrJSON
		w.WriteHeader(status)
		return
	}
	h.writeJSON(w, b, etag, status)
}

// newSubscription checks a POSTed EventDestination.
func (h *handler) newSubscription(body []byte) (*subscription, error) {
	var props map[string]json.RawMessage
	if err := json.Unmarshal(body, &props); err != nil || props == nil {
		return nil, errMalformedJSON
	}
	var req struct {
		Destination, Context, Protocol, DeliveryRetryPolicy string
		HttpHeaders                                         []map[string]string
		RegistryPrefixes, ResourceTypes                     []string
		OriginResources                                     []struct {
			ID string `json:"@odata.id"`
		}
	}
	for k := range props {
		switch k {
		case "Destination", "Context", "Protocol", "HttpHeaders", "RegistryPrefixes", "ResourceTypes",
			"OriginResources", "DeliveryRetryPolicy", "EventTypes", "EventFormatType", "SubscriptionType",
			"IncludeOriginOfCondition", "Name":
		default:
			return nil, errPropertyUnknown(k)
		}
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, errMalformedJSON
	}
	switch {
	case req.Destination == "":
		return nil, errPropertyMissing("Destination")
	case req.Protocol == "":
		return nil, errPropertyMissing("Protocol")
	case req.Protocol != "Redfish":
		return nil, invalid("Protocol", req.Protocol, []string{"Redfish"})
	case !httpURL(req.Destination):
		return nil, &ValueError{Property: "Destination", Value: req.Destination, Allowed: []string{"http or https URLs"}}
	case len(req.Context) > 256:
		return nil, &ValueError{Property: "Context", Value: req.Context[:32] + "...", Allowed: []string{"at most 256 characters"}}
	}
	for _, p := range req.RegistryPrefixes {
		if p != resourceEventPrefix {
			return nil, invalid("RegistryPrefixes", p, []string{resourceEventPrefix})
		}
	}
	policy := req.DeliveryRetryPolicy
	switch policy {
	case "":
		policy = retrySuspend
	case retrySuspend, retryTerminate:
	default:
		return nil, invalid("DeliveryRetryPolicy", policy, []string{retrySuspend, retryTerminate})
	}
	sub := &subscription{dest: req.Destination, context: req.Context, prefixes: req.RegistryPrefixes,
		types: req.ResourceTypes, policy: policy, owner: h.scope, headers: make(map[string]string),
		offHost: !loopbackURL(req.Destination)}
	if sub.offHost {
		// A real BMC sends to any URL it reaches; the simulator sends
		// nothing off this host (the project's network rule), but takes the
		// subscription, as clients and DMTF's Protocol Validator (which
		// subscribes https://192.168.1.50/Destination1) expect.
		h.sim.log.Warn("event subscription to a destination off this host: nothing will be sent to it", "destination", req.Destination)
	}
	n := 0
	for _, hh := range req.HttpHeaders {
		for k, v := range hh {
			if n++; n > 16 || len(k)+len(v) > 1024 {
				return nil, &ValueError{Property: "HttpHeaders", Value: "too many or too long", Allowed: []string{"at most 16 headers of 1 KiB"}}
			}
			sub.headers[k] = v
		}
	}
	var owners []*System
	for _, o := range req.OriginResources {
		p := cleanPath(o.ID)
		sys := h.systemAt(p)
		if sys == nil {
			return nil, &ValueError{Property: "OriginResources", Value: o.ID, Allowed: []string{"ComputerSystem URIs of this service"}}
		}
		sub.origins = append(sub.origins, p)
		owners = append(owners, sys)
	}
	if sub.owner == nil && len(owners) > 0 && !slices.ContainsFunc(owners, func(s *System) bool { return s != owners[0] }) {
		sub.owner = owners[0] // the BMC of the one system it watches
	}
	return sub, nil
}

// systemAt returns the system whose ComputerSystem is at path, as this port
// serves it, or nil.
func (h *handler) systemAt(path string) *System {
	rt := h.sim.model.resolve(h.scope, path)
	if rt.kind != kSystem {
		return nil
	}
	return rt.sys
}

func renderEventService(cfg EventConfig) ([]byte, string) {
	const etag = `"e1"`
	var w jw
	head(&w, eventServiceType, eventServicePath, etag)
	w.kv("Id", "EventService")
	w.kv("Name", "Event Service")
	w.key("ServiceEnabled")
	w.bool(true)
	w.key("DeliveryRetryAttempts")
	w.int(cfg.RetryAttempts)
	w.key("DeliveryRetryIntervalSeconds")
	w.int(int((cfg.RetryInterval + time.Second - 1) / time.Second))
	w.key("EventFormatTypes")
	w.arr()
	w.str("Event")
	w.endArr()
	w.key("RegistryPrefixes")
	w.arr()
	w.str(resourceEventPrefix)
	w.endArr()
	w.key("ResourceTypes")
	w.arr()
	w.str("ComputerSystem")
	w.endArr()
	status(&w)
	w.link("Subscriptions", subscriptionsPath)
	w.end()
	return w.b, etag
}

func renderSubscriptions(subs []*subscription) ([]byte, string) {
	var w jw
	ids := make([]string, len(subs))
	for i, s := range subs {
		ids[i] = s.id
	}
	etag := `"` + strings.Join(ids, ".") + `"`
	head(&w, eventDestinationsType, subscriptionsPath, etag)
	w.kv("Name", "Event Subscriptions Collection")
	members(&w, subscriptionsPath, ids)
	w.end()
	return w.b, etag
}

func renderSubscription(sub *subscription) ([]byte, string) {
	var w jw
	etag := `"` + sub.state() + `"`
	head(&w, eventDestinationType, subscriptionsPath+"/"+sub.id, etag)
	w.kv("Id", sub.id)
	w.kv("Name", "Event Subscription "+sub.id)
	w.kv("Destination", sub.dest)
	w.kv("Context", sub.context)
	w.kv("Protocol", "Redfish")
	w.kv("SubscriptionType", "RedfishEvent")
	w.kv("EventFormatType", "Event")
	w.kv("DeliveryRetryPolicy", sub.policy)
	w.key("HttpHeaders") // write-only: an empty array in responses
	w.arr()
	w.endArr()
	strs := func(k string, v []string) {
		w.key(k)
		w.arr()
		for _, s := range v {
			w.str(s)
		}
		w.endArr()
	}
	strs("RegistryPrefixes", sub.prefixes)
	strs("ResourceTypes", sub.types)
	w.key("OriginResources")
	w.arr()
	for _, o := range sub.origins {
		w.linkObj(o)
	}
	w.endArr()
	w.key("Status")
	w.obj()
	w.kv("State", sub.state())
	w.kv("Health", "OK")
	w.end()
	w.end()
	return w.b, etag
}
