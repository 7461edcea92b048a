package redfish_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goroutine leak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

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

// simSessions asks the simulator's admin endpoint how many sessions live.
func simSessions(t *testing.T, sim *simulator.Simulator) int {
	t.Helper()
	resp, err := http.Get(sim.URL() + "/sim")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct{ Sessions int }
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s.Sessions
}

// mutations counts the mutating requests a system received.
func mutations(sim *simulator.Simulator, id string) uint64 { return sim.System(id).Status().Mutations }
