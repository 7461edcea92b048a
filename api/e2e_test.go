package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/conductors"
	gcdrivers "github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/drivers"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/ports"
)

// waitNode polls the node until ok accepts it. The bound only keeps a
// broken agent from hanging the test; nothing is timed.
func waitNode(t *testing.T, c *gophercloud.ServiceClient, id string, what string, ok func(*nodes.Node) bool) *nodes.Node {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := nodes.Get(context.Background(), c, id).Extract()
		if err != nil {
			t.Fatalf("get node %s: %v", id, err)
		}
		if ok(n) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s never reached %s: power %q target %q, provision %q target %q, last_error %q",
				id, what, n.PowerState, n.TargetPowerState, n.ProvisionState, n.TargetProvisionState, n.LastError)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// powerIs accepts a node that reached st and whose worker released it (a
// worker records the outcome, then releases the lock).
func powerIs(st string) func(*nodes.Node) bool {
	return func(n *nodes.Node) bool { return n.PowerState == st && n.TargetPowerState == "" && n.Reservation == "" }
}

func provisionIs(st string) func(*nodes.Node) bool {
	return func(n *nodes.Node) bool {
		return n.ProvisionState == st && n.TargetProvisionState == "" && n.Reservation == ""
	}
}

// statusOf returns the HTTP status of a gophercloud error.
func statusOf(err error) int {
	var e gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &e) {
		return e.Actual
	}
	return 0
}

func bodyOf(err error) string {
	var e gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &e) {
		return string(e.Body)
	}
	return ""
}

// TestGophercloudLifecycle drives the agent with gophercloud's baremetal
// client, a real Ironic client: enroll a node and a port, power, boot
// device, virtual media, validate, maintenance, and the provision cycle
// manage, provide, deploy, undeploy.
func TestGophercloudLifecycle(t *testing.T) {
	lifecycle(t, newEnv(t, envOptions{}))
}

// The same on PostgreSQL, the database several agents share.
func TestGophercloudLifecyclePostgres(t *testing.T) {
	lifecycle(t, newEnv(t, envOptions{dsn: pgtest.DSN(t)}))
}

