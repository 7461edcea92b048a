package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is an event destination that records what it receives; status
// is what it answers.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	got    []received
	ch     chan received
}

type received struct {
	header http.Header
	event  struct {
		Context string
		Events  []struct {
			MessageId         string
			MessageArgs       []string
			OriginOfCondition struct {
				ID string `json:"@odata.id"`
			}
		}
	}
}

func newReceiver(t *testing.T, status int) *receiver {
	rc := &receiver{status: status, ch: make(chan received, 64)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev received
		ev.header = r.Header.Clone()
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &ev.event); err != nil {
			t.Errorf("event body: %v: %s", err, b)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, ev)
		st := rc.status
		rc.mu.Unlock()
		rc.ch <- ev
		w.WriteHeader(st)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case ev := <-rc.ch:
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no event delivered")
	}
	return received{}
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// subscribe creates a subscription and returns its URI.
func subscribe(t *testing.T, c *client, body map[string]any) string {
	t.Helper()
	st, hdr, out := c.do(http.MethodPost, subscriptionsPath, body, nil)
	if st != http.StatusCreated {
		t.Fatalf("POST Subscriptions: %d %v", st, out)
	}
	return hdr.Get("Location")
}

func TestEventServicePowerEventDelivered(t *testing.T) {
	sim := startSim(t, Config{Systems: 2})
	c := newClient(t, sim.URL())
	rc := newReceiver(t, http.StatusNoContent)
	id := sim.SystemIDs()[0]
	loc := subscribe(t, c, map[string]any{
		"Destination": rc.srv.URL + "/events", "Context": "node-a", "Protocol": "Redfish",
		"HttpHeaders":     []map[string]string{{"X-Secret": "s3cret"}},
		"OriginResources": []map[string]string{{"@odata.id": sim.SystemPath(id)}},
	})

	// The secret is write-only.
	got := c.get(loc)
	if b := toJSON(t, got); strings.Contains(b, "s3cret") {
		t.Fatalf("GET shows the HttpHeaders secret: %s", b)
	}
	if getStr(got, "Context") != "node-a" || getObj(got, "Status")["State"] != "Enabled" {
		t.Fatalf("subscription: %v", got)
	}
	es := c.get(eventServicePath)
	if es["ServiceEnabled"] != true || es["DeliveryRetryAttempts"] == nil {
		t.Fatalf("EventService: %v", es)
	}

	// A power change over Redfish, then one through the state model (what
	// the /sim endpoint and the IPMI face call).
	if st, _, b := c.do(http.MethodPost, sim.SystemPath(id)+"/Actions/ComputerSystem.Reset", map[string]string{"ResetType": "On"}, nil); st != http.StatusNoContent {
		t.Fatalf("reset: %d %v", st, b)
	}
	ev := rc.next(t)
	if ev.header.Get("X-Secret") != "s3cret" || ev.event.Context != "node-a" || len(ev.event.Events) != 1 {
		t.Fatalf("event: %+v", ev)
	}
	m := ev.event.Events[0]
	if m.MessageId != MsgPowerStateChanged || m.OriginOfCondition.ID != sim.SystemPath(id) || m.MessageArgs[1] != "On" {
		t.Fatalf("event message: %+v", m)
	}
	if err := sim.System(id).SetPowerState(PowerOff); err != nil {
		t.Fatal(err)
	}
	if ev := rc.next(t); ev.event.Events[0].MessageArgs[1] != "Off" {
		t.Fatalf("second event: %+v", ev)
	}

	// Another system's change is not this subscription's.
	other := sim.System(sim.SystemIDs()[1])
	_ = other.SetPowerState(PowerOn)
	if err := sim.System(id).SetPartHealth("PSU1", HealthCritical); err != nil { // the chassis rollup: the machine's health
		t.Fatal(err)
	}
	if ev := rc.next(t); ev.event.Events[0].MessageId != MsgStatusChangedPrefix+"Critical" {
		t.Fatalf("expected the health event next (the other system's power change is filtered): %+v", ev)
	}
}

