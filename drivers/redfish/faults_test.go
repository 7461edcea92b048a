package redfish_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// waits records the retry waits a driver asks for and runs then (before
// the next try) when set; it never sleeps.
type waits struct {
	mu   sync.Mutex
	got  []time.Duration
	then func()
}

func (w *waits) install(d *redfish.Driver) {
	redfish.SetSleep(d, func(ctx context.Context, wait time.Duration) error {
		w.mu.Lock()
		w.got = append(w.got, wait)
		then := w.then
		w.mu.Unlock()
		if then != nil {
			then()
		}
		return ctx.Err()
	})
}

func (w *waits) list() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

func TestLatency(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	d := newDriver(t, fastOptions())
	if err := sim.SetFault(id, simulator.Fault{Latency: 40 * time.Millisecond, Jitter: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	n := simNode(sim, id, nil)
	if err := d.SetPowerState(ctx(t), n, drivers.ActionPowerOn, 0); err != nil {
		t.Fatalf("power on a slow BMC: %v", err)
	}
	if simPower(sim, id) != drivers.PowerOn {
		t.Fatal("the slow BMC did not power on")
	}
	// Latency beyond the node's request timeout: each try times out, reads
	// are retried, and the caller gets a timeout.
	w := &waits{}
	w.install(d)
	slow := simNode(sim, id, drivers.Info{redfish.InfoTimeout: "10ms"})
	if err := sim.SetFault(id, simulator.Fault{Latency: time.Second}); err != nil {
		t.Fatal(err)
	}
	_, err := d.PowerState(ctx(t), slow)
	checkErr(t, err, drivers.ErrBMCTimeout)
	if !strings.Contains(err.Error(), "no answer within 10ms") || len(w.list()) != 3 {
		t.Fatalf("after %d retries: %v", len(w.list()), err)
	}
}

// TestServiceUnavailable: a 503 with Retry-After is retried after the wait
// the BMC asked for, reads and POST actions alike (a 503 means the BMC did
// not take the request on); past the retries it is ErrBMCFailed with the
// BMC's message.
func TestServiceUnavailable(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	fault := simulator.Fault{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable, RetryAfter: 2 * time.Second}
	var armPost sync.Once
	var postFault bool
	url := front(t, sim, func(w http.ResponseWriter, r *http.Request) bool {
		if postFault && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "ComputerSystem.Reset") {
			armPost.Do(func() { sim.SetFault(id, fault) })
		}
		return false
	})
	d := newDriver(t, fastOptions())
	w := &waits{}
	w.install(d)
	n := nodeOf(url, id, nil)

	// A read: every try fails until the fault goes.
	if err := sim.SetFault(id, fault); err != nil {
		t.Fatal(err)
	}
	_, err := d.PowerState(ctx(t), n)
	de := checkErr(t, err, drivers.ErrBMCFailed)
	var re *redfish.ResponseError
	if !errors.As(err, &re) || re.Status != 503 || re.Attempts != 4 || !strings.Contains(re.MessageID, "ServiceTemporarilyUnavailable") {
		t.Fatalf("after retries: %v (%+v)", err, de)
	}
	for _, got := range w.list() {
		if got < 2*time.Second {
			t.Fatalf("waited %s, less than the BMC's Retry-After of 2s (waits %v)", got, w.list())
		}
	}

	// The same read succeeds when the BMC recovers between tries.
	w.then = func() { sim.SetFault(id, simulator.Fault{}) }
	if st, err := d.PowerState(ctx(t), n); err != nil || st != drivers.PowerOff {
		t.Fatalf("after a 503 and a retry: %q, %v", st, err)
	}

	// A Reset answered 503 is sent again, and acted on once.
	postFault = true
	if err := d.SetPowerState(ctx(t), n, drivers.ActionPowerOn, 0); err != nil {
		t.Fatalf("power on through a 503: %v", err)
	}
	if got, want := witness(sim, id), []string{"Reset On 503", "Reset On 204"}; !slices.Equal(got, want) {
		t.Fatalf("the BMC saw %v, want %v", got, want)
	}
}

// TestServerErrorOnPost: a 500 to a POST action may have been acted upon,
// so it is not retried.
func TestServerErrorOnPost(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	url := front(t, sim, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "ComputerSystem.Reset") {
			sim.SetFault(id, simulator.Fault{ErrorRate: 1, ErrorStatus: http.StatusInternalServerError})
		}
		return false
	})
	d := newDriver(t, fastOptions())
	w := &waits{}
	w.install(d)
	err := d.SetPowerState(ctx(t), nodeOf(url, id, nil), drivers.ActionPowerOn, 0)
	checkErr(t, err, drivers.ErrBMCFailed)
	if len(w.list()) != 0 || !slices.Equal(witness(sim, id), []string{"Reset On 500"}) {
		t.Fatalf("a 500 to a Reset was retried: waits %v, BMC saw %v", w.list(), witness(sim, id))
	}
}