func lifecycle(t *testing.T, e *env) {
	c := e.client(t, "1.89")
	ctx := context.Background()

	n, err := nodes.Create(ctx, c, nodes.CreateOpts{
		Name: "node-1", Driver: "fake",
		DriverInfo: map[string]any{"fake_address": "10.0.0.1", "fake_password": "s3cret"},
		Properties: map[string]any{"cpus": 8},
	}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if n.UUID == "" || n.Name != "node-1" || n.ProvisionState != "enroll" || n.Driver != "fake" {
		t.Fatalf("created node: %+v", n)
	}
	if n.DriverInfo["fake_password"] != drivers.Redacted || n.DriverInfo["fake_address"] != "10.0.0.1" {
		t.Fatalf("driver_info shown as %v", n.DriverInfo)
	}
	if n.PowerInterface != "fake" || n.BootInterface != "fake-virtual-media" || n.DeployInterface != "ramdisk" {
		t.Fatalf("interfaces: power %q boot %q deploy %q", n.PowerInterface, n.BootInterface, n.DeployInterface)
	}

	p, err := ports.Create(ctx, c, ports.CreateOpts{NodeUUID: n.UUID, Address: "52:54:00:AA:BB:01"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if p.Address != "52:54:00:aa:bb:01" || p.NodeUUID != n.UUID || !p.PXEEnabled {
		t.Fatalf("created port: %+v", p)
	}
	pages, err := ports.ListDetail(c, ports.ListOpts{Node: "node-1"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps, _ := ports.ExtractPorts(pages); len(ps) != 1 || ps[0].UUID != p.UUID {
		t.Fatalf("ports of node-1: %+v", ps)
	}

	// Power: on, off, reboot; the state changes in the fake BMC and on the node.
	for _, step := range []struct {
		target nodes.TargetPowerState
		want   drivers.PowerState
	}{{nodes.PowerOn, drivers.PowerOn}, {nodes.PowerOff, drivers.PowerOff}, {nodes.Rebooting, drivers.PowerOn}} {
		if err := nodes.ChangePowerState(ctx, c, "node-1", nodes.PowerStateOpts{Target: step.target}).ExtractErr(); err != nil {
			t.Fatalf("%s: %v", step.target, err)
		}
		waitNode(t, c, n.UUID, string(step.want), powerIs(string(step.want)))
		if got, _, _ := e.fake.State(n.UUID); got != step.want {
			t.Fatalf("after %s the BMC is %q", step.target, got)
		}
	}

	// Boot device.
	if err := nodes.SetBootDevice(ctx, c, n.UUID, nodes.BootDeviceOpts{BootDevice: "pxe", Persistent: true}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	bd, err := nodes.GetBootDevice(ctx, c, n.UUID).Extract()
	if err != nil || bd.BootDevice != "pxe" || !bd.Persistent {
		t.Fatalf("boot device: %+v, %v", bd, err)
	}
	supported, err := nodes.GetSupportedBootDevices(ctx, c, n.UUID).Extract()
	if err != nil || !containsString(supported, "pxe") || !containsString(supported, "cdrom") {
		t.Fatalf("supported boot devices: %v, %v", supported, err)
	}

	// Virtual media.
	if err := nodes.AttachVirtualMedia(ctx, c, n.UUID, nodes.AttachVirtualMediaOpts{
		DeviceType: nodes.VirtualMediaCD, ImageURL: "http://images.example/tools.iso"}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, _, media := e.fake.State(n.UUID); !media[0].Inserted || media[0].Image != "http://images.example/tools.iso" {
		t.Fatalf("media after attach: %+v", media)
	}
	if err := nodes.DetachVirtualMedia(ctx, c, n.UUID, nodes.DetachVirtualMediaOpts{
		DeviceTypes: []nodes.VirtualMediaDeviceType{nodes.VirtualMediaCD}}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, _, media := e.fake.State(n.UUID); media[0].Inserted {
		t.Fatalf("media after detach: %+v", media)
	}

	// Validate: power and management pass; deploy needs a boot ISO.
	val, err := nodes.Validate(ctx, c, n.UUID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if !val.Power.Result || !val.Management.Result || !val.Boot.Result || val.Deploy.Result || !strings.Contains(val.Deploy.Reason, "boot_iso") {
		t.Fatalf("validate: %+v", val)
	}

	// Maintenance.
	if err := nodes.SetMaintenance(ctx, c, n.UUID, nodes.MaintenanceOpts{Reason: "disk swap"}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	got, _ := nodes.Get(ctx, c, n.UUID).Extract()
	if !got.Maintenance || got.MaintenanceReason != "disk swap" {
		t.Fatalf("after set maintenance: %v %q", got.Maintenance, got.MaintenanceReason)
	}
	if err := nodes.UnsetMaintenance(ctx, c, n.UUID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	got, _ = nodes.Get(ctx, c, n.UUID).Extract()
	if got.Maintenance || got.MaintenanceReason != "" {
		t.Fatalf("after unset maintenance: %v %q", got.Maintenance, got.MaintenanceReason)
	}

	// Provisioning: manage, provide, deploy (ramdisk: ISO in the virtual
	// CD, boot from it, power on), undeploy (eject, power off).
	provision := func(target nodes.TargetProvisionState, want string) {
		t.Helper()
		if err := nodes.ChangeProvisionState(ctx, c, n.UUID, nodes.ProvisionStateOpts{Target: target}).ExtractErr(); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		waitNode(t, c, n.UUID, want, provisionIs(want))
	}
	provision(nodes.TargetManage, "manageable")
	provision(nodes.TargetProvide, "available")
	err = nodes.ChangeProvisionState(ctx, c, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetActive}).ExtractErr()
	if statusOf(err) != http.StatusBadRequest || !strings.Contains(bodyOf(err), "boot_iso") {
		t.Fatalf("deploy without boot_iso: %v", err)
	}
	if _, err := nodes.Update(ctx, c, n.UUID, nodes.UpdateOpts{nodes.UpdateOperation{
		Op: nodes.AddOp, Path: "/instance_info/boot_iso", Value: "http://images.example/os.iso"}}).Extract(); err != nil {
		t.Fatal(err)
	}
	provision(nodes.TargetActive, "active")
	power, dev, media := e.fake.State(n.UUID)
	if power != drivers.PowerOn || dev.Device != drivers.BootCDROM || !media[0].Inserted || media[0].Image != "http://images.example/os.iso" {
		t.Fatalf("after deploy the BMC has power %q, boot %q, media %+v", power, dev.Device, media)
	}
	if d := nodes.Delete(ctx, c, n.UUID).ExtractErr(); statusOf(d) != http.StatusConflict {
		t.Fatalf("delete of an active node: %v", d)
	}
	provision(nodes.TargetDeleted, "available")
	power, _, media = e.fake.State(n.UUID)
	if power != drivers.PowerOff || media[0].Inserted {
		t.Fatalf("after undeploy the BMC has power %q, media %+v", power, media)
	}
	got, _ = nodes.Get(ctx, c, n.UUID).Extract()
	if len(got.InstanceInfo) != 0 || got.PowerState != "power off" || got.LastError != "" {
		t.Fatalf("after undeploy: instance_info %v power %q last_error %q", got.InstanceInfo, got.PowerState, got.LastError)
	}

	// The task logs of the work a request started carry its id.
	if !regexp.MustCompile(`msg="provision state changed".* request_id=req-[0-9a-f-]{36}`).MatchString(e.logs.String()) {
		t.Errorf("no task log line names its request:\n%s", e.logs.String())
	}

	// The agent lists itself as a conductor, with its drivers.
	cpages, err := conductors.List(c, conductors.ListOpts{Detail: true}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := conductors.ExtractConductors(cpages)
	if err != nil || len(cs) != 1 || cs[0].Hostname != "agent-test" || !cs[0].Alive || !containsString(cs[0].Drivers, "fake") {
		t.Fatalf("conductors: %+v, %v", cs, err)
	}
	dpages, err := gcdrivers.ListDrivers(c, gcdrivers.ListDriversOpts{}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := gcdrivers.ExtractDrivers(dpages); err != nil || len(ds) != 1 || ds[0].Name != "fake" {
		t.Fatalf("drivers: %+v, %v", ds, err)
	}

	if err := ports.Delete(ctx, c, p.UUID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := nodes.Delete(ctx, c, n.UUID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes.Get(ctx, c, n.UUID).Extract(); statusOf(err) != http.StatusNotFound {
		t.Fatalf("get after delete: %v", err)
	}
}

// gated is the fake driver under another name, whose power changes wait
// for the test to open the gate: background work that holds a node's lock
// for as long as a test needs.
type gated struct {
	*fake.Driver
	gate chan struct{}
}

func newGated() *gated { return &gated{Driver: fake.New(), gate: make(chan struct{})} }

func (g *gated) Name() string { return "gated" }

func (g *gated) SetPowerState(ctx context.Context, n drivers.Node, a drivers.PowerAction, timeout time.Duration) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Driver.SetPowerState(ctx, n, a, timeout)
}

// TestGophercloudLockedNode: while background work holds a node, another
// change is refused with 409 naming the holder and the purpose.
func TestGophercloudLockedNode(t *testing.T) {
	g := newGated()
	e := newEnv(t, envOptions{drivers: []drivers.Driver{g}})
	c := e.client(t, "1.89")
	ctx := context.Background()
	n, err := nodes.Create(ctx, c, nodes.CreateOpts{Driver: "gated", Name: "slow"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes.ChangePowerState(ctx, c, n.UUID, nodes.PowerStateOpts{Target: nodes.PowerOn}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	busy, _ := nodes.Get(ctx, c, n.UUID).Extract()
	if busy.Reservation != "agent-test" || busy.TargetPowerState != "power on" {
		t.Fatalf("while powering on: reservation %q target %q", busy.Reservation, busy.TargetPowerState)
	}
	err = nodes.SetBootDevice(ctx, c, n.UUID, nodes.BootDeviceOpts{BootDevice: "pxe"}).ExtractErr()
	if statusOf(err) != http.StatusConflict {
		t.Fatalf("set boot device on a locked node: %v", err)
	}
	for _, want := range []string{"locked by agent agent-test", `for "power on"`} {
		if msg := faultString(t, []byte(bodyOf(err))); !strings.Contains(msg, want) {
			t.Errorf("409 message %q lacks %q", msg, want)
		}
	}
	if err := nodes.Delete(ctx, c, n.UUID).ExtractErr(); statusOf(err) != http.StatusConflict {
		t.Fatalf("delete of a locked node: %v", err)
	}
	close(g.gate)
	// The worker records the outcome, then releases the lock.
	done := waitNode(t, c, n.UUID, "power on", powerIs("power on"))
	if done.Reservation != "" || done.LastError != "" {
		t.Fatalf("after the work: reservation %q last_error %q", done.Reservation, done.LastError)
	}
}

// faultString decodes Ironic's error body: error_message is a JSON string
// holding {"faultcode", "faultstring", "debuginfo"}.
func faultString(t testing.TB, body []byte) string {
	t.Helper()
	var outer struct {
		ErrorMessage string `json:"error_message"`
	}
	if err := json.Unmarshal(body, &outer); err != nil || outer.ErrorMessage == "" {
		t.Fatalf("not an Ironic error body: %s", body)
	}
	var inner struct {
		FaultCode   string  `json:"faultcode"`
		FaultString string  `json:"faultstring"`
		DebugInfo   *string `json:"debuginfo"`
	}
	if err := json.Unmarshal([]byte(outer.ErrorMessage), &inner); err != nil || inner.FaultString == "" || inner.FaultCode == "" {
		t.Fatalf("error_message is not an encoded fault: %q", outer.ErrorMessage)
	}
	return inner.FaultString
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Failed work is recorded: a power change the BMC refuses clears the target
// and fills last_error; a deploy that fails moves the node to deploy failed
// with last_error, and undeploy from there returns it to available.
func TestFailuresRecorded(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client(t, "1.89")
	ctx := context.Background()
	n, err := nodes.Create(ctx, c, nodes.CreateOpts{Driver: "fake", Name: "flaky"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes.Update(ctx, c, n.UUID, nodes.UpdateOpts{nodes.UpdateOperation{
		Op: nodes.AddOp, Path: "/instance_info", Value: map[string]any{"boot_iso": "http://images.example/os.iso"}}}).Extract(); err != nil {
		t.Fatal(err)
	}
	for _, target := range []nodes.TargetProvisionState{nodes.TargetManage, nodes.TargetProvide} {
		if err := nodes.ChangeProvisionState(ctx, c, n.UUID, nodes.ProvisionStateOpts{Target: target}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		waitNode(t, c, n.UUID, "settled", func(n *nodes.Node) bool { return n.TargetProvisionState == "" && n.Reservation == "" })
	}
	e.fake.Inject(n.UUID, fake.Fault{Err: fmt.Errorf("%w: simulated fault", drivers.ErrBMCFailed)})
	if err := nodes.ChangePowerState(ctx, c, n.UUID, nodes.PowerStateOpts{Target: nodes.PowerOn}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	got := waitNode(t, c, n.UUID, "a recorded failure", func(n *nodes.Node) bool { return n.LastError != "" && n.Reservation == "" })
	if got.TargetPowerState != "" || !strings.Contains(got.LastError, "simulated fault") || got.PowerState == "power on" {
		t.Fatalf("after a failed power on: power %q target %q last_error %q", got.PowerState, got.TargetPowerState, got.LastError)
	}
	if err := nodes.ChangeProvisionState(ctx, c, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetActive}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	got = waitNode(t, c, n.UUID, "deploy failed", provisionIs("deploy failed"))
	if !strings.Contains(got.LastError, "simulated fault") {
		t.Fatalf("deploy failed with last_error %q", got.LastError)
	}
	e.fake.Inject(n.UUID, fake.Fault{})
	if err := nodes.ChangeProvisionState(ctx, c, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetDeleted}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	got = waitNode(t, c, n.UUID, "available", provisionIs("available"))
	if got.LastError != "" {
		t.Fatalf("after undeploy: last_error %q", got.LastError)
	}
}