func TestEventServiceRefusesBadSubscriptions(t *testing.T) {
	sim := startSim(t, Config{})
	c := newClient(t, sim.URL())
	for name, body := range map[string]any{
		"not a URL":        map[string]any{"Destination": "192.0.2.1/ev", "Protocol": "Redfish"},
		"not http":         map[string]any{"Destination": "ftp://127.0.0.1/ev", "Protocol": "Redfish"},
		"no destination":   map[string]any{"Protocol": "Redfish"},
		"no protocol":      map[string]any{"Destination": "http://127.0.0.1:1/ev"},
		"other protocol":   map[string]any{"Destination": "http://127.0.0.1:1/ev", "Protocol": "SNMPv2c"},
		"unknown property": map[string]any{"Destination": "http://127.0.0.1:1/ev", "Protocol": "Redfish", "Bogus": 1},
		"unknown registry": map[string]any{"Destination": "http://127.0.0.1:1/ev", "Protocol": "Redfish", "RegistryPrefixes": []string{"Nope"}},
		"unknown origin":   map[string]any{"Destination": "http://127.0.0.1:1/ev", "Protocol": "Redfish", "OriginResources": []map[string]string{{"@odata.id": "/redfish/v1/Systems/nope"}}},
		"malformed":        "{",
	} {
		if st, _, out := c.do(http.MethodPost, subscriptionsPath, body, nil); st != http.StatusBadRequest {
			t.Errorf("%s: status %d %v, want 400", name, st, out)
		}
	}
	if n := len(sim.Subscriptions()); n != 0 {
		t.Fatalf("%d subscriptions after refused requests", n)
	}
	c.user = ""
	if st, _, _ := c.do(http.MethodGet, subscriptionsPath, nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("anonymous GET: %d", st)
	}
}

// A subscription to a destination off this host is taken, as a BMC would,
// and never sent anything; a host name counts as off the host.
func TestEventServiceSendsNothingOffHost(t *testing.T) {
	sim := startSim(t, Config{})
	c := newClient(t, sim.URL())
	good := newReceiver(t, http.StatusOK)
	remote := subscribe(t, c, map[string]any{"Destination": "https://192.0.2.1/ev", "Protocol": "Redfish", "Context": "remote"})
	subscribe(t, c, map[string]any{"Destination": "http://localhost:1/ev", "Protocol": "Redfish", "Context": "name"})
	subscribe(t, c, map[string]any{"Destination": good.srv.URL, "Protocol": "Redfish", "Context": "good"})
	if getStr(c.get(remote), "Destination") != "https://192.0.2.1/ev" {
		t.Fatalf("remote subscription: %v", c.get(remote))
	}
	_ = sim.System(sim.SystemIDs()[0]).SetPowerState(PowerOn)
	good.next(t)
	// The event was queued for the loopback destination only: the others
	// have nothing delivered, failed or pending.
	for _, s := range sim.Subscriptions() {
		if s.Context != "good" && (s.Delivered != 0 || s.Failed != 0 || s.State != "Enabled") {
			t.Fatalf("off-host subscription %+v", s)
		}
	}
}

