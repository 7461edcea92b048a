package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/simtest"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
)

// TestGophercloudRedfish is the lifecycle against the Redfish simulator
// through the redfish driver: what gophercloud asks for lands on the
// simulated BMC, and the BMC password never comes back.
func TestGophercloudRedfish(t *testing.T) {
	sim := simtest.Start(t, simulator.Config{Systems: 2, PowerDelay: 50 * time.Millisecond, Username: "admin", Password: bmcPassword})
	rf := redfish.New(redfish.Options{PollInterval: 10 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond, PowerTimeout: 10 * time.Second})
	e := newEnv(t, envOptions{drivers: []drivers.Driver{rf}})
	c := e.client(t, "latest")
	ctx := context.Background()
	id := sim.SystemIDs()[0]
	sys := sim.System(id)

	n, err := nodes.Create(ctx, c, nodes.CreateOpts{Name: "rf-1", Driver: "redfish", DriverInfo: map[string]any{
		redfish.InfoAddress: sim.Endpoint(id), redfish.InfoSystemID: id,
		redfish.InfoUsername: "admin", redfish.InfoPassword: bmcPassword,
	}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if n.DriverInfo[redfish.InfoPassword] != drivers.Redacted || n.BootInterface != "redfish-virtual-media" {
		t.Fatalf("created: driver_info %v boot_interface %q", n.DriverInfo, n.BootInterface)
	}

	val, err := nodes.Validate(ctx, c, n.UUID).Extract()
	if err != nil || !val.Power.Result || !val.Management.Result || !val.Boot.Result {
		t.Fatalf("validate: %+v, %v", val, err)
	}

	for _, step := range []struct {
		target nodes.TargetPowerState
		want   simulator.PowerState
	}{{nodes.PowerOn, simulator.PowerOn}, {nodes.PowerOff, simulator.PowerOff}, {nodes.PowerOn, simulator.PowerOn}, {nodes.Rebooting, simulator.PowerOn}} {
		if err := nodes.ChangePowerState(ctx, c, n.UUID, nodes.PowerStateOpts{Target: step.target}).ExtractErr(); err != nil {
			t.Fatalf("%s: %v", step.target, err)
		}
		want := "power on"
		if step.want == simulator.PowerOff {
			want = "power off"
		}
		waitNode(t, c, n.UUID, want, powerIs(want))
		if got := sys.PowerState(); got != step.want {
			t.Fatalf("after %s the simulator reads %q", step.target, got)
		}
	}

	if err := nodes.SetBootDevice(ctx, c, n.UUID, nodes.BootDeviceOpts{BootDevice: "pxe", Persistent: true}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	bd, err := nodes.GetBootDevice(ctx, c, n.UUID).Extract()
	// Persistent: a reboot still completing on the simulated BMC would
	// consume a one-time override.
	if err != nil || bd.BootDevice != "pxe" || !bd.Persistent {
		t.Fatalf("boot device: %+v, %v", bd, err)
	}
	if got := sys.BootOverride(); got.Target != "Pxe" || got.Enabled != simulator.BootContinuous {
		t.Fatalf("simulator boot override: %+v", got)
	}

	if err := nodes.AttachVirtualMedia(ctx, c, n.UUID, nodes.AttachVirtualMediaOpts{
		DeviceType: nodes.VirtualMediaCD, ImageURL: "http://images.example/tools.iso"}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if m := mediaNamed(sys, "Cd"); !m.Inserted || m.Image != "http://images.example/tools.iso" {
		t.Fatalf("simulator media after attach: %+v", sys.Media())
	}
	if err := nodes.DetachVirtualMedia(ctx, c, n.UUID, nodes.DetachVirtualMediaOpts{}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if m := mediaNamed(sys, "Cd"); m.Inserted {
		t.Fatalf("simulator media after detach: %+v", sys.Media())
	}

	provision := func(target nodes.TargetProvisionState, want string) {
		t.Helper()
		if err := nodes.ChangeProvisionState(ctx, c, n.UUID, nodes.ProvisionStateOpts{Target: target}).ExtractErr(); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		got := waitNode(t, c, n.UUID, want, provisionIs(want))
		if got.LastError != "" {
			t.Fatalf("%s: last_error %q", target, got.LastError)
		}
	}
	provision(nodes.TargetManage, "manageable")
	provision(nodes.TargetProvide, "available")
	if _, err := nodes.Update(ctx, c, n.UUID, nodes.UpdateOpts{nodes.UpdateOperation{
		Op: nodes.AddOp, Path: "/instance_info/boot_iso", Value: "http://images.example/os.iso"}}).Extract(); err != nil {
		t.Fatal(err)
	}
	provision(nodes.TargetActive, "active")
	if m := mediaNamed(sys, "Cd"); !m.Inserted || m.Image != "http://images.example/os.iso" {
		t.Fatalf("after deploy the simulator's CD holds %+v", m)
	}
	if sys.PowerState() != simulator.PowerOn || sys.BootOverride().Target != "Cd" {
		t.Fatalf("after deploy: power %q boot %+v", sys.PowerState(), sys.BootOverride())
	}
	provision(nodes.TargetDeleted, "available")
	if m := mediaNamed(sys, "Cd"); m.Inserted || sys.PowerState() != simulator.PowerOff {
		t.Fatalf("after undeploy: media %+v power %q", m, sys.PowerState())
	}

	// The lock kept every mutation of the BMC apart.
	if over, _ := sim.Overlaps(id); over != 0 {
		t.Fatalf("%d overlapping mutations on the BMC", over)
	}
	if strings.Contains(e.logs.String(), bmcPassword) {
		t.Fatalf("the log holds the BMC password")
	}
	for _, path := range []string{"/v1/nodes/" + n.UUID, "/v1/nodes/detail", "/v1/nodes/" + n.UUID + "/validate"} {
		if _, body := call(t, "GET", e.URL+path, "latest", ""); strings.Contains(string(body), bmcPassword) {
			t.Fatalf("GET %s shows the BMC password", path)
		}
	}
}

const bmcPassword = "rf-s3cret-77"

// startBMCSim starts a simulator of systems systems whose BMCs take admin
// and bmcPassword, closed with the test.
func startBMCSim(t *testing.T, systems int) *simulator.Simulator {
	t.Helper()
	sim := simtest.Start(t, simulator.Config{Systems: systems, Username: "admin", Password: bmcPassword})
	return sim
}

func mediaNamed(sys *simulator.System, id string) simulator.Media {
	for _, m := range sys.Media() {
		if m.ID == id {
			return m
		}
	}
	return simulator.Media{}
}
