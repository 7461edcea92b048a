package redfish_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// TestOneSessionPerBMC: nodes of one BMC share one client and one session,
// across calls and concurrent callers; Close logs it out.
func TestOneSessionPerBMC(t *testing.T) {
	sim := startSim(t, simulator.Config{Systems: 3})
	d := redfish.New(fastOptions())
	var wg sync.WaitGroup
	for _, id := range sim.SystemIDs() {
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := d.PowerState(ctx(t), simNode(sim, id, nil)); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	st := d.Stats()
	if st.Clients != 1 || st.Logins != 1 || sim.Sessions() != 1 {
		t.Fatalf("15 calls on 3 systems of one BMC: %+v, %d live sessions", st, sim.Sessions())
	}
	if err := d.Close(bg); err != nil {
		t.Fatal(err)
	}
	if n := sim.Sessions(); n != 0 || d.Stats().Logouts != 1 {
		t.Fatalf("after Close: %d sessions left, %+v", n, d.Stats())
	}
	_, err := d.PowerState(ctx(t), simNode(sim, sim.SystemIDs()[0], nil))
	if err == nil {
		t.Fatal("a call after Close succeeded")
	}
}

// TestSessionRenewal: when the BMC forgets the session (it expired), the
// driver logs in again once and the call succeeds.
func TestSessionRenewal(t *testing.T) {
	var skew atomic.Int64
	sim := startSim(t, simulator.Config{SessionTimeout: time.Minute, Now: func() time.Time {
		return time.Now().Add(time.Duration(skew.Load()))
	}})
	id := sim.SystemIDs()[0]
	d := newDriver(t, fastOptions())
	n := simNode(sim, id, nil)
	if _, err := d.PowerState(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	skew.Store(int64(2 * time.Minute)) // the session expires on the BMC
	if err := d.SetPowerState(ctx(t), n, drivers.ActionPowerOn, 0); err != nil {
		t.Fatalf("a call with an expired session: %v", err)
	}
	if st := d.Stats(); st.Logins != 2 || st.Retries != 0 {
		t.Fatalf("after the session expired: %+v, want a second login and no retry", st)
	}
}

// TestAutoAuthFallsBackToBasic: a BMC without a usable session service is
// driven with HTTP Basic in auto mode, and refused in session mode.
func TestAutoAuthFallsBackToBasic(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	url := front(t, sim, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && r.URL.Path == "/redfish/v1/SessionService/Sessions" {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return true
		}
		return false
	})
	d := newDriver(t, fastOptions())
	if _, err := d.PowerState(ctx(t), nodeOf(url, id, nil)); err != nil {
		t.Fatalf("auto without sessions: %v", err)
	}
	if d.Stats().Logins != 0 {
		t.Fatal("a session was counted")
	}
	_, err := d.PowerState(ctx(t), nodeOf(url, id, drivers.Info{redfish.InfoAuthType: "session"}))
	checkErr(t, err, drivers.ErrBMCRejected)
}

// TestPasswordChange: a node whose password is fixed reuses the client of
// its BMC with the new password.
func TestPasswordChange(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	d := newDriver(t, fastOptions())
	_, err := d.PowerState(ctx(t), simNode(sim, id, drivers.Info{redfish.InfoPassword: "wrong"}))
	checkErr(t, err, drivers.ErrBMCAuth)
	if _, err := d.PowerState(ctx(t), simNode(sim, id, nil)); err != nil {
		t.Fatalf("with the right password: %v", err)
	}
	if st := d.Stats(); st.Clients != 1 || st.Logins != 1 {
		t.Fatalf("%+v, want one client and one session", st)
	}
}

// TestRequestsPerBMCAreBounded: however many callers, no more than
// MaxRequestsPerBMC requests are in flight to one BMC.
func TestRequestsPerBMCAreBounded(t *testing.T) {
	sim := startSim(t, simulator.Config{Systems: 4})
	var inflight, peak atomic.Int32
	h := sim.Handler()
	url := front(t, sim, func(w http.ResponseWriter, r *http.Request) bool {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(5 * time.Millisecond) // keep requests in flight together
		h.ServeHTTP(w, r)
		return true
	})
	for _, limit := range []int{4, 2} {
		opts := fastOptions()
		opts.MaxRequestsPerBMC = limit
		d := newDriver(t, opts)
		peak.Store(0)
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := d.PowerState(ctx(t), nodeOf(url, sim.SystemIDs()[i%4], nil)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if p := peak.Load(); p > int32(limit) || p < 2 {
			t.Fatalf("limit %d: %d requests in flight at the peak", limit, p)
		}
	}
}

// waitLogouts waits for the driver to count n logouts (they run in the
// background), with a deadline no loaded machine reaches; the assertions
// that follow say what went wrong if it passes.
func waitLogouts(t *testing.T, d *redfish.Driver, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); d.Stats().Logouts < uint64(n) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIdleClientsAreLoggedOut: a BMC's client that no call used for
// IdleTimeout is logged out (found by the next call to any BMC).
func TestIdleClientsAreLoggedOut(t *testing.T) {
	a := startSim(t, simulator.Config{})
	b := startSim(t, simulator.Config{})
	opts := fastOptions()
	opts.IdleTimeout = 20 * time.Millisecond
	d := newDriver(t, opts)
	if _, err := d.PowerState(ctx(t), simNode(a, a.SystemIDs()[0], nil)); err != nil {
		t.Fatal(err)
	}
	if a.Sessions() != 1 {
		t.Fatal("no session on the first BMC")
	}
	time.Sleep(50 * time.Millisecond) // the first BMC's client becomes idle
	if _, err := d.PowerState(ctx(t), simNode(b, b.SystemIDs()[0], nil)); err != nil {
		t.Fatal(err)
	}
	waitLogouts(t, d, 1) // the logout runs in the background
	if n, st := a.Sessions(), d.Stats(); n != 0 || st.Clients != 1 || st.Logouts != 1 {
		t.Fatalf("idle BMC: %d sessions left, %+v", n, st)
	}
}

// TestChangedPasswordEndsOldSession: when a node's password changes, the
// session made with the old one is deleted and a new one made.
func TestChangedPasswordEndsOldSession(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	d := newDriver(t, fastOptions())
	if _, err := d.PowerState(ctx(t), simNode(sim, id, nil)); err != nil {
		t.Fatal(err)
	}
	const newPass = "n3w-Pa55word"
	sim.System(id).SetCredentials(user, newPass)
	if _, err := d.PowerState(ctx(t), simNode(sim, id, drivers.Info{redfish.InfoPassword: newPass})); err != nil {
		t.Fatalf("with the new password: %v", err)
	}
	waitLogouts(t, d, 1)
	if st := d.Stats(); st.Logins != 2 || st.Logouts != 1 || sim.Sessions() != 1 {
		t.Fatalf("after the password change: %+v, %d live sessions", st, sim.Sessions())
	}
}
