package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/simtest"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
)

// The fencing tests run real agents (the bmc-agent binary) on a real
// PostgreSQL, driving the project's Redfish simulator with its overlap
// witness on, and stall or cut off the agent holding a node's lock the way
// an operator's bad day would. Heartbeats are short (every 200ms, dead
// after 3s; the lease ends 750ms sooner) so that the scenarios take
// seconds; every wait below waits for a cause (a log line, a row, the
// simulator's state), never for a time.
var fenceHeartbeat = []string{"--heartbeat-interval", "200ms", "--heartbeat-timeout", "3s", "--sync-interval", "0"}

// fenceEnv is a simulator and a PostgreSQL database shared by the agents of
// one scenario.
type fenceEnv struct {
	sim *simulator.Simulator
	dsn string
	db  *sqlstore.DB
}

func newFenceEnv(t *testing.T, systems int, latency time.Duration) *fenceEnv {
	t.Helper()
	sim := simtest.Start(t, simulator.Config{Systems: systems, Username: "admin", Password: bmcPassword, PowerDelay: 100 * time.Millisecond})
	if err := sim.SetFleetFault(simulator.Fault{Latency: latency}); err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.DSN(t)
	return &fenceEnv{sim: sim, dsn: dsn, db: openStore(t, dsn)}
}

// createNode enrolls simulator system i as an available Redfish node that
// can be deployed.
func (e *fenceEnv) createNode(t *testing.T, c *apiClient, name string, i int, group string) (uuid, system string) {
	t.Helper()
	system = e.sim.SystemIDs()[i]
	v := c.version
	c.version = "1.10" // nodes created before 1.11 start available
	uuid = c.createNode(t, fmt.Sprintf(`{"name": %q, "driver": "redfish", "driver_info": {"redfish_address": %q, "redfish_system_id": %q,
		"redfish_username": "admin", "redfish_password": %q}, "instance_info": {"boot_iso": "http://127.0.0.1:9/deploy.iso"}}`,
		name, e.sim.Endpoint(system), system, bmcPassword))
	c.version = v
	if group != "" {
		c.must(t, http.StatusOK, "PATCH", "/v1/nodes/"+name, `[{"op": "add", "path": "/conductor_group", "value": "`+group+`"}]`)
	}
	return uuid, system
}

