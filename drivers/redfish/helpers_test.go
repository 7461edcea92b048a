package redfish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// TestMain fails the package if any test leaves a goroutine behind: the
// driver's clients, sessions and connections must all end with Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	user = "admin"
	pass = "s3cret-Pa55word" // distinctive, so a leak into an error is found
)

var bg = context.Background()

// ctx is a test's context: bounded, so that a hung driver fails the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(bg, time.Minute)
	t.Cleanup(cancel)
	return c
}

// startSim starts a simulator on a loopback port; it stops with the test.
func startSim(t *testing.T, cfg simulator.Config) *simulator.Simulator {
	t.Helper()
	cfg.Username, cfg.Password = user, pass
	sim, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(bg, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// fastOptions keep the tests quick: short polls and backoff.
func fastOptions() redfish.Options {
	return redfish.Options{PollInterval: 5 * time.Millisecond, MaxPollInterval: 20 * time.Millisecond, RetryBackoff: time.Millisecond}
}

// newDriver returns a driver that is closed (and checked to close cleanly)
// when the test ends, before the simulator it talks to stops.
func newDriver(t *testing.T, opts redfish.Options) *redfish.Driver {
	t.Helper()
	d := redfish.New(opts)
	t.Cleanup(func() {
		if err := d.Close(bg); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return d
}

// nodeOf points a node at a simulated system; extra entries are added to
// (or, with nil values, removed from) its driver_info.
func nodeOf(endpoint, id string, extra drivers.Info) drivers.Node {
	info := drivers.Info{
		redfish.InfoAddress:  endpoint,
		redfish.InfoSystemID: id,
		redfish.InfoUsername: user,
		redfish.InfoPassword: pass,
	}
	for k, v := range extra {
		if v == nil {
			delete(info, k)
		} else {
			info[k] = v
		}
	}
	return drivers.Node{UUID: "node-" + id, Info: info}
}

func simNode(sim *simulator.Simulator, id string, extra drivers.Info) drivers.Node {
	return nodeOf(sim.Endpoint(id), id, extra)
}

// simPower reads a system's power state behind the driver's back.
func simPower(sim *simulator.Simulator, id string) drivers.PowerState {
	switch sim.System(id).PowerState() {
	case simulator.PowerOn:
		return drivers.PowerOn
	case simulator.PowerOff:
		return drivers.PowerOff
	}
	return drivers.PowerError
}

// simBoot reads a system's boot override behind the driver's back.
func simBoot(sim *simulator.Simulator, id string) (drivers.BootDevice, bool) {
	b := sim.System(id).BootOverride()
	if b.Enabled == simulator.BootDisabled {
		return drivers.NoBootDevice, false
	}
	dev := map[simulator.BootSource]drivers.BootDevice{
		simulator.BootPxe: drivers.BootPXE, simulator.BootHdd: drivers.BootDisk, simulator.BootCd: drivers.BootCDROM,
		simulator.BootUsb: drivers.BootUSB, simulator.BootBiosSetup: drivers.BootBIOS, simulator.BootUefiHTTP: drivers.BootUEFIHTTP,
	}[b.Target]
	return dev, b.Enabled == simulator.BootContinuous
}

// simMedia returns the state of one virtual media device of a system.
func simMedia(t *testing.T, sim *simulator.Simulator, id, dev string) simulator.Media {
	t.Helper()
	for _, m := range sim.System(id).Media() {
		if m.ID == dev {
			return m
		}
	}
	t.Fatalf("system %s has no device %s", id, dev)
	return simulator.Media{}
}

// mutations counts the mutating requests a system received.
func mutations(sim *simulator.Simulator, id string) uint64 { return sim.System(id).Status().Mutations }

// front serves the simulator's handler through hook, which sees every
// request first and may answer it itself (returning true). The server stops
// with the test, after a driver created later has been closed.
func front(t *testing.T, sim *simulator.Simulator, hook func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	h := sim.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hook != nil && hook(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// rewrite serves r through h and lets edit change the JSON answer (of a GET
// that succeeded) before it is sent.
func rewrite(w http.ResponseWriter, r *http.Request, h http.Handler, edit func(map[string]any)) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err == nil {
			edit(m)
			body, _ = json.Marshal(m)
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	w.Write(body)
}

// checkErr asserts that err is a *drivers.DriverError that names an
// operation and a BMC, wraps want, and holds no password.
func checkErr(t *testing.T, err error, want error) *drivers.DriverError {
	t.Helper()
	var de *drivers.DriverError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *drivers.DriverError", err, err)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %q does not wrap %q", err, want)
	}
	if de.Driver != redfish.Name || de.Op == "" || de.BMC == "" {
		t.Errorf("error %+v does not name driver, operation and BMC", de)
	}
	if strings.Contains(err.Error(), pass) || strings.Contains(de.BMC, pass) {
		t.Errorf("the password leaked into %q", err)
	}
	return de
}

// log returns a system's witness log as "Op Detail Result" lines.
func witness(sim *simulator.Simulator, id string) []string {
	var out []string
	for _, e := range sim.System(id).RequestLog() {
		out = append(out, strings.TrimSpace(e.Op+" "+e.Detail)+" "+strconv.Itoa(e.Result))
	}
	return out
}

// eventually returns f's first non-empty result, giving the simulator time
// to notice that a client gave up on a request (it logs the request then).
func eventually(f func() []string) []string {
	for range 500 {
		if v := f(); len(v) > 0 {
			return v
		}
		time.Sleep(10 * time.Millisecond)
	}
	return f()
}

// jsonBody re-encodes a request body a hook has read.
func jsonBody(v any) io.ReadCloser {
	b, _ := json.Marshal(v)
	return io.NopCloser(bytes.NewReader(b))
}
