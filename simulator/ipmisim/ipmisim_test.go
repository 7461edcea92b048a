package ipmisim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bmc-agent/bmc-agent/internal/ipmitest"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/ipmisim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fleet is a simulator with its Redfish face on HTTP and its IPMI face.
type fleet struct {
	sim  *simulator.Simulator
	face *ipmisim.Face
}

func start(t *testing.T, systems int, cfg ipmisim.Config) *fleet {
	t.Helper()
	return startWith(t, simulator.Config{Systems: systems}, cfg)
}

// startWith is start with the simulator's whole configuration.
func startWith(t *testing.T, simCfg simulator.Config, cfg ipmisim.Config) *fleet {
	t.Helper()
	sim, err := simulator.New(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	face := ipmisim.New(sim, cfg)
	if err := face.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := face.Close(); err != nil {
			t.Error(err)
		}
		sim.Close()
	})
	return &fleet{sim: sim, face: face}
}

// ipmitool reaches one system with the real ipmitool.
func (f *fleet) ipmitool(id string) ipmitest.Client {
	return ipmitest.Client{Host: "127.0.0.1", Port: f.face.Port(id), Username: "admin", Password: "password"}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// redfish sends a Redfish request to the simulator over HTTP and decodes
// the answer into out (if not nil).
func (f *fleet) redfish(t *testing.T, method, url string, body any, out any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequestWithContext(ctxFor(t), method, url, rd)
	req.SetBasicAuth("admin", "password")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s", method, url, resp.Status)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

type redfishSystem struct {
	PowerState string
	Boot       struct {
		BootSourceOverrideTarget  string
		BootSourceOverrideEnabled string
		BootSourceOverrideMode    string
	}
}

// TestAcrossFaces changes power and boot over IPMI and reads them back over
// Redfish (HTTP), then the other way round: one state behind both faces.
func TestAcrossFaces(t *testing.T) {
	f := start(t, 2, ipmisim.Config{})
	id := f.sim.SystemIDs()[1]
	c := f.ipmitool(id)
	ctx := ctxFor(t)
	url := f.sim.SystemURL(id)

	if _, err := c.Run(ctx, "chassis", "power", "on"); err != nil {
		t.Fatal(err)
	}
	var rs redfishSystem
	f.redfish(t, http.MethodGet, url, nil, &rs)
	if rs.PowerState != "On" {
		t.Fatalf("after an IPMI power on Redfish reads %q", rs.PowerState)
	}
	if _, err := c.Run(ctx, "chassis", "bootdev", "pxe", "options=persistent,efiboot"); err != nil {
		t.Fatal(err)
	}
	f.redfish(t, http.MethodGet, url, nil, &rs)
	if rs.Boot.BootSourceOverrideTarget != "Pxe" || rs.Boot.BootSourceOverrideEnabled != "Continuous" || rs.Boot.BootSourceOverrideMode != "UEFI" {
		t.Fatalf("after an IPMI persistent EFI PXE override Redfish reads %+v", rs.Boot)
	}

	f.redfish(t, http.MethodPost, url+"/Actions/ComputerSystem.Reset", map[string]string{"ResetType": "ForceOff"}, nil)
	if on, err := c.PowerOn(ctx); err != nil || on {
		t.Fatalf("after a Redfish ForceOff IPMI reads on=%v (%v)", on, err)
	}
	f.redfish(t, http.MethodPatch, url, map[string]any{"Boot": map[string]string{
		"BootSourceOverrideTarget": "Hdd", "BootSourceOverrideEnabled": "Once", "BootSourceOverrideMode": "Legacy"}}, nil)
	fl, err := c.BootFlags(ctx)
	if err != nil || fl != (ipmitest.BootFlags{Valid: true, Persistent: false, EFI: false, Selector: 2}) {
		t.Fatalf("after a Redfish Hdd Once Legacy override IPMI reads %+v (%v)", fl, err)
	}
	// The other system was not touched.
	if st := f.sim.System(f.sim.SystemIDs()[0]).Status(); st.PowerState != simulator.PowerOff || st.Boot.Enabled != simulator.BootDisabled {
		t.Fatalf("the other system changed: %+v", st)
	}
}

// TestChassis exercises every chassis action over IPMI (cipher suite 17,
// the other suite the face offers) and checks the system's state and the
// witness log.
func TestChassis(t *testing.T) {
	f := start(t, 1, ipmisim.Config{})
	id := f.sim.SystemIDs()[0]
	sys := f.sim.System(id)
	c := f.ipmitool(id)
	c.CipherSuite = 17
	ctx := ctxFor(t)
	run := func(args ...string) string {
		t.Helper()
		out, err := c.Run(ctx, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if _, err := c.Run(ctx, "chassis", "power", "diag"); err == nil || !strings.Contains(err.Error(), "not supported in present state") {
		t.Fatalf("NMI to a system that is off: %v", err)
	}
	run("chassis", "power", "on")
	if sys.PowerState() != simulator.PowerOn || sys.BootedFrom().Count != 1 {
		t.Fatalf("power on: %+v", sys.Status())
	}
	run("chassis", "power", "diag")
	if sys.NMIs() != 1 {
		t.Fatalf("NMIs %d after a diagnostic interrupt", sys.NMIs())
	}
	run("chassis", "bootdev", "cdrom")
	if o := sys.BootOverride(); o.Target != simulator.BootCd || o.Enabled != simulator.BootOnce || o.Mode != simulator.BootModeLegacy {
		t.Fatalf("bootdev cdrom: %+v", o)
	}
	run("chassis", "power", "reset")
	if b := sys.BootedFrom(); b.Count != 2 || !b.Override || sys.BootOverride().Enabled != simulator.BootDisabled {
		t.Fatalf("a hard reset did not boot once from the override: %+v, %+v", b, sys.BootOverride())
	}
	run("chassis", "power", "cycle")
	if b := sys.BootedFrom(); b.Count != 3 || sys.PowerState() != simulator.PowerOn {
		t.Fatalf("power cycle: %+v", sys.Status())
	}
	sys.SetOSCooperates(false)
	run("chassis", "power", "soft")
	if sys.PowerState() != simulator.PowerOn {
		t.Fatal("soft off went through although the OS ignores it")
	}
	sys.SetOSCooperates(true)
	run("chassis", "power", "soft")
	if sys.PowerState() != simulator.PowerOff {
		t.Fatal("soft off with a cooperating OS left the system on")
	}
	if out := run("mc", "reset", "cold"); !strings.Contains(out, "Sent cold reset command to MC") {
		t.Fatalf("mc reset cold: %q", out)
	}
	// ipmitool does not wait for the answer to a reset (the BMC may be
	// gone): the face may handle it after ipmitool has exited.
	for deadline := time.Now().Add(5 * time.Second); f.face.BMCResets(id) != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("BMC resets %d, want 1", f.face.BMCResets(id))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if sys.PowerState() != simulator.PowerOff {
		t.Fatal("a BMC reset changed the host's power")
	}
	// ipmitool reports a refused boot parameter on stderr and exits 0.
	if out, err := c.Run(ctx, "chassis", "bootdev", "safe"); err == nil && !strings.Contains(out, "Invalid data field") {
		t.Fatalf("safe mode, which Redfish cannot express, was accepted: %q", out)
	}
	log := sys.RequestLog()
	want := []string{"ChassisControl diagnostic interrupt", "ChassisControl power up", "ChassisControl diagnostic interrupt"}
	for i, w := range want {
		if i >= len(log) || log[i].Face != "ipmi" || log[i].Op+" "+log[i].Detail != w {
			t.Fatalf("request log %+v, want it to start with %q", log, want)
		}
	}
	if log[0].Result != 0xd5 || log[1].Result != 0 {
		t.Fatalf("results %d %d, want completion codes 0xd5 and 0", log[0].Result, log[1].Result)
	}
	if sys.Overlaps() != 0 {
		t.Fatalf("%d overlapping mutations from one sequential client", sys.Overlaps())
	}
}

// TestFaults plays the simulator's faults over IPMI.
func TestFaults(t *testing.T) {
	f := start(t, 1, ipmisim.Config{})
	id := f.sim.SystemIDs()[0]
	sys := f.sim.System(id)
	c := f.ipmitool(id)
	ctx := ctxFor(t)

	must := func(fl simulator.Fault) {
		t.Helper()
		if err := sys.SetFault(fl); err != nil {
			t.Fatal(err)
		}
	}
	must(simulator.Fault{ErrorRate: 1})
	if _, err := c.Run(ctx, "chassis", "power", "on"); err == nil || !strings.Contains(err.Error(), "Node busy") {
		t.Fatalf("error rate 1: %v, want Node busy", err)
	}
	if sys.PowerState() != simulator.PowerOff {
		t.Fatal("a refused request was acted upon")
	}
	must(simulator.Fault{ErrorRate: 1, ErrorStatus: 500})
	if _, err := c.Run(ctx, "chassis", "power", "status"); err == nil || !strings.Contains(err.Error(), "Unspecified error") {
		t.Fatalf("error status 500: %v, want Unspecified error", err)
	}
	must(simulator.Fault{RefuseLogin: true})
	if _, err := c.Run(ctx, "chassis", "power", "status"); err == nil || !strings.Contains(err.Error(), "Unable to establish") {
		t.Fatalf("refused login: %v", err)
	}
	must(simulator.Fault{Latency: 300 * time.Millisecond})
	start := time.Now()
	if _, err := c.Run(ctx, "chassis", "power", "status"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("a call with 300ms latency took %s", took)
	}
	// No answer: ipmitool would retransmit for many seconds; two are
	// plenty next to the milliseconds a healthy answer takes.
	silent := func(what string, args ...string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if out, err := c.Run(sctx, args...); err == nil {
			t.Fatalf("%s: answered %q", what, out)
		}
	}
	must(simulator.Fault{DropRate: 1})
	silent("a dropped request", "chassis", "power", "on")
	must(simulator.Fault{Unreachable: true})
	silent("an unreachable BMC", "chassis", "power", "status")
	if sys.PowerState() != simulator.PowerOff {
		t.Fatal("a dropped request was acted upon")
	}
	sys.ClearFault()
	if on, err := c.PowerOn(ctx); err != nil || on {
		t.Fatalf("healthy again: on=%v (%v)", on, err)
	}
}

// TestHangReleasedByClose holds a request forever and checks that Close
// releases it and returns.
func TestHangReleasedByClose(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Systems: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	face := ipmisim.New(sim, ipmisim.Config{})
	if err := face.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	id := sim.SystemIDs()[0]
	if err := sim.System(id).SetFault(simulator.Fault{HangRate: 1}); err != nil {
		t.Fatal(err)
	}
	c := ipmitest.Client{Host: "127.0.0.1", Port: face.Port(id), Username: "admin", Password: "password"}
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	go func() { _, err := c.Run(ctx, "chassis", "power", "status"); done <- err }()
	// Wait until the request is held: the session is set up, the command
	// is not answered.
	time.Sleep(500 * time.Millisecond)
	if err := face.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("a hung request was answered")
	}
	if err := face.Start(context.Background(), "127.0.0.1:0"); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

// TestCredentials checks per-system credentials and that the password is
// what the RMCP+ handshake is keyed with.
func TestCredentials(t *testing.T) {
	f := start(t, 2, ipmisim.Config{Username: "root", Password: "calvin"})
	ids := f.sim.SystemIDs()
	if err := f.face.SetCredentials(ids[1], "ops", "s3cret"); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t)
	for _, c := range []struct {
		id, user, pw string
		ok           bool
	}{
		{ids[0], "root", "calvin", true},
		{ids[0], "root", "wrong", false},
		{ids[1], "ops", "s3cret", true},
		{ids[1], "root", "calvin", false},
	} {
		cl := ipmitest.Client{Host: "127.0.0.1", Port: f.face.Port(c.id), Username: c.user, Password: c.pw}
		if _, err := cl.PowerOn(ctx); (err == nil) != c.ok {
			t.Errorf("%s as %s: %v, want ok=%v", c.id, c.user, err, c.ok)
		}
	}
	if err := f.face.SetCredentials("sys-nope", "a", "b"); err == nil {
		t.Error("credentials for an unknown system accepted")
	}
}
