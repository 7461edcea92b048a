package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/events"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/simtest"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// eventEnv is an agent serving in-process with Redfish events on, over a
// simulator whose systems are its nodes.
type eventEnv struct {
	sim     *simulator.Simulator
	dir     string
	agent   string
	c       *apiClient
	stop    func() error
	keyFile string
}

// startEventSim starts a simulator for the events tests with the agent's
// BMC password.
func startEventSim(t testing.TB, systems int) *simulator.Simulator {
	t.Helper()
	sim := simtest.Start(t, simulator.Config{Systems: systems, Username: "admin", Password: bmcPassword})
	return sim
}

// startEventAgent serves with the given extra flags (the sync interval,
// --event-listen, --event-resync); pre names nodes to put in its database
// before it starts, each for the simulator system of the same index, so
// that its first reconciler pass finds them. The telemetry collector is off
// unless extra turns it on: these tests count the BMC requests events cause,
// and a telemetry read (its cycle's, or the one an event triggers after the
// power sync's) would land among them.
func startEventAgent(t testing.TB, sim *simulator.Simulator, agent string, pre []string, extra ...string) *eventEnv {
	t.Helper()
	dir := t.TempDir()
	seedNodes(t, filepath.Join(dir, "agent.db"), sim, pre...)
	args := append([]string{"--listen", "127.0.0.1:0", "--database", filepath.Join(dir, "agent.db"), "--agent-id", agent,
		"--heartbeat-interval", "50ms", "--heartbeat-timeout", "1m", "--log-level", "warn", "--telemetry-interval", "0"}, extra...)
	base, stop := startServe(t, args...)
	c := newAPIClient(t, base)
	return &eventEnv{sim: sim, dir: dir, agent: agent, c: c, stop: stop, keyFile: filepath.Join(dir, "bmc-agent-events.key")}
}

// seedNodes creates available Redfish nodes in an agent's database before
// it starts, node i for simulator system i, and returns their UUIDs.
func seedNodes(t testing.TB, dbfile string, sim *simulator.Simulator, names ...string) []string {
	t.Helper()
	if len(names) == 0 {
		return nil
	}
	db, err := sqlstore.Open(context.Background(), dbfile, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var uuids []string
	for i, name := range names {
		id := sim.SystemIDs()[i]
		n := &store.Node{Name: name, Driver: "redfish", ProvisionState: taskmanager.StateAvailable, DriverInfo: store.JSON{
			"redfish_address": sim.URL(), "redfish_system_id": sim.SystemPath(id), "redfish_username": "admin", "redfish_password": bmcPassword}}
		if err := db.CreateNode(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		uuids = append(uuids, n.UUID)
	}
	return uuids
}

// enroll creates an available Redfish node for simulator system i.
func (e *eventEnv) enroll(t testing.TB, name string, i int) (uuid, system string) {
	t.Helper()
	system = e.sim.SystemIDs()[i]
	v := e.c.version
	e.c.version = "1.10" // created available: owned and synced at once
	defer func() { e.c.version = v }()
	status, out, err := e.c.do("POST", "/v1/nodes", fmt.Sprintf(`{"name": %q, "driver": "redfish", "driver_info": {"redfish_address": %q,
		"redfish_system_id": %q, "redfish_username": "admin", "redfish_password": %q}}`, name, e.sim.URL(), e.sim.SystemPath(system), bmcPassword))
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create node: %d %s %v", status, out, err)
	}
	var n map[string]any
	if err := json.Unmarshal([]byte(out), &n); err != nil {
		t.Fatal(err)
	}
	return str(n, "uuid"), system
}

// ours returns the agent's subscriptions on the simulator, by node.
func (e *eventEnv) ours() map[string]simulator.Subscription {
	out := map[string]simulator.Subscription{}
	for _, s := range e.sim.Subscriptions() {
		if rest, ok := strings.CutPrefix(s.Context, "bmc-agent/"+e.agent+"/"); ok {
			node, _, _ := strings.Cut(rest, "/")
			out[node] = s
		}
	}
	return out
}

// waitSub waits until the agent's subscription for node satisfies cond.
func (e *eventEnv) waitSub(t testing.TB, node, what string, cond func(s simulator.Subscription, ok bool) bool) simulator.Subscription {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		s, ok := e.ours()[node]
		if cond(s, ok) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscription of node %s never %s: %+v", node, what, e.sim.Subscriptions())
		}
	}
}

// waitPower waits until the API shows the node in the given power state.
func (e *eventEnv) waitPower(t testing.TB, node, want string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		status, out, err := e.c.do("GET", "/v1/nodes/"+node, "")
		if err != nil || status != http.StatusOK {
			t.Fatalf("GET node: %d %v", status, err)
		}
		var n map[string]any
		_ = json.Unmarshal([]byte(out), &n)
		if str(n, "power_state") == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s never showed %q: %s", node, want, out)
		}
	}
}