// node reads a node from the database, as a third program.
func (e *fenceEnv) node(t *testing.T, ident string) *store.Node {
	t.Helper()
	n, err := e.db.Node(context.Background(), ident)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitDB polls the database until cond holds for the node.
func (e *fenceEnv) waitDB(t *testing.T, ident, what string, cond func(n *store.Node) bool) *store.Node {
	t.Helper()
	return waitFor(t, "node "+ident+" never "+what, func() *store.Node { return e.node(t, ident) }, cond)
}

// checkEnd is the end of every scenario: no overlapping mutation on any
// system, the database's power state is the simulator's, and no node is
// locked or has a target left.
func (e *fenceEnv) checkEnd(t *testing.T, nodes map[string]string) {
	t.Helper()
	for name, system := range nodes {
		n := e.node(t, name)
		if o, _ := e.sim.Overlaps(system); o != 0 {
			log, _ := e.sim.RequestLog(system)
			t.Errorf("node %s: the simulator counted %d overlapping mutations: %+v", name, o, log)
		}
		simPower := map[simulator.PowerState]string{simulator.PowerOn: "power on", simulator.PowerOff: "power off"}[e.sim.System(system).PowerState()]
		if n.PowerState != simPower {
			t.Errorf("node %s: database says %q, the BMC %q", name, n.PowerState, simPower)
		}
		if n.Reservation != "" || n.TargetPowerState != "" || n.TargetProvisionState != "" {
			t.Errorf("node %s left locked or with a target: reservation %q target power %q target provision %q",
				name, n.Reservation, n.TargetPowerState, n.TargetProvisionState)
		}
		t.Logf("node %s at the end: %s, %s, last_error %q", name, n.PowerState, n.ProvisionState, n.LastError)
	}
	if agents, err := e.db.Agents(context.Background(), time.Minute); err == nil {
		t.Logf("agents: %+v", agents)
	}
}

// stallCase is one way the holder of a node's lock stops being able to
// prove it is alive while its BMC network still works.
type stallCase struct {
	name string
	// rate is the holder's lease clock rate ("1": real time).
	rate string
	// proxied puts the holder's database connection behind a proxy that
	// stall cuts.
	proxied bool
	stall   func(t *testing.T, a *agentProc, p *tcpProxy)
	resume  func(t *testing.T, a *agentProc, p *tcpProxy)
}

func sigstop(t *testing.T, a *agentProc, _ *tcpProxy) { a.signal(t, syscall.SIGSTOP) }
func sigcont(t *testing.T, a *agentProc, _ *tcpProxy) { a.signal(t, syscall.SIGCONT) }
func cutDB(_ *testing.T, _ *agentProc, p *tcpProxy)   { p.setCut(true) }
func restoreDB(_ *testing.T, _ *agentProc, p *tcpProxy) {
	p.setCut(false)
}

// Agent A deploys a node (InsertMedia, boot device, power on, each BMC
// request slowed down); A stalls past the heartbeat timeout after the ISO
// is in; agent B declares A dead, records the deploy as interrupted and
// unlocks the node, and is asked to power the node off; A comes back while
// B's power-off is in flight. A's lease ended before B's sweep could start
// (a margin earlier, whatever its clock's rate within the margin's bound),
// so A cancels its deploy and sends the BMC nothing more: the simulator
// counts no overlapping mutation, the database and the BMC agree, no lock
// or target is left, and last_error said what happened to the deploy.
func TestFencingStalledHolder(t *testing.T) {
	for _, sc := range []stallCase{
		{name: "sigstop", rate: "1", stall: sigstop, resume: sigcont},
		{name: "db-cut", rate: "1", proxied: true, stall: cutDB, resume: restoreDB},
		{name: "db-cut-slow-clock", rate: "0.8", proxied: true, stall: cutDB, resume: restoreDB},
		{name: "db-cut-fast-clock", rate: "1.5", proxied: true, stall: cutDB, resume: restoreDB},
	} {
		t.Run(sc.name, func(t *testing.T) { stallScenario(t, sc) })
	}
}

func stallScenario(t *testing.T, sc stallCase) {
	e := newFenceEnv(t, 1, 200*time.Millisecond)
	dsnA := e.dsn
	var proxy *tcpProxy
	if sc.proxied {
		u, _ := url.Parse(e.dsn)
		proxy = startProxy(t, u.Host)
		u.Host = proxy.addr()
		dsnA = u.String()
	}
	a := startAgent(t, append([]string{"--database", dsnA, "--agent-id", "agent-a", "--lease-clock-rate", sc.rate,
		"--db-timeout", "1s", "--log-level", "debug"}, fenceHeartbeat...)...)
	b := startAgent(t, append([]string{"--database", e.dsn, "--agent-id", "agent-b"}, fenceHeartbeat...)...)
	ca, cb := newAPIClient(t, a.URL), newAPIClient(t, b.URL)
	_, system := e.createNode(t, ca, "n1", 0, "")

	ca.must(t, http.StatusAccepted, "PUT", "/v1/nodes/n1/states/provision", `{"target": "active"}`)
	for deadline := time.Now().Add(time.Minute); !mediaIn(e.sim.System(system)); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the deploy never inserted its ISO; A's log:\n%s", a.stderr.String())
		}
	}
	sc.stall(t, a, proxy)
	stalled := true
	defer func() {
		if stalled {
			sc.resume(t, a, proxy)
		}
	}()

	// B sweeps A's lock once A's heartbeat is older than the timeout,
	// and records the deploy as interrupted (RecoverStale releases the
	// lock first, then takes it again to record that).
	n := e.waitDB(t, "n1", "swept by B", func(n *store.Node) bool {
		return n.Reservation == "" && n.ProvisionState == "deploy failed"
	})
	t.Logf("after B's sweep: %s, last_error %q", n.ProvisionState, n.LastError)
	if n.ProvisionState != "deploy failed" || !strings.Contains(n.LastError, "deploying") ||
		!strings.Contains(n.LastError, "interrupted: its agent agent-a stopped heartbeating") {
		t.Errorf("B's sweep recorded %s, last_error %q", n.ProvisionState, n.LastError)
	}
	b.waitLog(t, "released locks of dead agents")

	if sc.proxied {
		// A, cut off, knows it has no lease: it takes no work and is not
		// ready, saying why.
		a.waitLog(t, "lease lost")
		status, body, err := ca.do("PATCH", "/v1/nodes/n1", `[{"op": "add", "path": "/extra/x", "value": "y"}]`)
		if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(body, "This agent takes no work now: agent agent-a lost its lease") {
			t.Errorf("a request to A without its lease: %d %s (%v)", status, body, err)
		}
		status, body, err = ca.do("GET", "/readyz", "")
		if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(body, "not ready: agent agent-a lost its lease") {
			t.Errorf("A's /readyz without its lease: %d %s (%v)", status, body, err)
		}
		t.Logf("A without its lease answers: %s", body)
	}

	// B acts on the node; A comes back while B's power-off is in flight.
	cb.must(t, http.StatusAccepted, "PUT", "/v1/nodes/n1/states/power", `{"target": "power off"}`)
	sc.resume(t, a, proxy)
	stalled = false
	e.waitDB(t, "n1", "powered off by B", func(n *store.Node) bool {
		return n.Reservation == "" && n.TargetPowerState == "" && n.PowerState == "power off"
	})
	// A noticed, cancelled its deploy, and got its lease back.
	a.waitLog(t, "lease lost")
	a.waitLog(t, "lease regained")
	a.waitLog(t, "background work failed")
	t.Logf("A's deploy ended with: %s", lineWith(a.stderr.String(), "background work failed"))

	e.checkEnd(t, map[string]string{"n1": system})
	n = e.node(t, "n1")
	if n.ProvisionState != "deploy failed" || n.LastError != "" {
		// B's power-off succeeded and cleared last_error; A's outcome of
		// its cancelled deploy must not have overwritten B's.
		t.Errorf("final: %s, last_error %q", n.ProvisionState, n.LastError)
	}
	// A works again.
	ca.must(t, http.StatusAccepted, "PUT", "/v1/nodes/n1/states/power", `{"target": "power on"}`)
	e.waitDB(t, "n1", "powered on by A", func(n *store.Node) bool {
		return n.Reservation == "" && n.TargetPowerState == "" && n.PowerState == "power on"
	})
	e.checkEnd(t, map[string]string{"n1": system})
}

