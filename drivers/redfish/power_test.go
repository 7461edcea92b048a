package redfish_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// restricted serves the simulator as a BMC whose system allows only the
// given reset types, advertised through an @Redfish.ActionInfo resource
// rather than inline (as newer BMCs do), and that refuses any other type.
func restricted(t *testing.T, sim *simulator.Simulator, id string, allowed ...string) string {
	t.Helper()
	sysPath := "/redfish/v1/Systems/" + id
	infoPath := sysPath + "/ResetActionInfo"
	h := sim.Handler()
	return front(t, sim, func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == infoPath:
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{
				"@odata.id": infoPath, "Id": "ResetActionInfo",
				"Parameters": []any{map[string]any{"Name": "ResetType", "Required": true, "AllowableValues": allowed}},
			})
			return true
		case r.Method == http.MethodGet && r.URL.Path == sysPath:
			rewrite(w, r, h, func(m map[string]any) {
				reset := m["Actions"].(map[string]any)["#ComputerSystem.Reset"].(map[string]any)
				delete(reset, "ResetType@Redfish.AllowableValues")
				reset["@Redfish.ActionInfo"] = infoPath
			})
			return true
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "ComputerSystem.Reset"):
			var body struct{ ResetType string }
			json.NewDecoder(r.Body).Decode(&body)
			if !slices.Contains(allowed, body.ResetType) {
				w.WriteHeader(http.StatusBadRequest)
				return true
			}
			r.Body = jsonBody(body)
		}
		return false
	})
}

func TestSoftPowerOff(t *testing.T) {
	sim := startSim(t, simulator.Config{PowerDelay: 20 * time.Millisecond})
	id := sim.SystemIDs()[0]
	d := newDriver(t, fastOptions())
	n := simNode(sim, id, nil)
	if err := sim.System(id).SetPowerState(simulator.PowerOn); err != nil {
		t.Fatal(err)
	}
	if err := d.SetPowerState(ctx(t), n, drivers.ActionSoftPowerOff, 5*time.Second); err != nil {
		t.Fatalf("soft power off with a cooperating OS: %v", err)
	}
	if simPower(sim, id) != drivers.PowerOff || !slices.Equal(witness(sim, id), []string{"Reset GracefulShutdown 204"}) {
		t.Fatalf("after soft power off: %s, BMC saw %v", simPower(sim, id), witness(sim, id))
	}

	// An OS that ignores the request: the wait ends with a timeout naming
	// the state last seen.
	sim.System(id).SetPowerState(simulator.PowerOn)
	sim.System(id).SetOSCooperates(false)
	err := d.SetPowerState(ctx(t), n, drivers.ActionSoftPowerOff, 100*time.Millisecond)
	checkErr(t, err, drivers.ErrBMCTimeout)
	var pt *drivers.PowerTimeoutError
	if !errors.As(err, &pt) || pt.Target != drivers.PowerOff || pt.LastSeen != drivers.PowerOn {
		t.Fatalf("soft power off ignored by the OS: %v", err)
	}
	if simPower(sim, id) != drivers.PowerOn {
		t.Fatal("the OS shut down after all")
	}
}

