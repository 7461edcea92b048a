package simulator

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stmcginnis/gofish/redfish"
)

func TestFaultLatencyIsObserved(t *testing.T) {
	const latency = 150 * time.Millisecond
	sim := startSim(t, Config{Systems: 2})
	ids := sim.SystemIDs()
	if err := sim.SetFault(ids[0], Fault{Latency: latency, Jitter: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, sim.URL())
	start := time.Now()
	c.get(systemsPath + "/" + ids[0])
	if took := time.Since(start); took < latency {
		t.Fatalf("GET took %v with %v latency injected", took, latency)
	}
	// Fleet-wide latency, and a system whose own zero fault exempts it.
	if err := sim.SetFleetFault(Fault{Latency: latency}); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetFault(ids[1], Fault{}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	c.get(systemsPath)
	if took := time.Since(start); took < latency {
		t.Fatalf("fleet GET took %v with %v fleet latency", took, latency)
	}
	if got := sim.System(ids[1]).Fault(); !got.IsZero() {
		t.Fatalf("own zero fault not in effect: %+v", got)
	}
}

func TestFaultErrorStatusWithRetryAfter(t *testing.T) {
	for _, status := range []int{503, 500} {
		sim := startSim(t, Config{Systems: 1, Fault: Fault{ErrorRate: 1, ErrorStatus: status, RetryAfter: 2 * time.Second}})
		id := sim.SystemIDs()[0]
		c := newClient(t, sim.URL())
		st, hdr, body := c.do(http.MethodPost, systemsPath+"/"+id+"/Actions/ComputerSystem.Reset", map[string]string{"ResetType": "On"}, nil)
		if st != status || hdr.Get("Retry-After") != "2" || !strings.HasPrefix(messageID(body), registryPrefix) {
			t.Fatalf("status %d Retry-After %q body %v, want %d with Retry-After 2", st, hdr.Get("Retry-After"), body, status)
		}
		if sim.System(id).PowerState() != PowerOff {
			t.Fatal("a request answered with an injected error was acted upon")
		}
		if log := sim.System(id).RequestLog(); len(log) != 1 || log[0].Result != status {
			t.Fatalf("request log %+v", log)
		}
	}
}

func TestFaultHangUntilClientGivesUp(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	id := sim.SystemIDs()[0]
	_ = sim.SetFault(id, Fault{HangRate: 1})
	c := newClient(t, sim.URL())
	c.hc.Timeout = 200 * time.Millisecond
	req, _ := http.NewRequest(http.MethodGet, sim.SystemURL(id), nil)
	req.SetBasicAuth("admin", "password")
	start := time.Now()
	_, err := c.hc.Do(req)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("hung request: %v, want a client timeout", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Fatalf("gave up after %v", took)
	}
	// The handler lets go once the client is gone.
	for deadline := time.Now().Add(5 * time.Second); sim.inflight.Load() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("hung handler still running after the client left")
		}
	}
}

func TestFaultHangReleasedByClose(t *testing.T) {
	sim, err := New(Config{Systems: 1, Fault: Fault{HangRate: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, sim.URL())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, sim.SystemURL(sim.SystemIDs()[0]), nil)
		_, err := c.hc.Do(req)
		done <- err
	}()
	for sim.inflight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	_ = sim.Close()
	if err := <-done; err == nil {
		t.Fatal("a hung request got an answer")
	}
}

func TestFaultDroppedConnection(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	id := sim.SystemIDs()[0]
	_ = sim.SetFault(id, Fault{DropRate: 1})
	c := connect(t, sim.URL(), "admin", "password", false) // the root is fine
	_, err := redfish.GetComputerSystem(c, sim.SystemPath(id))
	if err == nil || statusOf(err) != 0 {
		t.Fatalf("GET on a dropping BMC: %v, want a transport error", err)
	}
	raw := newClient(t, sim.URL())
	req, _ := http.NewRequest(http.MethodPost, sim.SystemURL(id)+"/Actions/ComputerSystem.Reset", strings.NewReader(`{"ResetType":"On"}`))
	req.SetBasicAuth("admin", "password")
	if _, err := raw.hc.Do(req); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("POST on a dropping BMC: %v, want EOF", err)
	}
	if sim.System(id).PowerState() != PowerOff {
		t.Fatal("a dropped request was acted upon")
	}
}

func TestFaultRefusedLogin(t *testing.T) {
	sim := startSim(t, Config{Systems: 1, Fault: Fault{RefuseLogin: true}})
	c := newClient(t, sim.URL())
	c.get(v1 + "/") // the public root still answers
	if st, _, _ := c.do(http.MethodGet, systemsPath, nil, nil); st != 401 {
		t.Fatalf("basic with good credentials: %d, want 401", st)
	}
	if st, _, _ := c.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "admin", "Password": "password"}, nil); st != 401 {
		t.Fatalf("login: %d, want 401", st)
	}
	_ = sim.SetFleetFault(Fault{})
	c.get(systemsPath)
}

func TestFaultUnreachable(t *testing.T) {
	sim := startSim(t, Config{Systems: 2, PortPerSystem: true})
	ids := sim.SystemIDs()
	_ = sim.SetFault(ids[0], Fault{Unreachable: true})
	for _, url := range []string{sim.URL() + sim.SystemPath(ids[0]), sim.SystemURL(ids[0])} {
		c := newClient(t, url)
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.SetBasicAuth("admin", "password")
		_, err := c.hc.Do(req)
		if err == nil {
			t.Fatalf("GET %s on an unreachable BMC succeeded", url)
		}
	}
	newClient(t, sim.Endpoint(ids[1])).get(sim.SystemPath(ids[1]))
	sim.System(ids[0]).ClearFault()
	newClient(t, sim.Endpoint(ids[0])).get(sim.SystemPath(ids[0]))
}

// TestWitnessSeesConcurrentMutations is what the agent's locking tests do:
// unlocked concurrent mutations of one BMC are counted, serial ones are not.
func TestWitnessSeesConcurrentMutations(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	id := sim.SystemIDs()[0]
	const latency = 250 * time.Millisecond // wide enough that three concurrent requests surely overlap
	_ = sim.SetFault(id, Fault{Latency: latency})
	c := newClient(t, sim.URL())
	reset := func(kind string) {
		if st, _, body := c.do(http.MethodPost, systemsPath+"/"+id+"/Actions/ComputerSystem.Reset", map[string]string{"ResetType": kind}, nil); st != 204 {
			t.Errorf("reset: %d %v", st, body)
		}
	}
	reset("On")
	reset("ForceOff")
	if n, _ := sim.Overlaps(id); n != 0 {
		t.Fatalf("serial resets overlapped %d times", n)
	}
	var wg sync.WaitGroup
	for _, k := range []string{"On", "ForceOff", "On"} {
		wg.Add(1)
		go func() { defer wg.Done(); reset(k) }()
	}
	wg.Wait()
	n, _ := sim.Overlaps(id)
	if n < 1 {
		t.Fatalf("concurrent resets overlapped %d times, want at least 1", n)
	}
	log, _ := sim.RequestLog(id)
	overlapped := 0
	for _, e := range log {
		if e.Overlapped {
			overlapped++
		}
		if e.Op != "Reset" || e.Face != "redfish" || e.Duration < latency {
			t.Errorf("entry %+v", e)
		}
	}
	if len(log) != 5 || overlapped < 2 {
		t.Fatalf("log %+v", log)
	}
}
