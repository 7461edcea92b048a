package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/simulator"
)

// nodeTelemetry is what the events tests read of GET
// /v1/nodes/{node}/telemetry.
type nodeTelemetry struct {
	BMC struct {
		State string `json:"state"`
	} `json:"bmc"`
	Readings *struct {
		Health string `json:"health"`
	} `json:"readings"`
}

func (e *eventEnv) telemetry(t testing.TB, node string) nodeTelemetry {
	t.Helper()
	var doc nodeTelemetry
	if err := json.Unmarshal([]byte(e.c.must(t, http.StatusOK, "GET", "/v1/nodes/"+node+"/telemetry", "")), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// metrics scrapes the agent's /metrics (text exposition).
func (e *eventEnv) metrics(t testing.TB) string {
	t.Helper()
	resp, err := e.c.c.Get(e.c.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

// healthSeries is the bmc_health line of a node in a scrape ("" if none).
func healthSeries(scrape, node string) string {
	for _, l := range strings.Split(scrape, "\n") {
		if strings.HasPrefix(l, "bmc_health{") && strings.Contains(l, `node_uuid="`+node+`"`) {
			return l
		}
	}
	return ""
}

// delivered is how many events the simulator has delivered to the agent's
// subscription for node.
func (e *eventEnv) delivered(node string) int64 { return e.ours()[node].Delivered }

// The seam between events and telemetry, through the agent: with the power
// sync and the telemetry cycle an hour away, a part failing on the
// simulator sends a health event, and the event alone puts the node into
// maintenance with fault "health failure" and shows the Critical rollup in
// /metrics and in the node's telemetry; the part repaired, the next event
// takes the node out of the maintenance the agent set.
func TestEventsHealthReachesTelemetry(t *testing.T) {
	sim := startEventSim(t, 1)
	e := startEventAgent(t, sim, "evtel-agent", []string{"evtel-node"}, "--sync-interval", "1h", "--event-listen", "127.0.0.1:0",
		"--event-resync", "1h", "--telemetry-interval", "1h")
	node, system := str(e.c.node(t, "evtel-node"), "uuid"), sim.SystemIDs()[0]
	e.waitSub(t, node, "created", func(_ simulator.Subscription, ok bool) bool { return ok })
	// The collector's first cycle reads the node at start (a single node
	// starts at once) and the next is an hour away: from here on only an
	// event reads it.
	first := waitFor(t, "the first telemetry read never came", func() nodeTelemetry { return e.telemetry(t, node) },
		func(d nodeTelemetry) bool { return d.Readings != nil })
	if first.BMC.State != "up" || first.Readings.Health != "OK" {
		t.Fatalf("first read: %+v", first)
	}
	if l := healthSeries(e.metrics(t), node); !strings.HasSuffix(l, " 1") {
		t.Fatalf("bmc_health before the failure: %q", l)
	}

	sent := e.delivered(node)
	if err := sim.System(system).SetPartHealth("PSU1", simulator.HealthCritical); err != nil {
		t.Fatal(err)
	}
	n := e.c.waitNode(t, node, "went into maintenance for the Critical health", func(n map[string]any) bool {
		return n["maintenance"] == true
	})
	if str(n, "fault") != "health failure" || !strings.Contains(str(n, "maintenance_reason"), "Critical") {
		t.Fatalf("node after the Critical event: fault %q, reason %q", str(n, "fault"), str(n, "maintenance_reason"))
	}
	if got := e.delivered(node); got <= sent {
		t.Fatalf("the node went into maintenance with no event delivered (%d, was %d)", got, sent)
	}
	if d := e.telemetry(t, node); d.Readings == nil || d.Readings.Health != "Critical" || d.BMC.State != "up" {
		t.Fatalf("telemetry after the Critical event: %+v", d)
	}
	if l := healthSeries(e.metrics(t), node); !strings.HasSuffix(l, " 3") {
		t.Fatalf("bmc_health after the Critical event: %q", l)
	}

	sent = e.delivered(node)
	if err := sim.System(system).SetPartHealth("PSU1", simulator.HealthOK); err != nil {
		t.Fatal(err)
	}
	n = e.c.waitNode(t, node, "left the maintenance the Critical health set", func(n map[string]any) bool {
		return n["maintenance"] == false
	})
	if str(n, "fault") != "" || str(n, "maintenance_reason") != "" {
		t.Fatalf("node after the OK event: fault %q, reason %q", str(n, "fault"), str(n, "maintenance_reason"))
	}
	if got := e.delivered(node); got <= sent {
		t.Fatalf("the node left maintenance with no event delivered (%d, was %d)", got, sent)
	}
	if d := e.telemetry(t, node); d.Readings == nil || d.Readings.Health != "OK" {
		t.Fatalf("telemetry after the OK event: %+v", d)
	}
	if l := healthSeries(e.metrics(t), node); !strings.HasSuffix(l, " 1") {
		t.Fatalf("bmc_health after the OK event: %q", l)
	}
}

// A node the agent comes to own after start gets its event subscription
// and its first telemetry read at the next new-node check, not an
// --event-resync and a --telemetry-interval (both an hour here) later: one
// created available, and one taken out of enroll (which has neither while
// in enroll).
func TestNewNodeSubscribedAndRead(t *testing.T) {
	sim := startEventSim(t, 3)
	e := startEventAgent(t, sim, "new-agent", []string{"old-node"}, "--sync-interval", "1h", "--event-listen", "127.0.0.1:0",
		"--event-resync", "1h", "--telemetry-interval", "1h", "--new-node-interval", "20ms")
	old := str(e.c.node(t, "old-node"), "uuid")
	// The reconciler's first pass and the collector's first cycle have
	// listed the nodes: nothing but the new-node check looks again for an
	// hour.
	e.waitSub(t, old, "created", func(_ simulator.Subscription, ok bool) bool { return ok })
	waitFor(t, "old-node never read", func() nodeTelemetry { return e.telemetry(t, old) }, func(d nodeTelemetry) bool { return d.Readings != nil })

	// Created in enroll (the API's latest version), then one available.
	status, out, err := e.c.do("POST", "/v1/nodes", fmt.Sprintf(`{"name": "enroll-node", "driver": "redfish", "driver_info": {"redfish_address": %q,
		"redfish_system_id": %q, "redfish_username": "admin", "redfish_password": %q}}`, sim.URL(), sim.SystemPath(sim.SystemIDs()[1]), bmcPassword))
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create node: %d %s %v", status, out, err)
	}
	enrolled := str(e.c.node(t, "enroll-node"), "uuid")
	fresh, _ := e.enroll(t, "new-node", 2)

	e.waitSub(t, fresh, "created for a new node", func(_ simulator.Subscription, ok bool) bool { return ok })
	waitFor(t, "new-node never read", func() nodeTelemetry { return e.telemetry(t, fresh) }, func(d nodeTelemetry) bool { return d.Readings != nil })
	// The check that found new-node saw enroll-node too, and left it.
	if _, ok := e.ours()[enrolled]; ok {
		t.Fatal("a node in enroll was subscribed")
	}
	if d := e.telemetry(t, enrolled); d.Readings != nil || d.BMC.State != "unknown" {
		t.Fatalf("a node in enroll was read: %+v", d)
	}

	e.c.must(t, http.StatusAccepted, "PUT", "/v1/nodes/enroll-node/states/provision", `{"target": "manage"}`)
	e.waitSub(t, enrolled, "created for a node taken out of enroll", func(_ simulator.Subscription, ok bool) bool { return ok })
	waitFor(t, "enroll-node never read once manageable", func() nodeTelemetry { return e.telemetry(t, enrolled) },
		func(d nodeTelemetry) bool { return d.Readings != nil })
	if len(e.ours()) != 3 {
		t.Fatalf("subscriptions: %+v", sim.Subscriptions())
	}
}

// With the telemetry collector off, a health event still reaches the
// listener and costs one power-state read, nothing more: no fault, no
// maintenance, no read repeated (the listener keeps taking events: a power
// change after it shows at once).
func TestHealthEventWithoutTelemetry(t *testing.T) {
	sim := startEventSim(t, 1)
	e := startEventAgent(t, sim, "notel-agent", []string{"notel-node"}, "--sync-interval", "1h", "--event-listen", "127.0.0.1:0",
		"--event-resync", "1h") // --telemetry-interval 0: startEventAgent's
	node, system := str(e.c.node(t, "notel-node"), "uuid"), sim.SystemIDs()[0]
	e.waitSub(t, node, "created", func(_ simulator.Subscription, ok bool) bool { return ok })

	sent := e.delivered(node)
	if err := sim.System(system).SetPartHealth("PSU1", simulator.HealthCritical); err != nil {
		t.Fatal(err)
	}
	// The agent answered the event (a delivery counts once it did).
	waitFor(t, "the health event was never delivered", func() int64 { return e.delivered(node) }, func(n int64) bool { return n > sent })
	setPower(t, sim, system, true)
	e.waitPower(t, node, "power on")

	// Two more changes cost the same: nothing else reads the BMC. (A
	// change before them lets a read the health event queued end first.)
	setPower(t, sim, system, false)
	e.waitPower(t, node, "power off")
	var cost [2]int64
	for i, on := range []bool{true, false} {
		before := sim.Requests()
		setPower(t, sim, system, on)
		e.waitPower(t, node, map[bool]string{true: "power on", false: "power off"}[on])
		cost[i] = sim.Requests() - before
	}
	if cost[0] != cost[1] || cost[0] == 0 {
		t.Fatalf("two power events cost %v requests: something else reads the BMC", cost)
	}
	n := e.c.node(t, node)
	if n["maintenance"] != false || str(n, "fault") != "" || str(n, "last_error") != "" {
		t.Fatalf("after a health event without telemetry: maintenance %v, fault %q, last_error %q", n["maintenance"], str(n, "fault"), str(n, "last_error"))
	}
	if d := e.telemetry(t, node); d.Readings != nil {
		t.Fatalf("telemetry without a collector: %+v", d)
	}
}

// The new-node check hands on only nodes that appeared since the last
// check, none on the first (the first pass and cycle cover those), and at
// most maxNewNodes at once: a bulk import is left to the regular passes.
func TestNewNodesCheck(t *testing.T) {
	var owned []string
	var handed [][]string
	w := &newNodes{owned: func(context.Context) ([]string, error) { return owned, nil }, log: slog.New(slog.DiscardHandler),
		handle: []func(context.Context, []string){func(_ context.Context, ids []string) { handed = append(handed, ids) }}}
	ctx := context.Background()
	owned = []string{"a", "b"}
	seen := w.check(ctx, nil)
	owned = []string{"a", "b", "c"}
	seen = w.check(ctx, seen)
	if len(handed) != 1 || !slices.Equal(handed[0], []string{"c"}) {
		t.Fatalf("handed %v, want only c", handed)
	}
	for i := range maxNewNodes + 8 {
		owned = append(owned, fmt.Sprint("bulk-", i))
	}
	owned = slices.DeleteFunc(owned, func(id string) bool { return id == "a" })
	seen = w.check(ctx, seen)
	if len(handed) != 2 || len(handed[1]) != maxNewNodes || handed[1][0] != "bulk-0" {
		t.Fatalf("a bulk import handed %d nodes, want %d", len(handed[1]), maxNewNodes)
	}
	// Nothing new (a node gone is not new): nothing handed; one back is.
	seen = w.check(ctx, seen)
	owned = append(owned, "a")
	w.check(ctx, seen)
	if len(handed) != 3 || !slices.Equal(handed[2], []string{"a"}) {
		t.Fatalf("handed %v", handed[2:])
	}
}
