package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/ports"

	"github.com/bmc-agent/bmc-agent/api"
	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/simtest"
)

// inspectEnv is an agent with the redfish driver and a simulator.
func inspectEnv(t *testing.T, cfg simulator.Config, addPorts api.AddPorts, overwrite ...bool) (*env, *simulator.Simulator, *gophercloud.ServiceClient) {
	t.Helper()
	cfg.Username, cfg.Password = "admin", bmcPassword
	sim := simtest.Start(t, cfg)
	rf := redfish.New(redfish.Options{RetryBackoff: time.Millisecond, MaxRetries: 1})
	e := newEnv(t, envOptions{drivers: []drivers.Driver{rf}, addPorts: addPorts, overwrite: len(overwrite) > 0 && overwrite[0]})
	return e, sim, e.client(t, "latest")
}

// enrollManageable creates a redfish node at endpoint and makes it
// manageable.
func enrollManageable(t *testing.T, c *gophercloud.ServiceClient, name, endpoint, id string, props map[string]any) *nodes.Node {
	t.Helper()
	ctx := context.Background()
	n, err := nodes.Create(ctx, c, nodes.CreateOpts{Name: name, Driver: "redfish", Properties: props, DriverInfo: map[string]any{
		redfish.InfoAddress: endpoint, redfish.InfoSystemID: id,
		redfish.InfoUsername: "admin", redfish.InfoPassword: bmcPassword,
	}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes.ChangeProvisionState(ctx, c, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetManage}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	return waitNode(t, c, n.UUID, "manageable", provisionIs("manageable"))
}

// inspectNode runs the inspect verb and waits for its outcome.
func inspectNode(t *testing.T, c *gophercloud.ServiceClient, uuid, want string) *nodes.Node {
	t.Helper()
	if err := nodes.ChangeProvisionState(context.Background(), c, uuid, nodes.ProvisionStateOpts{Target: nodes.TargetInspect}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	return waitNode(t, c, uuid, want, provisionIs(want))
}

// nodePorts lists the MACs of a node's ports.
func nodePorts(t *testing.T, c *gophercloud.ServiceClient, uuid string) []string {
	t.Helper()
	pages, err := ports.List(c, ports.ListOpts{NodeUUID: uuid}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ports.ExtractPorts(pages)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.Address)
	}
	slices.Sort(out)
	return out
}

var ironicArch = map[string]string{"x86-64": "x86_64", "ARM-A64": "aarch64"}

// TestInspectThroughAPI inspects systems of every profile and of the
// inventory switches through the API and reads the result with
// gophercloud's inventory client: it is what the simulator serves, field by
// field; properties and ports follow; a second inspection changes nothing.
func TestInspectThroughAPI(t *testing.T) {
	var mix []simulator.ProfileShare
	for _, p := range simulator.Profiles() {
		mix = append(mix, simulator.ProfileShare{Name: p.Name, Weight: 1})
	}
	mix = append(mix, simulator.ProfileShare{Name: "generic", Weight: 1}) // the switches' system
	_, sim, c := inspectEnv(t, simulator.Config{Systems: len(mix), ProfileMix: mix}, "")
	ctx := context.Background()
	ids := sim.SystemIDs()
	// The last system gets the inventory switches.
	if err := sim.System(ids[len(ids)-1]).SetQuirks(simulator.Quirks{NoStorage: true, EmptyMAC: true}); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		hw := sim.System(id).Hardware()
		n := enrollManageable(t, c, "insp-"+id, sim.Endpoint(id), id, map[string]any{"memory_mb": 1})
		if _, err := nodes.GetInventory(ctx, c, n.UUID).Extract(); statusOf(err) != http.StatusNotFound || !strings.Contains(err.Error(), "Node inventory record for node "+n.UUID+" could not be found.") {
			t.Fatalf("%s: inventory before inspection: %v", id, err)
		}
		got := inspectNode(t, c, n.UUID, "manageable")
		if got.LastError != "" || got.InspectionFinishedAt == nil || got.InspectionStartedAt != nil {
			t.Fatalf("%s: after inspection last_error %q started %v finished %v", id, got.LastError, got.InspectionStartedAt, got.InspectionFinishedAt)
		}
		data, err := nodes.GetInventory(ctx, c, n.UUID).Extract()
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		inv := data.Inventory
		if inv.CPU.Count != hw.CPUs || inv.CPU.Architecture != ironicArch[hw.InstructionSet] || inv.CPU.ModelName != hw.CPUModel || inv.CPU.Frequency != strconv.Itoa(hw.CPUMaxMHz) {
			t.Errorf("%s: cpu %+v, serves %d x %s %s %d MHz", id, inv.CPU, hw.CPUs, hw.CPUModel, hw.InstructionSet, hw.CPUMaxMHz)
		}
		if inv.Memory.PhysicalMb != hw.MemoryMiB {
			t.Errorf("%s: memory %d, serves %d MiB", id, inv.Memory.PhysicalMb, hw.MemoryMiB)
		}
		if len(inv.Disks) != len(hw.Drives) {
			t.Fatalf("%s: %d disks, serves %d", id, len(inv.Disks), len(hw.Drives))
		}
		smallest := int64(0)
		for k, d := range hw.Drives {
			if g := inv.Disks[k]; g.Name != d.Name || g.Size != d.Bytes || g.Model != d.Model {
				t.Errorf("%s: disk %d %+v, serves %+v", id, k, g, d)
			}
			if smallest == 0 || d.Bytes < smallest {
				smallest = d.Bytes
			}
		}
		var wantMACs, linkUp []string
		for _, nic := range append(slices.Clone(hw.NICs), hw.AddOnNICs...) {
			if nic.MAC == "" {
				continue
			}
			wantMACs = append(wantMACs, nic.MAC)
			if nic.LinkUp { // add-on functions report no link
				linkUp = append(linkUp, nic.MAC)
			}
		}
		var gotMACs []string
		for _, nic := range inv.Interfaces {
			gotMACs = append(gotMACs, nic.MACAddress)
		}
		if !slices.Equal(gotMACs, wantMACs) {
			t.Errorf("%s: interfaces %v, serves %v", id, gotMACs, wantMACs)
		}
		serial := hw.SerialNumber
		if strings.HasPrefix(hw.Manufacturer, "Dell") {
			serial = hw.SKU
		}
		if v := inv.SystemVendor; v.Manufacturer != hw.Manufacturer || v.ProductName != hw.Model || v.SerialNumber != serial {
			t.Errorf("%s: system_vendor %+v", id, v)
		}
		if inv.Boot.CurrentBootMode != "uefi" {
			t.Errorf("%s: boot %+v", id, inv.Boot)
		}
		// Properties: memory_mb was the operator's and stays; the rest
		// are inspected.
		props := got.Properties
		if props["memory_mb"] != float64(1) || props["cpus"] != float64(hw.CPUs) || props["cpu_arch"] != ironicArch[hw.InstructionSet] ||
			props["local_gb"] != float64(smallest>>30-1) || props["capabilities"] != "boot_mode:uefi" {
			t.Errorf("%s: properties %v", id, props)
		}
		// Ports: the NICs with link (add_ports pxe without a PXE NIC).
		slices.Sort(linkUp)
		if got := nodePorts(t, c, n.UUID); !slices.Equal(got, linkUp) {
			t.Errorf("%s: ports %v, want the NICs with link %v", id, got, linkUp)
		}
		if i > 0 {
			continue
		}
		// A second inspection changes nothing.
		again := inspectNode(t, c, n.UUID, "manageable")
		data2, err := nodes.GetInventory(ctx, c, n.UUID).Extract()
		if err != nil || !equalJSON(t, data2.Inventory, inv) || !equalJSON(t, again.Properties, props) || !slices.Equal(nodePorts(t, c, n.UUID), linkUp) {
			t.Errorf("second inspection changed something: %v / %v / %v", err, again.Properties, nodePorts(t, c, n.UUID))
		}
	}
}

// equalJSON compares two values by their JSON encoding.
func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return string(x) == string(y)
}