// TestPowerWaitsForSlowTransitions: the driver polls through a power delay,
// and a timeout shorter than the delay names the old state.
func TestPowerWaitsForSlowTransitions(t *testing.T) {
	sim := startSim(t, simulator.Config{PowerDelay: 300 * time.Millisecond})
	id := sim.SystemIDs()[0]
	d := newDriver(t, fastOptions())
	n := simNode(sim, id, nil)
	err := d.SetPowerState(ctx(t), n, drivers.ActionPowerOn, 20*time.Millisecond)
	var pt *drivers.PowerTimeoutError
	if !errors.As(err, &pt) || pt.LastSeen != drivers.PowerOff || pt.Target != drivers.PowerOn {
		t.Fatalf("power on shorter than the delay: %v", err)
	}
	// The BMC carries on; asking again (the old state still reads Off, so
	// the driver may send On again, a no-op) waits for the transition.
	if err := d.SetPowerState(ctx(t), n, drivers.ActionPowerOn, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := witness(sim, id); !slices.Equal(got, []string{"Reset On 204", "Reset On 204"}) && !slices.Equal(got, []string{"Reset On 204"}) {
		t.Fatalf("BMC saw %v", got)
	}
	if simPower(sim, id) != drivers.PowerOn {
		t.Fatal("not on")
	}
}

// TestRebootFallsBackToOffOn: a system without ForceRestart is rebooted
// with ForceOff and On; without any restart or graceful shutdown, soft
// reboot is neither offered nor attempted.
func TestRebootFallsBackToOffOn(t *testing.T) {
	sim := startSim(t, simulator.Config{PowerDelay: 10 * time.Millisecond})
	id := sim.SystemIDs()[0]
	url := restricted(t, sim, id, "On", "ForceOff", "Nmi")
	d := newDriver(t, fastOptions())
	n := nodeOf(url, id, nil)

	actions, err := d.SupportedPowerActions(ctx(t), n)
	if err != nil || !slices.Equal(actions, []drivers.PowerAction{drivers.ActionPowerOn, drivers.ActionPowerOff, drivers.ActionReboot}) {
		t.Fatalf("supported actions %v (%v)", actions, err)
	}
	sim.System(id).SetPowerState(simulator.PowerOn)
	if err := d.SetPowerState(ctx(t), n, drivers.ActionReboot, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := witness(sim, id); !slices.Equal(got, []string{"Reset ForceOff 204", "Reset On 204"}) || simPower(sim, id) != drivers.PowerOn {
		t.Fatalf("reboot without ForceRestart: BMC saw %v, system %s", got, simPower(sim, id))
	}
	before := mutations(sim, id)
	err = d.SetPowerState(ctx(t), n, drivers.ActionSoftReboot, time.Second)
	checkErr(t, err, drivers.ErrBMCRejected)
	err = d.SetPowerState(ctx(t), n, drivers.ActionSoftPowerOff, time.Second)
	checkErr(t, err, drivers.ErrBMCRejected)
	if mutations(sim, id) != before {
		t.Fatal("a power action the system does not allow reached the BMC")
	}
}

// TestRebootAndNMI: reboot is one ForceRestart; reboot of a system that is
// off powers it on; an NMI reaches a running system; powering on a system
// that is on sends nothing.
func TestRebootAndNMI(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	d := newDriver(t, fastOptions())
	n := simNode(sim, id, nil)
	steps := []struct {
		action drivers.PowerAction
		sent   string
	}{
		{drivers.ActionReboot, "Reset On 204"}, // off: power on
		{drivers.ActionReboot, "Reset ForceRestart 204"},
		{drivers.ActionSoftReboot, "Reset GracefulRestart 204"},
		{drivers.ActionPowerOn, ""},
	}
	for _, st := range steps {
		sim.System(id).ResetWitness()
		if err := d.SetPowerState(ctx(t), n, st.action, time.Second); err != nil {
			t.Fatalf("%s: %v", st.action, err)
		}
		want := []string{st.sent}
		if st.sent == "" {
			want = nil
		}
		if got := witness(sim, id); !slices.Equal(got, want) || simPower(sim, id) != drivers.PowerOn {
			t.Fatalf("%s: BMC saw %v, want %v", st.action, got, want)
		}
	}
	if err := d.InjectNMI(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	if sim.System(id).NMIs() != 1 {
		t.Fatalf("NMIs %d", sim.System(id).NMIs())
	}
	if err := d.Check(ctx(t), n); err != nil {
		t.Fatalf("check: %v", err)
	}
	if st, err := d.PowerState(ctx(t), n); err != nil || st != drivers.PowerOn {
		t.Fatalf("power state %q, %v", st, err)
	}
}

// TestSystemDiscovery: without redfish_system_id the BMC's only system is
// used; a BMC with several systems asks for one.
func TestSystemDiscovery(t *testing.T) {
	one := startSim(t, simulator.Config{})
	many := startSim(t, simulator.Config{Systems: 2})
	d := newDriver(t, fastOptions())
	id := one.SystemIDs()[0]
	if err := d.SetPowerState(ctx(t), simNode(one, id, drivers.Info{redfish.InfoSystemID: nil}), drivers.ActionPowerOn, 0); err != nil {
		t.Fatal(err)
	}
	if simPower(one, id) != drivers.PowerOn {
		t.Fatal("the only system was not powered on")
	}
	_, err := d.PowerState(ctx(t), simNode(many, many.SystemIDs()[0], drivers.Info{redfish.InfoSystemID: nil}))
	checkErr(t, err, drivers.ErrInvalidInfo)
	if !strings.Contains(err.Error(), "manages 2 systems") {
		t.Fatalf("several systems: %v", err)
	}
	// A Metal3 URL names the system in its path.
	metal3 := "redfish+http://" + strings.TrimPrefix(one.Endpoint(id), "http://") + "/redfish/v1/Systems/" + id
	if st, err := d.PowerState(ctx(t), nodeOf(metal3, id, drivers.Info{redfish.InfoSystemID: nil})); err != nil || st != drivers.PowerOn {
		t.Fatalf("through %s: %q, %v", metal3, st, err)
	}
}
