package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/simtest"
	"github.com/bmc-agent/bmc-agent/store"
)

// fleetGroup is a share of the fleet whose BMCs misbehave one way.
type fleetGroup struct {
	name  string
	count int
	fault simulator.Fault
	// timeout is the nodes' redfish_timeout ("" for the driver's default).
	timeout string
	// lastError is what each node's last_error must say; "" means the
	// node must end powered on.
	lastError []string
}

// 300 Redfish BMCs, each on its own port, powered on through the API by 8
// clients, with a worker pool smaller than the fleet: a share of the BMCs
// are slow, answer 500 or 503, hang, or cannot be reached. Every other node
// is done while every hung one is still waiting for its BMC (so hung BMCs
// held only their own workers); the bad ones end with a last_error naming
// their failure; no node stays locked; and no BMC saw two mutations at once.
//
// The test asserts on causes, not on how fast the machine is: the hung
// BMCs never answer and their nodes' timeouts are longer than any test
// run, so they are still waiting when the others are done by construction,
// not by a margin; a few more hung BMCs with a short timeout show that a
// hang ends as "BMC timed out"; the long-hung ones are released by closing
// the simulator.
func TestFleetPowerOnWithBadBMCs(t *testing.T) {
	groups := []fleetGroup{
		// A hung BMC holds each request until the driver gives up after
		// redfish_timeout: not within a test run (10m) for these.
		{name: "hung", count: 20, fault: simulator.Fault{HangRate: 1}, timeout: "10m"},
		{name: "timeout", count: 3, fault: simulator.Fault{HangRate: 1}, timeout: "1s",
			lastError: []string{"BMC timed out"}},
		{name: "500", count: 6, fault: simulator.Fault{ErrorRate: 1, ErrorStatus: 500},
			lastError: []string{"BMC failed", "500 Internal Server Error"}},
		{name: "503", count: 6, fault: simulator.Fault{ErrorRate: 1, ErrorStatus: 503},
			lastError: []string{"BMC failed", "503 Service Unavailable"}},
		{name: "unreachable", count: 15, fault: simulator.Fault{Unreachable: true},
			lastError: []string{"BMC unreachable", "connection reset"}},
		{name: "slow", count: 30, fault: simulator.Fault{Latency: 100 * time.Millisecond, Jitter: 50 * time.Millisecond}},
		{name: "healthy", count: 220},
	}
	total := 0
	for _, g := range groups {
		total += g.count
	}
	hung := groups[0].count
	newSim := func(n int) *simulator.Simulator {
		return simtest.Start(t, simulator.Config{Systems: n, PortPerSystem: true, Username: "admin", Password: bmcPassword})
	}
	// The long-hung BMCs have a simulator of their own, closed to release
	// them; they never answered, so the driver holds no session there.
	hangSim, sim := newSim(hung), newSim(total-hung)
	rf := redfish.New(redfish.Options{PollInterval: 20 * time.Millisecond, MaxPollInterval: 100 * time.Millisecond,
		PowerTimeout: time.Hour, MaxRetries: 1, RetryBackoff: 50 * time.Millisecond})
	e := newEnv(t, envOptions{workers: 60, drivers: []drivers.Driver{rf}, callTimeout: time.Hour})

	groupOf := map[string]*fleetGroup{} // node name -> group
	system := map[string]string{}       // node name -> system id
	var names []string                  // bad BMCs first
	ids := sim.SystemIDs()
	for gi := range groups {
		g := &groups[gi]
		gsim := sim
		if gi == 0 {
			gsim, ids = hangSim, append(hangSim.SystemIDs(), ids...)
		}
		for i := 0; i < g.count; i++ {
			id := ids[0]
			ids = ids[1:]
			name := fmt.Sprintf("%s-%02d", g.name, i)
			info := store.JSON{redfish.InfoAddress: gsim.Endpoint(id), redfish.InfoUsername: "admin", redfish.InfoPassword: bmcPassword}
			if g.timeout != "" {
				info[redfish.InfoTimeout] = g.timeout
			}
			if err := e.db.CreateNode(context.Background(), &store.Node{Name: name, Driver: "redfish", DriverInfo: info, ProvisionState: "manageable"}); err != nil {
				t.Fatal(err)
			}
			if !g.fault.IsZero() {
				if err := gsim.SetFault(id, g.fault); err != nil {
					t.Fatal(err)
				}
			}
			groupOf[name], system[name] = g, id
			names = append(names, name)
		}
	}

	// Watch the fleet: the poll at which each node was first seen done, in
	// a poll that started after its power change was accepted (a change
	// refused for want of a worker also leaves the node unlocked with a
	// last_error, and is retried).
	var mu sync.Mutex
	polls := 0
	accepted := map[string]int{} // node -> polls started before its 202
	done := map[string]int{}
	var nodes map[string]map[string]any
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			mu.Lock()
			polls++
			poll := polls
			mu.Unlock()
			resp, b := call(t, "GET", e.URL+"/v1/nodes?fields=name,power_state,target_power_state,last_error,reservation&limit=1000", "1.89", "")
			var list struct{ Nodes []map[string]any }
			if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &list) != nil {
				t.Errorf("list nodes: %d %s", resp.StatusCode, b)
				return
			}
			mu.Lock()
			nodes = map[string]map[string]any{}
			for _, n := range list.Nodes {
				name := n["name"].(string)
				nodes[name] = n
				acc, ok := accepted[name]
				if _, seen := done[name]; !seen && ok && poll > acc && n["reservation"] == nil && n["target_power_state"] == nil {
					done[name] = poll
				}
			}
			finished := len(done) == total-hung
			mu.Unlock()
			if finished {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	// Eight clients power the fleet on, bad BMCs first; with no free
	// worker they retry.
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := c; i < len(names); i += 8 {
				for {
					resp, b := call(t, "PUT", e.URL+"/v1/nodes/"+names[i]+"/states/power", "1.89", `{"target": "power on"}`)
					if resp.StatusCode == http.StatusAccepted {
						mu.Lock()
						accepted[names[i]] = polls
						mu.Unlock()
						break
					}
					if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(faultString(t, b), "No free worker") {
						t.Errorf("power on %s: %d %s", names[i], resp.StatusCode, b)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}(c)
	}
	wg.Wait()
	select {
	case <-watched:
	case <-time.After(3 * time.Minute):
		close(stop)
		<-watched
		t.Fatalf("after three minutes %d of %d nodes are done", len(done), total-hung)
	}
	// Every other node is done; the hung ones still hold their workers,
	// waiting for BMCs that never answer.
	resp, b := call(t, "GET", e.URL+"/v1/nodes?fields=name,target_power_state,last_error,reservation&limit=1000", "1.89", "")
	var list struct{ Nodes []map[string]any }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &list) != nil {
		t.Fatalf("list nodes: %d %s", resp.StatusCode, b)
	}
	for _, n := range list.Nodes {
		if groupOf[n["name"].(string)].name == "hung" && (n["reservation"] == nil || n["target_power_state"] != "power on" || n["last_error"] != nil) {
			t.Errorf("hung %s is not waiting for its BMC: %v", n["name"], n)
		}
	}
	// Release them: closing their simulator drops their connections.
	hangSim.Close()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		_, b := call(t, "GET", e.URL+"/v1/nodes?fields=name,power_state,target_power_state,last_error,reservation&limit=1000", "1.89", "")
		var list struct{ Nodes []map[string]any }
		json.Unmarshal(b, &list)
		busy := 0
		for _, n := range list.Nodes {
			nodes[n["name"].(string)] = n
			if n["reservation"] != nil || n["target_power_state"] != nil {
				busy++
			}
		}
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after the simulator closed, %d nodes are still busy", busy)
		}
	}

	for name, g := range groupOf {
		n := nodes[name]
		if n["reservation"] != nil {
			t.Errorf("%s is still locked: %v", name, n)
		}
		le, _ := n["last_error"].(string)
		switch {
		case g.name == "hung":
			if le == "" {
				t.Errorf("%s: released hung BMC left no last_error: %v", name, n)
			}
		case g.lastError == nil:
			if n["power_state"] != "power on" || le != "" || sim.System(system[name]).PowerState() != simulator.PowerOn {
				t.Errorf("%s (%s BMC): %v, simulator %s", name, g.name, n, sim.System(system[name]).PowerState())
			}
		default:
			for _, want := range g.lastError {
				if !strings.Contains(le, want) {
					t.Errorf("%s (%s BMC): last_error %q does not say %q", name, g.name, le, want)
				}
			}
		}
		if strings.Contains(le, bmcPassword) {
			t.Errorf("%s: last_error shows the password", name)
		}
		if g.name == "hung" {
			continue
		}
		if o, err := sim.Overlaps(system[name]); err != nil || o != 0 {
			t.Errorf("%s: %d overlapping mutations on its BMC (%v)", name, o, err)
		}
	}
	for _, g := range groups[:5] {
		t.Logf("%s BMC: %s", g.name, nodes[g.name+"-00"]["last_error"])
	}
	t.Logf("%d spawns refused for want of a worker", e.tm.Stats().Rejected)
}