func TestEventServiceSuspendsAfterFailedDeliveries(t *testing.T) {
	sim := startSim(t, Config{Events: EventConfig{RetryAttempts: 2, RetryInterval: time.Millisecond}})
	c := newClient(t, sim.URL())
	bad, good := newReceiver(t, http.StatusInternalServerError), newReceiver(t, http.StatusOK)
	loc := subscribe(t, c, map[string]any{"Destination": bad.srv.URL, "Protocol": "Redfish", "Context": "bad"})
	subscribe(t, c, map[string]any{"Destination": good.srv.URL, "Protocol": "Redfish", "Context": "good"})
	sys := sim.System(sim.SystemIDs()[0])
	_ = sys.SetPowerState(PowerOn)
	good.next(t)
	for range 3 { // the attempt and two retries
		bad.next(t)
	}
	deadline := time.Now().Add(20 * time.Second)
	for getObj(c.get(loc), "Status")["State"] != "Disabled" {
		if time.Now().After(deadline) {
			t.Fatalf("subscription not suspended: %v", c.get(loc))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Suspended: the next event goes to the good destination only.
	_ = sys.SetPowerState(PowerOff)
	good.next(t)
	if n := bad.count(); n != 3 {
		t.Fatalf("suspended subscription got %d deliveries, want 3", n)
	}
	var subs []Subscription
	for _, s := range sim.Subscriptions() {
		if s.Context == "bad" {
			subs = append(subs, s)
		}
	}
	if len(subs) != 1 || subs[0].Failed != 1 || subs[0].State != "Disabled" {
		t.Fatalf("snapshot: %+v", subs)
	}
}

func TestEventServiceBMCResetLosesSubscriptions(t *testing.T) {
	sim := startSim(t, Config{Systems: 2, PortPerSystem: true})
	ids := sim.SystemIDs()
	rc := newReceiver(t, http.StatusOK)
	// One on system 0's own port, one on the fleet's port watching system
	// 1, and a fleet-wide one.
	c0 := newClient(t, sim.Endpoint(ids[0]))
	subscribe(t, c0, map[string]any{"Destination": rc.srv.URL, "Protocol": "Redfish", "Context": "own-port"})
	cf := newClient(t, sim.URL())
	subscribe(t, cf, map[string]any{"Destination": rc.srv.URL, "Protocol": "Redfish", "Context": "watch-1",
		"OriginResources": []map[string]string{{"@odata.id": sim.SystemPath(ids[1])}}})
	subscribe(t, cf, map[string]any{"Destination": rc.srv.URL, "Protocol": "Redfish", "Context": "fleet"})
	members := func(c *client) int { return int(c.get(subscriptionsPath)["Members@odata.count"].(float64)) }
	if n := members(c0); n != 1 {
		t.Fatalf("system 0's port lists %d subscriptions, want its own 1", n)
	}
	if st, _, b := c0.do(http.MethodPost, "/redfish/v1/Managers/"+ids[0]+"/Actions/Manager.Reset", map[string]string{"ResetType": "GracefulRestart"}, nil); st != http.StatusNoContent {
		t.Fatalf("Manager.Reset: %d %v", st, b)
	}
	if n := members(c0); n != 0 {
		t.Fatalf("system 0 kept %d subscriptions across its BMC reset", n)
	}
	contexts := func() []string {
		var out []string
		for _, s := range sim.Subscriptions() {
			out = append(out, s.Context)
		}
		return out
	}
	if got := strings.Join(contexts(), ","); got != "watch-1,fleet" {
		t.Fatalf("after system 0's reset: %s", got)
	}
	sim.System(ids[1]).BMCReset() // the IPMI face's Cold Reset calls this
	if got := strings.Join(contexts(), ","); got != "fleet" {
		t.Fatalf("after system 1's reset: %s", got)
	}
}

func TestEventServiceDelayedTransitionEvent(t *testing.T) {
	sim := startSim(t, Config{PowerDelay: 30 * time.Millisecond})
	c := newClient(t, sim.URL())
	rc := newReceiver(t, http.StatusOK)
	subscribe(t, c, map[string]any{"Destination": rc.srv.URL, "Protocol": "Redfish"})
	sys := sim.System(sim.SystemIDs()[0])
	if err := sys.Reset(ResetOn); err != nil {
		t.Fatal(err)
	}
	// Nobody reads the system: the event comes from the transition's
	// timer when it completes.
	if ev := rc.next(t); ev.event.Events[0].MessageArgs[1] != "On" {
		t.Fatalf("event: %+v", ev)
	}
	// A transition still pending at Close is not waited for and leaks
	// nothing (goleak in TestMain).
	_ = sys.Reset(ResetForceOff)
}

func TestEventServiceDelete(t *testing.T) {
	sim := startSim(t, Config{})
	c := newClient(t, sim.URL())
	loc := subscribe(t, c, map[string]any{"Destination": "http://127.0.0.1:1/ev", "Protocol": "Redfish"})
	if st, _, _ := c.do(http.MethodDelete, loc, nil, nil); st != http.StatusNoContent {
		t.Fatalf("DELETE: %d", st)
	}
	if st, _, _ := c.do(http.MethodGet, loc, nil, nil); st != http.StatusNotFound {
		t.Fatalf("GET after DELETE: %d", st)
	}
	if st, _, _ := c.do(http.MethodDelete, loc, nil, nil); st != http.StatusNotFound {
		t.Fatalf("second DELETE: %d", st)
	}
	before := sim.Requests()
	c.get(eventServicePath)
	if sim.Requests() != before+1 {
		t.Fatalf("Requests: %d -> %d", before, sim.Requests())
	}
}