// TestHang: a request the BMC never answers times out at the node's
// redfish_timeout; a read is sent again, a Reset is not.
func TestHang(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	var hangPost bool
	url := front(t, sim, func(w http.ResponseWriter, r *http.Request) bool {
		if hangPost && r.Method == http.MethodPost {
			sim.SetFault(id, simulator.Fault{HangRate: 1})
		}
		return false
	})
	d := newDriver(t, fastOptions())
	w := &waits{}
	w.install(d)
	n := nodeOf(url, id, drivers.Info{redfish.InfoTimeout: "50ms"})

	sim.SetFault(id, simulator.Fault{HangRate: 1})
	_, err := d.PowerState(ctx(t), n)
	checkErr(t, err, drivers.ErrBMCTimeout)
	if !errors.Is(err, context.DeadlineExceeded) || len(w.list()) != 3 {
		t.Fatalf("a hung read after %d retries: %v", len(w.list()), err)
	}

	w.then = func() { sim.SetFault(id, simulator.Fault{}) }
	if _, err := d.PowerState(ctx(t), n); err != nil {
		t.Fatalf("a read retried after one hang: %v", err)
	}

	w.then = nil
	hangPost = true
	before := len(w.list())
	err = d.SetPowerState(ctx(t), n, drivers.ActionPowerOn, 0)
	checkErr(t, err, drivers.ErrBMCTimeout)
	if len(w.list()) != before {
		t.Fatalf("a hung Reset was retried: %v", err)
	}
	if got := eventually(func() []string { return witness(sim, id) }); !slices.Equal(got, []string{"Reset On 0"}) {
		t.Fatalf("the BMC saw %v, want one unanswered Reset", got)
	}

	// The caller's own deadline ends a hang too.
	short, cancel := context.WithTimeout(bg, 30*time.Millisecond)
	defer cancel()
	sim.SetFault(id, simulator.Fault{HangRate: 1})
	_, err = d.PowerState(short, nodeOf(url, id, nil))
	checkErr(t, err, drivers.ErrBMCTimeout)
}

// TestDroppedConnection: a connection closed without an answer is
// ErrBMCUnreachable; a read is retried, a Reset (which the BMC may have
// received) is not.
func TestDroppedConnection(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	var dropPost bool
	url := front(t, sim, func(w http.ResponseWriter, r *http.Request) bool {
		if dropPost && r.Method == http.MethodPost {
			sim.SetFault(id, simulator.Fault{DropRate: 1})
		}
		return false
	})
	d := newDriver(t, fastOptions())
	w := &waits{}
	w.install(d)
	n := nodeOf(url, id, nil)

	sim.SetFault(id, simulator.Fault{DropRate: 1})
	_, err := d.PowerState(ctx(t), n)
	checkErr(t, err, drivers.ErrBMCUnreachable)
	if len(w.list()) != 3 {
		t.Fatalf("a dropped read was retried %d times: %v", len(w.list()), err)
	}
	w.then = func() { sim.SetFault(id, simulator.Fault{}) }
	if _, err := d.PowerState(ctx(t), n); err != nil {
		t.Fatalf("a read retried after a drop: %v", err)
	}

	w.then = nil
	dropPost = true
	before := len(w.list())
	err = d.SetPowerState(ctx(t), n, drivers.ActionPowerOn, 0)
	checkErr(t, err, drivers.ErrBMCUnreachable)
	if got := eventually(func() []string { return witness(sim, id) }); len(w.list()) != before || !slices.Equal(got, []string{"Reset On 0"}) {
		t.Fatalf("a dropped Reset was retried: BMC saw %v", got)
	}
}

