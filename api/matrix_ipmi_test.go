package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/ipmisim"
)

// ipmiFaults are the simulator's fault switches as the IPMI face plays
// them, each on alone, with what the agent must say while it is on ("" for
// a BMC that works, only slower).
var ipmiFaults = []struct {
	name  string
	fault simulator.Fault
	want  string
}{
	{"none", simulator.Fault{}, ""},
	{"latency", simulator.Fault{Latency: 20 * time.Millisecond}, ""},
	{"node busy", simulator.Fault{ErrorRate: 1, ErrorStatus: 503}, "Node busy"},
	{"unspecified error", simulator.Fault{ErrorRate: 1, ErrorStatus: 500}, "BMC failed"},
	{"hang", simulator.Fault{HangRate: 1}, "BMC timed out"},
	{"drop", simulator.Fault{DropRate: 1}, "BMC timed out"},
	{"refuse login", simulator.Fault{RefuseLogin: true}, "refused the session"},
	{"unreachable", simulator.Fault{Unreachable: true}, "BMC unreachable"},
}

// TestIPMIFaultMatrix runs the agent's IPMI operations through the HTTP API
// against the simulator's IPMI face, under each fault switch alone: a
// healthy or slow BMC does everything (power on, off, reboot, soft off;
// boot pxe once and disk persistent as the next boots show); a faulty one
// fails a power on with last_error naming the fault's class, and once
// the fault clears the same node works again. No lock stays held and no two
// mutations overlap on the BMC.
func TestIPMIFaultMatrix(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Systems: len(ipmiFaults)})
	if err != nil {
		t.Fatal(err)
	}
	face := ipmisim.New(sim, ipmisim.Config{})
	if err := face.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		face.Close()
		sim.Close()
	})
	// The command timeout leaves a loaded machine time for ipmitool's RMCP+
	// handshake; the hang and drop cases wait it out once per operation.
	d := ipmi.New(ipmi.Config{MinCommandInterval: time.Millisecond, CommandTimeout: 3 * time.Second, Retries: 2,
		RetryInterval: 10 * time.Millisecond, PollInterval: 20 * time.Millisecond, PowerTimeout: 10 * time.Second})
	e := newEnv(t, envOptions{drivers: []drivers.Driver{d}})
	c := e.client(t, "latest")
	ctx := context.Background()

	for i, f := range ipmiFaults {
		t.Run(f.name, func(t *testing.T) {
			if f.fault.HangRate > 0 || f.fault.DropRate > 0 || f.fault.Unreachable {
				// These mostly wait out the command timeout.
				t.Parallel()
			}
			id := sim.SystemIDs()[i]
			sys := sim.System(id)
			sys.SetOSCooperates(true)
			n, err := nodes.Create(ctx, c, nodes.CreateOpts{Name: "ipmi-" + strings.ReplaceAll(f.name, " ", "-"), Driver: "ipmi", DriverInfo: map[string]any{
				ipmi.InfoAddress: "127.0.0.1", ipmi.InfoPort: face.Port(id), ipmi.InfoCipherSuite: "3",
				ipmi.InfoUsername: "admin", ipmi.InfoPassword: "password",
			}}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if err := sys.SetFault(f.fault); err != nil {
				t.Fatal(err)
			}
			power := func(target nodes.TargetPowerState) error {
				if err := nodes.ChangePowerState(ctx, c, n.UUID, nodes.PowerStateOpts{Target: target}).ExtractErr(); err != nil {
					return err
				}
				return settled(t, c, n.UUID)
			}
			if f.want != "" {
				// The operation fails, saying why.
				if err := power(nodes.PowerOn); err == nil || !strings.Contains(err.Error(), f.want) {
					t.Errorf("under %s: %v, want an error saying %q", f.name, err, f.want)
				}
				if sys.PowerState() == simulator.PowerOn {
					t.Errorf("under %s the BMC acted", f.name)
				}
				if err := sys.SetFault(simulator.Fault{}); err != nil {
					t.Fatal(err)
				}
			}
			ipmiOps(t, c, n.UUID, sys, power)
			got, err := nodes.Get(ctx, c, n.UUID).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if got.LastError != "" || got.Reservation != "" {
				t.Errorf("node ends with last_error %q, reservation %q", got.LastError, got.Reservation)
			}
			if over, _ := sim.Overlaps(id); over != 0 {
				t.Errorf("%d overlapping mutations on the BMC", over)
			}
		})
	}
}

// ipmiOps runs every IPMI operation on a healthy (or slow) BMC and checks
// each in the simulator's state.
func ipmiOps(t *testing.T, c *gophercloud.ServiceClient, id string, sys *simulator.System, power func(nodes.TargetPowerState) error) {
	t.Helper()
	ctx := context.Background()
	check := func(op string, err error, msg string) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", op, err)
		} else if msg != "" {
			t.Errorf("%s: the simulator shows %s", op, msg)
		}
	}
	powerIs := func(want simulator.PowerState) string {
		if got := sys.PowerState(); got != want {
			return "power " + string(got)
		}
		return ""
	}
	err := power(nodes.PowerOn)
	check("power on", err, powerIs(simulator.PowerOn))
	booted := sys.BootedFrom().Count
	err = power(nodes.Rebooting)
	msg := powerIs(simulator.PowerOn)
	if sys.BootedFrom().Count != booted+1 {
		msg = "no boot"
	}
	check("reboot", err, msg)
	err = power(nodes.PowerOff)
	check("power off", err, powerIs(simulator.PowerOff))
	if err = power(nodes.PowerOn); err == nil {
		err = power(nodes.SoftPowerOff)
	}
	check("soft power off", err, powerIs(simulator.PowerOff))

	bootDev := func(op, dev string, persistent bool, want simulator.BootSource, boots int) {
		t.Helper()
		err := nodes.SetBootDevice(ctx, c, id, nodes.BootDeviceOpts{BootDevice: dev, Persistent: persistent}).ExtractErr()
		if err == nil {
			err = settled(t, c, id)
		}
		var bad []string
		for i := 0; err == nil && i < boots; i++ {
			if err = power(nodes.PowerOn); err != nil {
				break
			}
			if b := sys.BootedFrom(); b.Device != want || !b.Override {
				bad = append(bad, fmt.Sprintf("boot %d from %s (override %v)", i+1, b.Device, b.Override))
			}
			err = power(nodes.PowerOff)
		}
		check(op, err, strings.Join(bad, "; "))
	}
	bootDev("boot pxe once", "pxe", false, simulator.BootPxe, 1)
	bootDev("boot disk persistent", "disk", true, simulator.BootHdd, 2)
}
