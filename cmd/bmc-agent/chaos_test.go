package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/store"
)

// chaosAgent is one agent of the randomized test: its process (restarted
// at times), its database link behind a proxy, and what the test did to it.
type chaosAgent struct {
	id      string
	args    []string
	proc    *agentProc
	client  *apiClient
	proxy   *tcpProxy
	stopped bool      // SIGSTOP sent, SIGCONT not yet
	cut     bool      // database link cut
	until   time.Time // when to undo the stop or the cut
}

// Three agents on one PostgreSQL database drive four simulated BMCs while
// the test, from a seeded random sequence, sends them power, boot device,
// deploy and undeploy requests and stops (SIGSTOP), cuts off from the database, or kills and
// restarts them, for stalls on both sides of the heartbeat timeout. Safety
// is all that is asserted, and it must hold whatever the load: no BMC ever
// sees two mutations at once, and once the faults end every node settles
// unlocked, without a target, with the database's power state the BMC's (the
// power-state sync records what an interrupted operation left). Set
// BMC_AGENT_CHAOS_SEED to replay a run; the seed is logged.
func TestFencingRandomized(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("BMC_AGENT_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (BMC_AGENT_CHAOS_SEED=%d replays it)", seed, seed)
	// Deploys and undeploys strand nodes in deploying/deleting through two
	// lifecycle bugs of issue 18 that this branch does not fix (a failed
	// final save of a provisioning worker, bug 1; the stale-lock sweep
	// releasing before it records the interruption, bug 4): until they are
	// fixed, BMC_AGENT_CHAOS_PROVISION=1 adds them to the mix.
	provision := os.Getenv("BMC_AGENT_CHAOS_PROVISION") == "1"
	if !provision {
		t.Log("deploy and undeploy requests are off (issue 18, bugs 1 and 4); BMC_AGENT_CHAOS_PROVISION=1 turns them on")
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	const nodes, steps = 4, 80
	const timeout = time.Second
	e := newFenceEnv(t, nodes, 0)
	if err := e.sim.SetFleetFault(simulator.Fault{Latency: 20 * time.Millisecond, Jitter: 40 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	agents := make([]*chaosAgent, 3)
	for i := range agents {
		u, _ := url.Parse(e.dsn)
		p := startProxy(t, u.Host)
		u.Host = p.addr()
		a := &chaosAgent{id: fmt.Sprintf("chaos-%d", i), proxy: p}
		a.args = []string{"--database", u.String(), "--agent-id", a.id, "--db-timeout", "500ms",
			"--heartbeat-interval", "100ms", "--heartbeat-timeout", timeout.String(), "--sync-interval", "300ms",
			"--lock-attempts", "1"}
		a.start(t)
		agents[i] = a
	}
	systems := map[string]string{}
	for i := range nodes {
		name := fmt.Sprintf("c%d", i)
		_, systems[name] = e.createNode(t, agents[0].client, name, i, "")
	}
	defer func() {
		for _, a := range agents {
			a.undo(t)
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			for _, a := range agents {
				t.Logf("%s's log:\n%s", a.id, a.proc.stderr.String())
			}
		}
	})

	counts := map[string]int{}
	for step := range steps {
		now := time.Now()
		for _, a := range agents {
			if !a.until.IsZero() && now.After(a.until) {
				a.undo(t)
			}
		}
		a := agents[rng.IntN(len(agents))]
		node := fmt.Sprintf("c%d", rng.IntN(nodes))
		// A stall lasts from a fifth of the timeout to twice it.
		stall := timeout/5 + time.Duration(rng.Int64N(int64(2*timeout)))
		switch r := rng.IntN(22); {
		case r >= 20:
			if a.stopped || !provision {
				break
			}
			target := []string{"active", "deleted"}[rng.IntN(2)]
			status, _, _ := a.client.do("PUT", "/v1/nodes/"+node+"/states/provision", `{"target": "`+target+`"}`)
			counts[fmt.Sprintf("provision %d", status)]++
		case r < 12:
			if a.stopped {
				break
			}
			target := []string{"power on", "power off", "rebooting"}[rng.IntN(3)]
			status, body, err := a.client.do("PUT", "/v1/nodes/"+node+"/states/power", `{"target": "`+target+`"}`)
			counts[fmt.Sprintf("power %d", status)]++
			if status == http.StatusBadRequest {
				t.Errorf("power %s: %s", target, body)
			}
			if err != nil && !a.cut {
				t.Logf("step %d: %s power %s: %v", step, a.id, target, err)
			}
		case r < 15:
			if a.stopped {
				break
			}
			dev := []string{"pxe", "disk", "cdrom"}[rng.IntN(3)]
			status, _, _ := a.client.do("PUT", "/v1/nodes/"+node+"/management/boot_device", `{"boot_device": "`+dev+`"}`)
			counts[fmt.Sprintf("boot %d", status)]++
		case r < 17:
			if !a.stopped && a.until.IsZero() {
				a.proc.signal(t, syscall.SIGSTOP)
				a.stopped, a.until = true, now.Add(stall)
				counts["sigstop"]++
			}
		case r < 19:
			if !a.cut && a.until.IsZero() {
				a.proxy.setCut(true)
				a.cut, a.until = true, now.Add(stall)
				counts["db cut"]++
			}
		case r == 19:
			if a.until.IsZero() {
				a.proc.kill(t)
				a.start(t)
				counts["restart"]++
			}
		}
		time.Sleep(time.Duration(20+rng.IntN(80)) * time.Millisecond)
	}
	for _, a := range agents {
		a.undo(t)
	}
	t.Logf("requests and faults: %v", counts)

	// Settle: every node unlocked, without a target, its power state the
	// BMC's.
	for name, system := range systems {
		e.waitDB(t, name, "settled", func(n *store.Node) bool {
			return n.Reservation == "" && n.TargetPowerState == "" && n.TargetProvisionState == "" &&
				n.PowerState == map[simulator.PowerState]string{simulator.PowerOn: "power on", simulator.PowerOff: "power off"}[e.sim.System(system).PowerState()]
		})
	}
	e.checkEnd(t, systems)
	total := int64(0)
	for _, system := range systems {
		o, _ := e.sim.Overlaps(system)
		total += o
		log, _ := e.sim.RequestLog(system)
		counts["mutations"] += len(log)
	}
	t.Logf("BMC mutations %d, overlapping %d", counts["mutations"], total)
	if counts["mutations"] == 0 {
		t.Error("no request reached a BMC: the test tested nothing")
	}
}

// start starts (or restarts) the agent's process.
func (a *chaosAgent) start(t *testing.T) {
	t.Helper()
	a.proc = startAgent(t, a.args...)
	a.client = newAPIClient(t, a.proc.URL)
	a.client.c.Timeout = 10 * time.Second
}

// undo ends the agent's stall or cut.
func (a *chaosAgent) undo(t *testing.T) {
	t.Helper()
	if a.stopped {
		a.proc.signal(t, syscall.SIGCONT)
	}
	if a.cut {
		a.proxy.setCut(false)
	}
	a.stopped, a.cut, a.until = false, false, time.Time{}
}
