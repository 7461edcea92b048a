package redfish_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// quirkSim starts one generic BMC on its own port with quirks q switched on
// alone. Its clock moves a millisecond each time it is read, so a "for a
// while" window ends after a number of requests, not of wall-clock time.
func quirkSim(t *testing.T, q simulator.Quirks, cfg simulator.Config) (*simulator.Simulator, string) {
	t.Helper()
	var ticks atomic.Int64
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return base.Add(time.Duration(ticks.Add(1)) * time.Millisecond) }
	cfg.PortPerSystem = true
	sim := startSim(t, cfg)
	id := sim.SystemIDs()[0]
	if err := sim.System(id).SetQuirks(q); err != nil {
		t.Fatal(err)
	}
	return sim, id
}

// handled asserts that the driver used the named behaviour.
func handled(t *testing.T, d *redfish.Driver, name string) {
	t.Helper()
	if d.Stats().Behaviours[name] == 0 {
		t.Errorf("behaviour %s was not used (used: %v)", name, d.Stats().Behaviours)
	}
}

const window = simulator.Span(20 * time.Millisecond) // 20 clock readings

// TestBehaviours switches each vendor behaviour of the simulator on alone
// and checks that the driver's table entry for it is what makes the
// operation succeed, and that the BMC's state shows the operation applied.
func TestBehaviours(t *testing.T) {
	cases := []struct {
		name   string
		quirks simulator.Quirks
		cfg    simulator.Config
		run    func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System)
	}{
		{"reset-conflict-while-settling", simulator.Quirks{OnConflictAfterOff: window}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				mustPower(t, d, n, drivers.ActionPowerOn)
				mustPower(t, d, n, drivers.ActionPowerOff)
				mustPower(t, d, n, drivers.ActionPowerOn)
				if sys.PowerState() != simulator.PowerOn {
					t.Fatalf("power %s", sys.PowerState())
				}
			}},
		{"reset-invalid-for-system-state", simulator.Quirks{ResetDuringTransition: true}, simulator.Config{PowerDelay: 20 * time.Millisecond},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				// A power-on under way (started behind the driver's
				// back) reads Off until it completes, and the BMC
				// refuses the driver's On meanwhile.
				if err := sys.SetPowerState(simulator.PowerOff); err != nil {
					t.Fatal(err)
				}
				if err := sys.Reset(simulator.ResetOn); err != nil {
					t.Fatal(err)
				}
				mustPower(t, d, n, drivers.ActionPowerOn)
				if sys.PowerState() != simulator.PowerOn {
					t.Fatalf("power %s", sys.PowerState())
				}
			}},
		{"stale-power-state-re-read", simulator.Quirks{StalePower: window}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				mustPower(t, d, n, drivers.ActionPowerOn)
				mustPower(t, d, n, drivers.ActionPowerOff)
				if st, err := d.PowerState(ctx(t), n); err != nil || st != drivers.PowerOff {
					t.Fatalf("power state %s, %v", st, err)
				}
			}},
		{"boot-refused-during-post", simulator.Quirks{PostWindow: window}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				mustPower(t, d, n, drivers.ActionReboot)
				mustBoot(t, d, n, drivers.BootPXE, false)
				if b := sys.BootOverride(); b.Target != simulator.BootPxe || b.Enabled != simulator.BootOnce {
					t.Fatalf("override %+v", b)
				}
			}},
		{"boot-not-writable-use-settings", simulator.Quirks{BootViaSettings: true}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				mustBoot(t, d, n, drivers.BootPXE, false)
				mustPower(t, d, n, drivers.ActionReboot)
				if b := sys.BootedFrom(); b.Device != simulator.BootPxe || !b.Override {
					t.Fatalf("booted %+v", b)
				}
			}},
		{"boot-needs-full-payload", simulator.Quirks{BootPatchAll: true}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				if err := d.SetBootMode(ctx(t), n, drivers.BootModeBIOS); err != nil {
					t.Fatal(err)
				}
				if b := sys.BootOverride(); b.Mode != simulator.BootModeLegacy {
					t.Fatalf("override %+v", b)
				}
			}},
		{"boot-enabled-reverted", simulator.Quirks{EnabledRevertsToOnce: true}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				mustBoot(t, d, n, drivers.BootDisk, true)
				if err := d.SetBootMode(ctx(t), n, drivers.BootModeBIOS); err != nil {
					t.Fatal(err)
				}
				if b := sys.BootOverride(); b.Mode != simulator.BootModeLegacy || b.Enabled != simulator.BootContinuous {
					t.Fatalf("override %+v: a mode change lost the persistent override", b)
				}
			}},
		{"boot-read-back", simulator.Quirks{BootIgnored: true}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				err := d.SetBootDevice(ctx(t), n, drivers.BootPXE, drivers.BootOptions{})
				checkErr(t, err, drivers.ErrBMCFailed)
			}},
		{"virtual-cd-as-usbcd", simulator.Quirks{CdNeedsUsbCd: true}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				mustInsert(t, d, n)
				mustBoot(t, d, n, drivers.BootCDROM, false)
				mustPower(t, d, n, drivers.ActionReboot)
				if b := sys.BootedFrom(); b.Image != "http://127.0.0.1/boot.iso" {
					t.Fatalf("booted %+v", b)
				}
				if st, err := d.BootDevice(ctx(t), n); err != nil || st.Device != drivers.NoBootDevice {
					t.Fatalf("boot device after the Once boot: %+v, %v", st, err)
				}
			}},
		{"precondition-required", simulator.Quirks{IfMatchRequired: true, MediaPatchOnly: true}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				mustInsert(t, d, n)
				mustEject(t, d, n, sys)
			}},
		{"weak-etag-refused", simulator.Quirks{WeakETagRefused: true}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				mustBoot(t, d, n, drivers.BootPXE, true)
				if b := sys.BootOverride(); b.Target != simulator.BootPxe || b.Enabled != simulator.BootContinuous {
					t.Fatalf("override %+v", b)
				}
			}},
		{"insert-refuses-flags", simulator.Quirks{InsertRefusesFlags: true}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				mustInsert(t, d, n)
			}},
		{"media-by-patch", simulator.Quirks{MediaPatchOnly: true}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				mustInsert(t, d, n)
				mustEject(t, d, n, sys)
			}},
		{"eject-confirmed", simulator.Quirks{StaleInserted: window}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				mustInsert(t, d, n)
				mustEject(t, d, n, sys)
				if m, err := d.Media(ctx(t), n); err != nil || m[0].Inserted {
					t.Fatalf("media after eject: %+v, %v", m, err)
				}
			}},
		{"session-limit-reached", simulator.Quirks{SessionCap: 1}, simulator.Config{},
			func(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
				// Another client holds the BMC's only session, and logs
				// out once the driver has been refused one.
				release := holdSession(t, n)
				done := make(chan struct{})
				go func() {
					defer close(done)
					c := ctx(t)
					for d.Stats().Behaviours["session-limit-reached"] == 0 && c.Err() == nil {
						time.Sleep(time.Millisecond)
					}
					release()
				}()
				if _, err := d.PowerState(ctx(t), n); err != nil {
					t.Fatal(err)
				}
				<-done
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sim, id := quirkSim(t, c.quirks, c.cfg)
			d := newDriver(t, fastOptions())
			n := nodeOf(sim.Endpoint(id), id, nil)
			c.run(t, d, n, sim.System(id))
			handled(t, d, c.name)
			if over, _ := sim.Overlaps(id); over != 0 {
				t.Errorf("%d overlapping mutations", over)
			}
			if err := d.Close(bg); err != nil {
				t.Fatal(err)
			}
			if n := sim.Sessions(); n != 0 && c.name != "session-limit-reached" {
				t.Errorf("%d sessions left open", n)
			}
		})
	}
}