// TestInspectFailsHalfWay: a BMC that answers the System but fails on the
// NICs leaves the node in "inspect failed" with a clear last_error, no
// inventory and no port.
func TestInspectFailsHalfWay(t *testing.T) {
	// The front is closed after the agent (cleanups run last first), so
	// the driver's logout still reaches the BMC.
	var proxy http.Handler
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/EthernetInterfaces") {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	_, sim, c := inspectEnv(t, simulator.Config{Systems: 1}, api.AddPortsAll)
	id := sim.SystemIDs()[0]
	target, _ := url.Parse(sim.URL())
	proxy = httputil.NewSingleHostReverseProxy(target)
	n := enrollManageable(t, c, "half", front.URL, id, nil)
	got := inspectNode(t, c, n.UUID, "inspect failed")
	if !strings.Contains(got.LastError, "EthernetInterfaces") || !strings.Contains(got.LastError, "500") || got.InspectionStartedAt != nil {
		t.Errorf("last_error %q, started %v", got.LastError, got.InspectionStartedAt)
	}
	if ps := nodePorts(t, c, n.UUID); len(ps) != 0 {
		t.Errorf("ports after a failed inspection: %v", ps)
	}
	if _, err := nodes.GetInventory(context.Background(), c, n.UUID).Extract(); statusOf(err) != http.StatusNotFound {
		t.Errorf("inventory after a failed inspection: %v", err)
	}
}