// postEvent posts a power event to the agent's listener for node with the
// given token ("" for none) and returns the status.
func postEvent(t testing.TB, dest, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, dest, strings.NewReader(
		`{"Events":[{"MessageId":"ResourceEvent.1.0.ResourcePowerStateChanged","MessageArgs":["x","On"]}]}`))
	if token != "" {
		req.Header.Set(events.TokenHeader, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func setPower(t testing.TB, sim *simulator.Simulator, system string, on bool) {
	t.Helper()
	p := simulator.PowerOff
	if on {
		p = simulator.PowerOn
	}
	if err := sim.System(system).SetPowerState(p); err != nil {
		t.Fatal(err)
	}
}

// With events on and the power sync an hour away, a power change made on
// the simulator reaches the node's power_state through the event alone. A
// forged event (no secret, a wrong one) is refused and costs the BMC
// nothing.
func TestEventsPowerChange(t *testing.T) {
	sim := startEventSim(t, 1)
	e := startEventAgent(t, sim, "ev-agent", []string{"ev-node"}, "--sync-interval", "1h", "--event-listen", "127.0.0.1:0", "--event-resync", "1h")
	node, system := str(e.c.node(t, "ev-node"), "uuid"), sim.SystemIDs()[0]
	sub := e.waitSub(t, node, "created", func(_ simulator.Subscription, ok bool) bool { return ok })
	if !strings.HasSuffix(sub.Destination, "/events/"+node) || sub.System != system {
		t.Fatalf("subscription %+v", sub)
	}

	// The power change, made on the simulator (its admin face).
	before := sim.Requests()
	setPower(t, sim, system, true)
	e.waitPower(t, node, "power on")
	perRead := sim.Requests() - before // what one event-triggered read costs the BMC
	if perRead == 0 {
		t.Fatal("the node's power state changed without a BMC read")
	}

	// The BMC loses the subscription (the reconciler is an hour away), so
	// the next change sends no event of its own: only the test's events
	// below reach the agent.
	sim.System(system).BMCReset()
	setPower(t, sim, system, false)
	key, err := events.LoadKey(e.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	before = sim.Requests()
	for name, tok := range map[string]string{"no secret": "", "wrong secret": strings.Repeat("a", 64),
		"another node's": key.Secret("ev-agent", "some-other-node")} {
		if st := postEvent(t, sub.Destination, tok); st != http.StatusUnauthorized {
			t.Errorf("forged event (%s): %d, want 401", name, st)
		}
	}
	if n := sim.Requests(); n != before {
		t.Fatalf("forged events made %d BMC requests", n-before)
	}
	if n := e.c.node(t, node); str(n, "power_state") != "power on" {
		t.Fatalf("after forged events the node shows %q", str(n, "power_state"))
	}
	// The genuine event that follows costs one read, as the first did: the
	// forged ones queued none before it.
	if st := postEvent(t, sub.Destination, key.Secret("ev-agent", node)); st != http.StatusNoContent {
		t.Fatalf("genuine event: %d", st)
	}
	e.waitPower(t, node, "power off")
	if n := sim.Requests() - before; n != perRead {
		t.Errorf("forged events then a genuine one cost %d BMC requests, one read costs %d", n, perRead)
	}
}

// Without --event-listen the agent subscribes nowhere, and the same change
// shows after a sync cycle.
func TestEventsOffSyncStillWorks(t *testing.T) {
	sim := startEventSim(t, 1)
	e := startEventAgent(t, sim, "sync-agent", nil, "--sync-interval", "100ms")
	node, system := e.enroll(t, "sync-node", 0)
	e.waitPower(t, node, "power off")
	setPower(t, sim, system, true)
	e.waitPower(t, node, "power on")
	if subs := sim.Subscriptions(); len(subs) != 0 {
		t.Fatalf("subscriptions without --event-listen: %+v", subs)
	}
}

// A BMC reset loses the subscription and the reconciler makes it again;
// deleting the node deletes it, and so does shutdown; another client's
// stays throughout.
func TestEventsResubscribeAndNodeDeletion(t *testing.T) {
	sim := startEventSim(t, 2)
	e := startEventAgent(t, sim, "re-agent", nil, "--sync-interval", "1h", "--event-listen", "127.0.0.1:0", "--event-resync", "50ms")
	node, system := e.enroll(t, "re-node", 0)
	keep, _ := e.enroll(t, "keep-node", 1)
	first := e.waitSub(t, node, "created", func(_ simulator.Subscription, ok bool) bool { return ok })
	e.waitSub(t, keep, "created", func(_ simulator.Subscription, ok bool) bool { return ok })

	sim.System(system).BMCReset() // what Manager.Reset and IPMI Cold Reset do
	again := e.waitSub(t, node, "re-created after the BMC reset", func(s simulator.Subscription, ok bool) bool { return ok && s.ID != first.ID })
	if again.Destination != first.Destination {
		t.Fatalf("re-created %+v, was %+v", again, first)
	}
	// The re-created one works: an event through it moves power_state.
	setPower(t, sim, system, true)
	e.waitPower(t, node, "power on")
	// Another client subscribes to the same BMC (after its reset).
	other := subscribeOther(t, sim, system)

	e.c.must(t, http.StatusNoContent, "DELETE", "/v1/nodes/"+node, "")
	e.waitSub(t, node, "deleted with its node", func(_ simulator.Subscription, ok bool) bool { return !ok })
	if _, ok := e.ours()[keep]; !ok || !hasSub(sim, other) {
		t.Fatalf("deleting a node took other subscriptions with it: %+v", sim.Subscriptions())
	}

	if err := e.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if left := e.ours(); len(left) != 0 {
		t.Fatalf("subscriptions left after shutdown: %+v", left)
	}
	if !hasSub(sim, other) {
		t.Fatal("shutdown deleted another client's subscription")
	}
}

// subscribeOther makes a subscription as another client would, watching a
// system, and returns its id.
func subscribeOther(t testing.TB, sim *simulator.Simulator, system string) string {
	t.Helper()
	body := fmt.Sprintf(`{"Destination": "http://127.0.0.1:9/other", "Protocol": "Redfish", "Context": "someone else",
		"OriginResources": [{"@odata.id": %q}]}`, sim.SystemPath(system))
	req, _ := http.NewRequest(http.MethodPost, sim.URL()+"/redfish/v1/EventService/Subscriptions", strings.NewReader(body))
	req.SetBasicAuth("admin", bmcPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("another client's subscription: %d", resp.StatusCode)
	}
	subs := sim.Subscriptions()
	return subs[len(subs)-1].ID
}

func hasSub(sim *simulator.Simulator, id string) bool {
	for _, s := range sim.Subscriptions() {
		if s.ID == id {
			return true
		}
	}
	return false
}

// The secret survives a crash: the agent restarted with the same key file
// keeps the subscription its predecessor left on the BMC (no shutdown
// deleted it) and events through it still pass; restarted with a new key
// file, it replaces it.
func TestEventsSurviveCrash(t *testing.T) {
	sim := startEventSim(t, 1)
	dir := t.TempDir()
	dbfile := filepath.Join(dir, "agent.db")
	node := seedNodes(t, dbfile, sim, "crash-node")[0]
	addr := stableAddr(t) // the event listener's, the same across restarts
	args := []string{"--database", dbfile, "--agent-id", "crash-ev", "--sync-interval", "1h", "--event-listen", addr,
		"--event-resync", "50ms", "--log-level", "debug", "--heartbeat-interval", "200ms", "--heartbeat-timeout", "2s"}
	e := &eventEnv{sim: sim, agent: "crash-ev"}

	first := startAgent(t, args...)
	first.waitLog(t, "listening for Redfish events") // with the agent's log if it failed
	s1 := e.waitSub(t, node, "created", func(_ simulator.Subscription, ok bool) bool { return ok })
	first.kill(t)
	if _, ok := e.ours()[node]; !ok {
		t.Fatal("the crash took the subscription with it")
	}

	second := startAgent(t, args...)
	second.waitLog(t, "listening for Redfish events")
	second.waitLog(t, "event subscription pass done")
	if s := e.ours()[node]; s.ID != s1.ID || len(e.ours()) != 1 {
		t.Fatalf("after a restart with the same key: %+v, was %+v", e.ours(), s1)
	}
	e.c = newAPIClient(t, second.URL)
	setPower(t, sim, sim.SystemIDs()[0], true)
	e.waitPower(t, node, "power on") // through the kept subscription: the sync is an hour away
	second.kill(t)

	if err := os.Remove(filepath.Join(dir, "bmc-agent-events.key")); err != nil {
		t.Fatal(err)
	}
	third := startAgent(t, args...)
	third.waitLog(t, "listening for Redfish events")
	s3 := e.waitSub(t, node, "replaced under the new key", func(s simulator.Subscription, ok bool) bool { return ok && s.ID != s1.ID })
	if len(e.ours()) != 1 || strings.Contains(s3.Context, strings.Split(s1.Context, "/")[3]) {
		t.Fatalf("after a restart with a new key: %+v (was %+v)", e.ours(), s1)
	}
	third.kill(t)
}

// stableAddr returns a free loopback address whose port lies below the
// kernel's ephemeral range: no listener on port 0 and no outgoing
// connection is given it meanwhile, so an agent can take it, die and take it
// again.
func stableAddr(t *testing.T) string {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				low = v
			}
		}
	}
	for range 100 {
		port := low - 1 - rand.IntN(min(low-1024, 10000))
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			addr := ln.Addr().String()
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}