// TestSessionAfterBMCReset: a BMC reset ends every session; the driver
// logs in again on the next call instead of failing.
func TestSessionAfterBMCReset(t *testing.T) {
	sim, id := quirkSim(t, simulator.Quirks{BMCResetRefuse: window}, simulator.Config{})
	d := newDriver(t, fastOptions())
	n := nodeOf(sim.Endpoint(id), id, nil)
	if _, err := d.PowerState(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, sim.Endpoint(id)+"/redfish/v1/Managers/"+id+"/Actions/Manager.Reset",
		strings.NewReader(`{"ResetType":"GracefulRestart"}`))
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("Manager.Reset: %s", resp.Status)
	}
	// Wait until the BMC is back (each try moves its clock on).
	for c := ctx(t); c.Err() == nil; {
		if resp, err := http.Get(sim.Endpoint(id) + "/redfish/v1"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
	}
	if _, err := d.PowerState(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.Logins != 2 {
		t.Fatalf("%d logins, want a second one after the BMC reset", st.Logins)
	}
	if err := d.Close(bg); err != nil {
		t.Fatal(err)
	}
	if n := sim.Sessions(); n != 0 {
		t.Fatalf("%d sessions left open", n)
	}
}

// TestNoVirtualMediaUnsupported: a BMC without virtual media makes an
// insert fail as unsupported before any mutation.
func TestNoVirtualMediaUnsupported(t *testing.T) {
	sim, id := quirkSim(t, simulator.Quirks{Media: simulator.MediaNone}, simulator.Config{})
	d := newDriver(t, fastOptions())
	n := nodeOf(sim.Endpoint(id), id, nil)
	err := d.InsertMedia(ctx(t), n, drivers.MediaRequest{Type: drivers.MediaCD, Image: "http://127.0.0.1/boot.iso"})
	checkErr(t, err, drivers.ErrUnsupported)
	if m := mutations(sim, id); m != 0 {
		t.Fatalf("%d mutations", m)
	}
}

func mustPower(t *testing.T, d *redfish.Driver, n drivers.Node, a drivers.PowerAction) {
	t.Helper()
	if err := d.SetPowerState(ctx(t), n, a, 0); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
}

func mustBoot(t *testing.T, d *redfish.Driver, n drivers.Node, dev drivers.BootDevice, persistent bool) {
	t.Helper()
	if err := d.SetBootDevice(ctx(t), n, dev, drivers.BootOptions{Persistent: persistent}); err != nil {
		t.Fatalf("boot %s: %v", dev, err)
	}
}

func mustInsert(t *testing.T, d *redfish.Driver, n drivers.Node) {
	t.Helper()
	if err := d.InsertMedia(ctx(t), n, drivers.MediaRequest{Type: drivers.MediaCD, Image: "http://127.0.0.1/boot.iso"}); err != nil {
		t.Fatalf("insert: %v", err)
	}
}

func mustEject(t *testing.T, d *redfish.Driver, n drivers.Node, sys *simulator.System) {
	t.Helper()
	if err := d.EjectMedia(ctx(t), n, drivers.AnyMedia); err != nil {
		t.Fatalf("eject: %v", err)
	}
	for _, m := range sys.Media() {
		if m.Inserted {
			t.Fatalf("after eject: %+v", m)
		}
	}
}

// holdSession opens a session on the node's BMC as another client would;
// release deletes it.
func holdSession(t *testing.T, n drivers.Node) (release func()) {
	t.Helper()
	ep := n.Info[redfish.InfoAddress].(string)
	body := strings.NewReader(`{"UserName":"` + user + `","Password":"` + pass + `"}`)
	resp, err := http.Post(ep+"/redfish/v1/SessionService/Sessions", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("holding a session: %s", resp.Status)
	}
	loc, token := resp.Header.Get("Location"), resp.Header.Get("X-Auth-Token")
	if !strings.HasPrefix(loc, "http") {
		loc = ep + loc
	}
	return func() {
		req, _ := http.NewRequest(http.MethodDelete, loc, nil)
		req.Header.Set("X-Auth-Token", token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}

// TestContinuousRefusedOnceEachBoot: a BMC that answers 400 to a Continuous
// override gets Once, and the driver sets it again before every power on it
// makes, so the device stays the boot device as a persistent one would.
func TestContinuousRefusedOnceEachBoot(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	sys := sim.System(id)
	h := sim.Handler()
	ep := front(t, sim, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPatch {
			return false
		}
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "Continuous") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"code":"Base.1.18.PropertyValueNotInList","message":"The value Continuous for the property BootSourceOverrideEnabled is not in the list of acceptable values."}}`)
			return true
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
		return true
	})
	d := newDriver(t, fastOptions())
	n := nodeOf(ep, id, nil)
	mustBoot(t, d, n, drivers.BootPXE, true)
	if b := sys.BootOverride(); b.Target != simulator.BootPxe || b.Enabled != simulator.BootOnce {
		t.Fatalf("override %+v, want Pxe Once", b)
	}
	for i := range 2 {
		mustPower(t, d, n, drivers.ActionPowerOn)
		if b := sys.BootedFrom(); b.Device != simulator.BootPxe || !b.Override {
			t.Fatalf("boot %d: %+v", i+1, b)
		}
		mustPower(t, d, n, drivers.ActionPowerOff)
	}
	if st, err := d.BootDevice(ctx(t), n); err != nil || st.Device != drivers.BootPXE || st.Persistent == nil || !*st.Persistent {
		t.Fatalf("boot device %+v, %v", st, err)
	}
	handled(t, d, "continuous-as-once-each-boot")
	// A Once boot device replaces it: the next power on boots the default.
	mustBoot(t, d, n, drivers.BootDisk, false)
	mustPower(t, d, n, drivers.ActionPowerOn)
	mustPower(t, d, n, drivers.ActionPowerOff)
	mustPower(t, d, n, drivers.ActionPowerOn)
	if b := sys.BootedFrom(); b.Override {
		t.Fatalf("after a Once disk boot, the next boot still had an override: %+v", b)
	}
}