// TestInspectFake: the fake driver's inspection finds nothing, as Ironic's
// fake inspect: the node returns to manageable with an empty inventory, its
// properties untouched and no port.
func TestInspectFake(t *testing.T) {
	e := newEnv(t, envOptions{addPorts: api.AddPortsAll})
	c := e.client(t, "latest")
	ctx := context.Background()
	n, err := nodes.Create(ctx, c, nodes.CreateOpts{Name: "f1", Driver: "fake", Properties: map[string]any{"cpus": 8}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes.ChangeProvisionState(ctx, c, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetManage}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitNode(t, c, n.UUID, "manageable", provisionIs("manageable"))
	got := inspectNode(t, c, n.UUID, "manageable")
	if got.LastError != "" || !equalJSON(t, got.Properties, map[string]any{"cpus": 8}) || len(nodePorts(t, c, n.UUID)) != 0 {
		t.Fatalf("after a fake inspection: last_error %q properties %v", got.LastError, got.Properties)
	}
	data, err := nodes.GetInventory(ctx, c, n.UUID).Extract()
	if err != nil || data.Inventory.CPU.Count != 0 || len(data.Inventory.Interfaces) != 0 {
		t.Fatalf("fake inventory %+v, %v", data, err)
	}
}

// TestInspectMockupsThroughAPI inspects each DMTF mockup through the API and
// compares the inventory gophercloud reads with the mockup's files.
func TestInspectMockupsThroughAPI(t *testing.T) {
	const mockups = "../simulator/testdata/redfish-mockups"
	for _, m := range []string{"public-rackmount1", "public-tower", "public-bladed"} {
		t.Run(m, func(t *testing.T) {
			_, sim, c := inspectEnv(t, simulator.Config{MockupDir: mockups + "/" + m}, api.AddPortsAll)
			id := sim.SystemIDs()[0]
			n := enrollManageable(t, c, "mock", sim.Endpoint(id), id, nil)
			if got := inspectNode(t, c, n.UUID, "manageable"); got.LastError != "" {
				t.Fatalf("last_error %q", got.LastError)
			}
			data, err := nodes.GetInventory(context.Background(), c, n.UUID).Extract()
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(mockups, m, "Systems", filepath.Base(id))
			var sys struct {
				Manufacturer, Model, SerialNumber string
				ProcessorSummary                  struct{ Count int }
				MemorySummary                     struct{ TotalSystemMemoryGiB float64 }
			}
			readMockup(t, filepath.Join(dir, "index.json"), &sys)
			inv := data.Inventory
			if inv.CPU.Count != sys.ProcessorSummary.Count || inv.Memory.PhysicalMb != int(sys.MemorySummary.TotalSystemMemoryGiB*1024) ||
				inv.SystemVendor.Manufacturer != sys.Manufacturer || inv.SystemVendor.ProductName != sys.Model || inv.SystemVendor.SerialNumber != sys.SerialNumber {
				t.Errorf("inventory %+v / %+v, mockup %+v", inv.CPU, inv.SystemVendor, sys)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "EthernetInterfaces", "*", "index.json"))
			want := map[string]bool{}
			for _, f := range files {
				var e struct{ MACAddress string }
				readMockup(t, f, &e)
				if e.MACAddress != "" {
					want[strings.ToLower(e.MACAddress)] = true
				}
			}
			got := map[string]bool{}
			for _, nic := range inv.Interfaces {
				got[nic.MACAddress] = true
			}
			for mac := range want {
				if !got[mac] {
					t.Errorf("MAC %s of the mockup is not in the inventory %v", mac, got)
				}
			}
			// add_ports all: one port per distinct MAC, no duplicate.
			if ps := nodePorts(t, c, n.UUID); len(ps) != len(got) {
				t.Errorf("ports %v for interfaces %v", ps, got)
			}
		})
	}
}

func readMockup(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// TestInspectOverwrite: asked to, inspection replaces the operator's
// memory_mb; the operator's boot_mode capability stays in any case.
func TestInspectOverwrite(t *testing.T) {
	_, sim, c := inspectEnv(t, simulator.Config{Systems: 1}, api.AddPortsDisabled, true)
	id := sim.SystemIDs()[0]
	hw := sim.System(id).Hardware()
	n := enrollManageable(t, c, "ow", sim.Endpoint(id), id, map[string]any{"memory_mb": 1, "capabilities": "boot_mode:bios"})
	got := inspectNode(t, c, n.UUID, "manageable")
	if got.Properties["memory_mb"] != float64(hw.MemoryMiB) || got.Properties["capabilities"] != "boot_mode:bios" {
		t.Fatalf("properties %v", got.Properties)
	}
	if ps := nodePorts(t, c, n.UUID); len(ps) != 0 {
		t.Fatalf("add_ports disabled made ports %v", ps)
	}
}

// TestInspectFencedWritesNothing: when the inspection's lock changes hands
// while it reads the BMC (another agent swept it), the inspection stores no
// inventory and creates no port: its writes beside the node are fenced like
// its Save. The lock is moved by the BMC's front, on the first NIC read.
func TestInspectFencedWritesNothing(t *testing.T) {
	var proxy http.Handler
	var e *env
	var nodeID string
	var steal sync.Once
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/EthernetInterfaces") {
			steal.Do(func() {
				ctx := context.Background()
				n, err := e.db.Node(ctx, nodeID)
				if err == nil {
					err = e.db.Release(ctx, nodeID, lock.Lease{Holder: n.Reservation, Token: lock.Token(n.LockToken)})
				}
				if err == nil {
					_, err = e.db.Reserve(ctx, nodeID, lock.Reservation{Holder: "agent-other", Purpose: "swept"})
				}
				if err != nil {
					t.Errorf("moving the lock: %v", err)
				}
			})
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	e, sim, c := inspectEnv(t, simulator.Config{Systems: 1}, api.AddPortsAll)
	target, _ := url.Parse(sim.URL())
	proxy = httputil.NewSingleHostReverseProxy(target)
	n := enrollManageable(t, c, "fenced", front.URL, sim.SystemIDs()[0], nil)
	nodeID = n.UUID
	if err := nodes.ChangeProvisionState(context.Background(), c, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetInspect}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	// The work ends by failing to record its failure: the node is the
	// other agent's.
	for deadline := time.Now().Add(time.Minute); !strings.Contains(e.logs.String(), "cannot record the failure of background work"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the inspection did not end:\n%s", e.logs.String())
		}
	}
	if !strings.Contains(e.logs.String(), "agent-other") {
		t.Errorf("the failure does not name the lock's new holder:\n%s", e.logs.String())
	}
	if ps := nodePorts(t, c, n.UUID); len(ps) != 0 {
		t.Errorf("a fenced inspection created ports: %v", ps)
	}
	if _, err := nodes.GetInventory(context.Background(), c, n.UUID).Extract(); statusOf(err) != http.StatusNotFound {
		t.Errorf("a fenced inspection stored an inventory: %v", err)
	}
	got, err := e.db.Node(context.Background(), n.UUID)
	if err != nil || got.Reservation != "agent-other" || got.ProvisionState != "inspecting" || got.Properties["cpus"] != nil {
		t.Errorf("node after the fenced inspection: %+v, %v", got, err)
	}
	// Hand the node back so that the agent's shutdown finds it unlocked.
	if err := e.db.Release(context.Background(), n.UUID, lock.Lease{Holder: "agent-other", Token: lock.Token(got.LockToken)}); err != nil {
		t.Fatal(err)
	}
}
