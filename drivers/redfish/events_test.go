package redfish_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// The subscription cycle against the simulator's EventService: create one
// for a node (its system only, with a secret header that is never shown
// back), list it beside another client's, delete it, and delete it again.
func TestEventSubscriptions(t *testing.T) {
	sim := startSim(t, simulator.Config{Systems: 2})
	d := newDriver(t, fastOptions())
	ids := sim.SystemIDs()
	n := nodeOf(sim.URL(), ids[0], nil)
	got := make(chan http.Header, 4)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)

	other, err := d.Subscribe(ctx(t), nodeOf(sim.URL(), ids[1], nil), drivers.SubscriptionRequest{Destination: rcv.URL + "/other", Context: "someone else"})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := d.Subscribe(ctx(t), n, drivers.SubscriptionRequest{Destination: rcv.URL + "/mine", Context: "node-0",
		Headers: map[string]string{"X-Event-Token": "tok-123"}})
	if err != nil {
		t.Fatal(err)
	}
	if sub.ID == "" || sub.ID == other.ID {
		t.Fatalf("subscription ids %q and %q", sub.ID, other.ID)
	}
	list, err := d.Subscriptions(ctx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("listed %+v, want both", list)
	}
	for _, s := range list {
		if s.ID == sub.ID && (s.Context != "node-0" || s.Destination != rcv.URL+"/mine" || !s.Enabled) {
			t.Fatalf("listed %+v", s)
		}
	}
	// Events of system 0 only, with the secret header.
	if err := sim.System(ids[0]).SetPowerState(simulator.PowerOn); err != nil {
		t.Fatal(err)
	}
	if h := <-got; h.Get("X-Event-Token") != "tok-123" {
		t.Fatalf("event headers %v", h)
	}

	one, err := d.Subscription(ctx(t), n, sub.ID)
	if err != nil || one.Context != "node-0" || !one.Enabled {
		t.Fatalf("Subscription: %+v %v", one, err)
	}
	if err := d.Unsubscribe(ctx(t), n, sub.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Subscription(ctx(t), n, sub.ID); !errors.Is(err, drivers.ErrNoSubscription) {
		t.Fatalf("Subscription of a deleted one: %v, want ErrNoSubscription", err)
	}
	if err := d.Unsubscribe(ctx(t), n, sub.ID); err != nil {
		t.Fatalf("deleting a deleted subscription: %v", err)
	}
	left := sim.Subscriptions()
	if len(left) != 1 || left[0].Context != "someone else" {
		t.Fatalf("after delete the simulator holds %+v", left)
	}
}

// A BMC without an EventService is ErrUnsupported (the mockup bundle's
// model serves none of the native one's).
func TestEventSubscriptionsUnsupported(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"@odata.id":"/redfish/v1/","Systems":{"@odata.id":"/redfish/v1/Systems"}}`))
	}))
	t.Cleanup(srv.Close)
	d := newDriver(t, fastOptions())
	_, err := d.Subscriptions(ctx(t), nodeOf(srv.URL, "1", drivers.Info{"redfish_auth_type": "basic"}))
	if !errors.Is(err, drivers.ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
}