func mediaIn(s *simulator.System) bool {
	for _, m := range s.Media() {
		if m.Inserted {
			return true
		}
	}
	return false
}

func lineWith(log, s string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// A second agent started with a live agent's --agent-id refuses to start,
// naming the id and the live agent's last heartbeat, and touches nothing:
// the first agent's running power change completes, its lock is its own to
// release, and its row is unchanged.
func TestDuplicateAgentID(t *testing.T) {
	e := newFenceEnv(t, 1, 300*time.Millisecond)
	args := append([]string{"--database", e.dsn, "--agent-id", "twin"}, fenceHeartbeat...)
	a := startAgent(t, args...)
	ca := newAPIClient(t, a.URL)
	_, system := e.createNode(t, ca, "n1", 0, "")
	before, _ := e.db.Agents(context.Background(), time.Minute)
	ca.must(t, http.StatusAccepted, "PUT", "/v1/nodes/n1/states/power", `{"target": "power on"}`)
	if n := e.node(t, "n1"); n.Reservation != "twin" {
		t.Fatalf("the power change is not in flight: %+v", n)
	}

	dup := startAgentExit(t, args...)
	if dup.code == 0 || !strings.Contains(dup.stderr, `agent id "twin" is in use by a live agent`) || !strings.Contains(dup.stderr, "last heartbeat") {
		t.Fatalf("the duplicate exited %d: %s", dup.code, dup.stderr)
	}
	t.Logf("the duplicate said: %s", lineWith(dup.stderr, "in use"))

	e.waitDB(t, "n1", "powered on", func(n *store.Node) bool { return n.Reservation == "" && n.PowerState == "power on" })
	e.checkEnd(t, map[string]string{"n1": system})
	if n := e.node(t, "n1"); n.LastError != "" {
		t.Errorf("last_error %q: the first agent's work was disturbed", n.LastError)
	}
	after, _ := e.db.Agents(context.Background(), time.Minute)
	if len(before) != 1 || len(after) != 1 || !after[0].StartedAt.Equal(before[0].StartedAt) || !after[0].Alive {
		t.Errorf("agents before %+v, after %+v", before, after)
	}
	if strings.Contains(a.stderr.String(), "lease lost") {
		t.Errorf("the first agent lost its lease:\n%s", a.stderr.String())
	}
}

// exited is an agent process that ran to its end.
type exited struct {
	code   int
	stderr string
}

// startAgentExit runs `bmc-agent serve args...` expecting it to stop by
// itself.
func startAgentExit(t *testing.T, args ...string) exited {
	t.Helper()
	cmd := exec.Command(agentBinary(t), append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = agentEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	err := cmd.Start()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the agent did not stop by itself: %s", stderr.String())
	}
	return exited{code: cmd.ProcessState.ExitCode(), stderr: stderr.String()}
}

// An agent of group "a" refuses every action on a node of group "b" with
// Ironic's NoValidHost message, before any lock or BMC request; the agent
// of group "b" acts on it.
func TestWrongGroup(t *testing.T) {
	e := newFenceEnv(t, 1, 50*time.Millisecond)
	a := startAgent(t, append([]string{"--database", e.dsn, "--agent-id", "agent-a", "--group", "a"}, fenceHeartbeat...)...)
	b := startAgent(t, append([]string{"--database", e.dsn, "--agent-id", "agent-b", "--group", "B"}, fenceHeartbeat...)...)
	ca, cb := newAPIClient(t, a.URL), newAPIClient(t, b.URL)
	_, system := e.createNode(t, ca, "n1", 0, "b")
	for _, r := range []struct{ method, path, body string }{
		{"PUT", "/states/power", `{"target": "power on"}`},
		{"PUT", "/states/provision", `{"target": "active"}`},
		{"PUT", "/management/boot_device", `{"boot_device": "cdrom"}`},
		{"POST", "/vmedia", `{"device_type": "CDROM", "image_url": "http://127.0.0.1:9/x.iso"}`},
	} {
		status, body, err := ca.do(r.method, "/v1/nodes/n1"+r.path, r.body)
		if err != nil || status != http.StatusBadRequest || !strings.Contains(body, "No valid host was found") ||
			!strings.Contains(body, `for conductor group \\\"b\\\"`) || !strings.Contains(body, "agent-b") {
			t.Errorf("%s %s through the agent of group a: %d %s (%v)", r.method, r.path, status, body, err)
		}
	}
	if log, _ := e.sim.RequestLog(system); len(log) != 0 {
		t.Errorf("the BMC saw mutations from the wrong group: %+v", log)
	}
	n := e.node(t, "n1")
	if n.Reservation != "" || n.LastError != "" || n.ProvisionState != "available" {
		t.Errorf("node after the refusals: %+v", n)
	}
	cb.must(t, http.StatusAccepted, "PUT", "/v1/nodes/n1/states/power", `{"target": "power on"}`)
	e.waitDB(t, "n1", "powered on by B", func(n *store.Node) bool { return n.Reservation == "" && n.PowerState == "power on" })
	e.checkEnd(t, map[string]string{"n1": system})
	if n := e.node(t, "n1"); n.LastError != "" {
		t.Errorf("last_error %q", n.LastError)
	}
}

// tcpProxy forwards loopback connections to a target (PostgreSQL) until
// the test cuts it: then it closes every open connection and every new one.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

// setCut cuts (closing every open connection) or restores the link.
func (p *tcpProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}