// TestRefusedLogin: refused credentials are ErrBMCAuth at once, with
// sessions and with Basic, and are never retried.
func TestRefusedLogin(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	sim.SetFault(id, simulator.Fault{RefuseLogin: true})
	sim.SetFleetFault(simulator.Fault{RefuseLogin: true}) // the session service is fleet-wide
	for _, auth := range []string{"session", "basic", "auto"} {
		t.Run(auth, func(t *testing.T) {
			d := newDriver(t, fastOptions())
			w := &waits{}
			w.install(d)
			_, err := d.PowerState(ctx(t), simNode(sim, id, drivers.Info{redfish.InfoAuthType: auth}))
			checkErr(t, err, drivers.ErrBMCAuth)
			var re *redfish.ResponseError
			if !errors.As(err, &re) || re.Status != http.StatusUnauthorized || len(w.list()) != 0 {
				t.Fatalf("refused login: %v (retries %v)", err, w.list())
			}
			if d.Stats().Logins != 0 {
				t.Fatal("a refused login counted as a session")
			}
		})
	}
}

// TestUnreachable: a BMC that resets connections, and a port nobody listens
// on, are ErrBMCUnreachable after the bounded retries.
func TestUnreachable(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	sim.SetFault(id, simulator.Fault{Unreachable: true})
	d := newDriver(t, fastOptions())
	w := &waits{}
	w.install(d)
	_, err := d.PowerState(ctx(t), simNode(sim, id, drivers.Info{redfish.InfoAuthType: "basic"}))
	checkErr(t, err, drivers.ErrBMCUnreachable)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	before := len(w.list())
	err = d.Check(ctx(t), nodeOf(closed, id, nil))
	checkErr(t, err, drivers.ErrBMCUnreachable)
	if !strings.Contains(err.Error(), "refused") || len(w.list())-before != 3 {
		t.Fatalf("a refused connection after %d retries: %v", len(w.list())-before, err)
	}
}

// TestClientErrorsAreNotRetried: a 4xx is the BMC's answer; it names what
// the BMC said and is not sent again.
func TestClientErrorsAreNotRetried(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	d := newDriver(t, fastOptions())
	w := &waits{}
	w.install(d)
	_, err := d.PowerState(ctx(t), simNode(sim, sim.SystemIDs()[0], drivers.Info{redfish.InfoSystemID: "no-such-system"}))
	checkErr(t, err, drivers.ErrBMCRejected)
	var re *redfish.ResponseError
	if !errors.As(err, &re) || re.Status != http.StatusNotFound || !strings.Contains(re.MessageID, "ResourceMissingAtURI") || len(w.list()) != 0 {
		t.Fatalf("404: %v (retries %v)", err, w.list())
	}
}

// TestPasswordNeverInErrors: a BMC that echoes the password in its error
// message does not get it into the agent's error.
func TestPasswordNeverInErrors(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	url := front(t, sim, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPatch {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"code":"Base.1.0.GeneralError","message":"bad request from admin/` + pass + `"}}`))
			return true
		}
		return false
	})
	d := newDriver(t, fastOptions())
	err := d.SetBootDevice(ctx(t), nodeOf(url, id, nil), drivers.BootPXE, drivers.BootOptions{})
	checkErr(t, err, drivers.ErrBMCRejected)
	if !strings.Contains(err.Error(), "bad request from admin/"+drivers.Redacted) {
		t.Fatalf("the BMC's message is not shown (redacted): %v", err)
	}
}
