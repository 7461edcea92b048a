// Package storetest is the conformance suite of store.Store: every backend
// runs it (see store/sqlstore's tests) so that they all behave alike.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
)

// Opener returns a store on a fresh, empty database. Backends that also
// implement lock.Backend get the tests that need a reserved node.
type Opener func(t *testing.T) store.Store

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"NodeCRUD", testNodeCRUD},
		{"NodeNameUnique", testNodeNameUnique},
		{"NodeUpdateVersion", testNodeUpdateVersion},
		{"NodeFilters", testNodeFilters},
		{"NodePaging", testNodePaging},
		{"NodeChildren", testNodeChildren},
		{"DeleteReservedNode", testDeleteReserved},
		{"Ports", testPorts},
		{"VolumeConnectors", testConnectors},
		{"VolumeTargets", testTargets},
		{"Agents", testAgents},
		{"Ping", func(t *testing.T, s store.Store) {
			if err := s.Ping(context.Background()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			tc.fn(t, s)
		})
	}
}

func ctx() context.Context { return context.Background() }

// NewNode returns a node ready to create, named name (which may be "").
func NewNode(name string) *store.Node {
	return &store.Node{
		Name:           name,
		Driver:         "fake",
		DriverInfo:     store.JSON{"address": "10.0.0.1", "password": "secret"},
		ProvisionState: "enroll",
		PowerState:     "power off",
		Properties:     store.JSON{"cpus": float64(8)},
		Extra:          store.JSON{},
		InstanceInfo:   store.JSON{},
	}
}

func mustCreate(t *testing.T, s store.Store, name string) *store.Node {
	t.Helper()
	n := NewNode(name)
	if err := s.CreateNode(ctx(), n); err != nil {
		t.Fatalf("CreateNode(%q): %v", name, err)
	}
	return n
}

func testNodeCRUD(t *testing.T, s store.Store) {
	n := mustCreate(t, s, "node-1")
	if !store.IsUUID(n.UUID) || n.CreatedAt.IsZero() || n.Version != 1 {
		t.Fatalf("created node lacks uuid, created_at or version: %+v", n)
	}
	for _, ident := range []string{n.UUID, "node-1"} {
		got, err := s.Node(ctx(), ident)
		if err != nil {
			t.Fatalf("Node(%q): %v", ident, err)
		}
		if got.UUID != n.UUID || got.Name != "node-1" || got.DriverInfo["password"] != "secret" ||
			got.Properties["cpus"] != float64(8) || got.Reservation != "" || got.Maintenance {
			t.Fatalf("Node(%q) = %+v", ident, got)
		}
	}
	got, _ := s.Node(ctx(), n.UUID)
	got.PowerState = "power on"
	got.Maintenance = true
	got.MaintenanceReason = "disk"
	now := time.Now().UTC().Truncate(time.Microsecond)
	got.ProvisionUpdatedAt = &now
	got.Extra = store.JSON{"rack": "r1"}
	if err := s.UpdateNode(ctx(), got); err != nil {
		t.Fatalf("UpdateNode: %v", err)
	}
	again, _ := s.Node(ctx(), n.UUID)
	if again.PowerState != "power on" || !again.Maintenance || again.MaintenanceReason != "disk" ||
		again.Extra["rack"] != "r1" || again.ProvisionUpdatedAt == nil || !again.ProvisionUpdatedAt.Equal(now) || again.Version != 2 {
		t.Fatalf("after update: %+v", again)
	}
	if err := s.DeleteNode(ctx(), n.UUID); err != nil {
		t.Fatalf("DeleteNode: %v", err)
	}
	if _, err := s.Node(ctx(), n.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Node after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteNode(ctx(), n.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteNode: %v, want ErrNotFound", err)
	}
	if _, err := s.Node(ctx(), "no-such-node"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Node(missing): %v, want ErrNotFound", err)
	}
}

func testNodeNameUnique(t *testing.T, s store.Store) {
	a := mustCreate(t, s, "dup")
	if err := s.CreateNode(ctx(), NewNode("dup")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second node named dup: %v, want ErrConflict", err)
	}
	// Nameless nodes do not clash.
	mustCreate(t, s, "")
	mustCreate(t, s, "")
	b := mustCreate(t, s, "other")
	b.Name = "dup"
	if err := s.UpdateNode(ctx(), b); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rename onto a taken name: %v, want ErrConflict", err)
	}
	withUUID := NewNode("")
	withUUID.UUID = a.UUID
	if err := s.CreateNode(ctx(), withUUID); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate UUID: %v, want ErrConflict", err)
	}
	if err := s.CreateNode(ctx(), NewNode("1be26c0b-03f2-4d2e-ae87-c02d7f33c123")); err == nil {
		t.Fatal("a name with the form of a UUID was accepted")
	}
}

func testNodeUpdateVersion(t *testing.T, s store.Store) {
	n := mustCreate(t, s, "")
	first, _ := s.Node(ctx(), n.UUID)
	second, _ := s.Node(ctx(), n.UUID)
	first.LastError = "first"
	if err := s.UpdateNode(ctx(), first); err != nil {
		t.Fatal(err)
	}
	second.LastError = "second"
	if err := s.UpdateNode(ctx(), second); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update from a stale read: %v, want ErrConflict", err)
	}
	got, _ := s.Node(ctx(), n.UUID)
	if got.LastError != "first" {
		t.Fatalf("stale update was written: last_error %q", got.LastError)
	}
	gone := NewNode("")
	gone.UUID = "6f1b1c5e-0000-4000-8000-000000000000"
	if err := s.UpdateNode(ctx(), gone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing node: %v, want ErrNotFound", err)
	}
}

func testNodeFilters(t *testing.T, s store.Store) {
	var ids []string
	for i := range 6 {
		n := NewNode(fmt.Sprintf("n%d", i))
		if i%2 == 0 {
			n.Driver = "redfish"
		}
		if i < 2 {
			n.ProvisionState = "available"
		}
		n.Maintenance = i == 5
		if i == 4 {
			n.Fault = "power failure"
		}
		n.AgentGroup = map[bool]string{true: "east", false: ""}[i == 3]
		if err := s.CreateNode(ctx(), n); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.UUID)
	}
	yes, no, east := true, false, "east"
	cases := []struct {
		name string
		f    store.NodeFilter
		want int
	}{
		{"all", store.NodeFilter{}, 6},
		{"driver", store.NodeFilter{Driver: "redfish"}, 3},
		{"provision", store.NodeFilter{ProvisionState: "available"}, 2},
		{"maintenance", store.NodeFilter{Maintenance: &yes}, 1},
		{"not maintenance", store.NodeFilter{Maintenance: &no}, 5},
		{"group", store.NodeFilter{AgentGroup: &east}, 1},
		{"fault", store.NodeFilter{FaultSet: &yes}, 1},
		{"driver and provision", store.NodeFilter{Driver: "redfish", ProvisionState: "available"}, 1},
		{"unreserved", store.NodeFilter{Reserved: &no}, 6},
		{"reserved", store.NodeFilter{Reserved: &yes}, 0},
	}
	for _, c := range cases {
		got, err := s.Nodes(ctx(), c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != c.want {
			t.Errorf("%s: %d nodes, want %d", c.name, len(got), c.want)
		}
	}
	if b, ok := s.(lock.Backend); ok {
		if _, err := b.Reserve(ctx(), ids[0], lock.Reservation{Holder: "agent-a", Purpose: "test"}); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Nodes(ctx(), store.NodeFilter{Reservation: "agent-a"})
		if len(got) != 1 || got[0].UUID != ids[0] || got[0].ReservationPurpose != "test" || got[0].ReservedAt == nil {
			t.Fatalf("nodes reserved by agent-a: %+v", got)
		}
	}
	if _, err := s.Nodes(ctx(), store.NodeFilter{Page: store.Page{SortKey: "password"}}); !errors.Is(err, store.ErrInvalidQuery) {
		t.Fatalf("sort by an unknown key: %v, want ErrInvalidQuery", err)
	}
}

func testNodePaging(t *testing.T, s store.Store) {
	var want []string
	for i := range 7 {
		n := mustCreate(t, s, fmt.Sprintf("page-%d", 6-i)) // names sort opposite to insertion
		want = append(want, n.UUID)
	}
	var got []string
	marker := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, err := s.Nodes(ctx(), store.NodeFilter{Page: store.Page{Limit: 3, Marker: marker}})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range page {
			got = append(got, n.UUID)
		}
		if len(page) < 3 {
			break
		}
		marker = page[len(page)-1].UUID
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged in insertion order:\n got %v\nwant %v", got, want)
	}
	byName, err := s.Nodes(ctx(), store.NodeFilter{Page: store.Page{SortKey: "name", Limit: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(byName) != 2 || byName[0].Name != "page-0" || byName[1].Name != "page-1" {
		t.Fatalf("sorted by name: %v, %v", byName[0].Name, byName[1].Name)
	}
	next, err := s.Nodes(ctx(), store.NodeFilter{Page: store.Page{SortKey: "name", Desc: true, Marker: byName[1].UUID}})
	if err != nil || len(next) != 1 || next[0].Name != "page-0" {
		t.Fatalf("descending after page-1: %v %v", next, err)
	}
	if _, err := s.Nodes(ctx(), store.NodeFilter{Page: store.Page{Marker: "6f1b1c5e-0000-4000-8000-000000000000"}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown marker: %v, want ErrNotFound", err)
	}
}

func testNodeChildren(t *testing.T, s store.Store) {
	n := mustCreate(t, s, "with-children")
	other := mustCreate(t, s, "")
	for i, mac := range []string{"52:54:00:00:00:02", "52:54:00:00:00:01"} {
		p := &store.Port{NodeUUID: n.UUID, Address: mac, PXEEnabled: i == 0, Extra: store.JSON{"i": float64(i)}}
		if err := s.CreatePort(ctx(), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreatePort(ctx(), &store.Port{NodeUUID: other.UUID, Address: "52:54:00:00:00:03"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateVolumeConnector(ctx(), &store.VolumeConnector{NodeUUID: n.UUID, Type: "iqn", ConnectorID: "iqn.2024-01.org:n1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateVolumeTarget(ctx(), &store.VolumeTarget{NodeUUID: n.UUID, VolumeType: "iscsi", BootIndex: 0, VolumeID: "vol-1",
		Properties: store.JSON{"target_lun": float64(0)}}); err != nil {
		t.Fatal(err)
	}
	// What a task reads on first use: a node's children, in insertion order.
	by := store.ChildFilter{NodeUUID: n.UUID}
	ports, err := s.Ports(ctx(), by)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 2 || ports[0].Address != "52:54:00:00:00:02" || !ports[0].PXEEnabled ||
		ports[1].PXEEnabled || ports[1].Extra["i"] != float64(1) || ports[0].CreatedAt.IsZero() {
		t.Fatalf("the node's ports: %+v %+v", ports[0], ports[1])
	}
	if conns, err := s.VolumeConnectors(ctx(), by); err != nil || len(conns) != 1 || conns[0].ConnectorID != "iqn.2024-01.org:n1" {
		t.Fatalf("the node's connectors: %+v %v", conns, err)
	}
	if targets, err := s.VolumeTargets(ctx(), by); err != nil || len(targets) != 1 || targets[0].VolumeID != "vol-1" || targets[0].Properties["target_lun"] != float64(0) {
		t.Fatalf("the node's targets: %+v %v", targets, err)
	}
	otherBy := store.ChildFilter{NodeUUID: other.UUID}
	bp, err1 := s.Ports(ctx(), otherBy)
	bc, err2 := s.VolumeConnectors(ctx(), otherBy)
	bt, err3 := s.VolumeTargets(ctx(), otherBy)
	if err := errors.Join(err1, err2, err3); err != nil || len(bp) != 1 || len(bc) != 0 || len(bt) != 0 {
		t.Fatalf("children of a node with one port: %d %d %d %v", len(bp), len(bc), len(bt), err)
	}
	// Deleting a node deletes what is attached to it.
	if err := s.DeleteNode(ctx(), n.UUID); err != nil {
		t.Fatal(err)
	}
	ports, _ = s.Ports(ctx(), store.ChildFilter{})
	targets, _ := s.VolumeTargets(ctx(), store.ChildFilter{})
	if len(ports) != 1 || len(targets) != 0 {
		t.Fatalf("after deleting the node: %d ports, %d targets left", len(ports), len(targets))
	}
}

func testDeleteReserved(t *testing.T, s store.Store) {
	b, ok := s.(lock.Backend)
	if !ok {
		t.Fatal("a store backend must also implement lock.Backend: the lock is a column of the node row")
	}
	n := mustCreate(t, s, "")
	tok, err := b.Reserve(ctx(), n.UUID, lock.Reservation{Holder: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNode(ctx(), n.UUID); !errors.Is(err, store.ErrNodeReserved) {
		t.Fatalf("delete reserved: %v, want ErrNodeReserved", err)
	}
	// An update never touches the reservation.
	got, _ := s.Node(ctx(), n.UUID)
	got.Reservation, got.LockToken = "", 0
	got.LastError = "x"
	if err := s.UpdateNode(ctx(), got); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Node(ctx(), n.UUID); again.Reservation != "a" || again.LockToken != int64(tok) {
		t.Fatalf("UpdateNode changed the reservation to %q, token %d (was %d)", again.Reservation, again.LockToken, tok)
	}
	if err := b.Release(ctx(), n.UUID, lock.Lease{Holder: "a", Token: tok}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNode(ctx(), n.UUID); err != nil {
		t.Fatalf("delete after release: %v", err)
	}
}

func testPorts(t *testing.T, s store.Store) {
	n := mustCreate(t, s, "")
	p := &store.Port{NodeUUID: n.UUID, Address: "52:54:00:AB:CD:EF", PXEEnabled: true,
		LocalLinkConnection: store.JSON{"switch_id": "0a:1b:2c:3d:4e:5f", "port_id": "Eth1/1"}}
	if err := s.CreatePort(ctx(), p); err != nil {
		t.Fatal(err)
	}
	for _, ident := range []string{p.UUID, "52:54:00:ab:cd:ef", "52:54:00:AB:CD:EF"} {
		got, err := s.Port(ctx(), ident)
		if err != nil || got.Address != "52:54:00:ab:cd:ef" || got.LocalLinkConnection["port_id"] != "Eth1/1" {
			t.Fatalf("Port(%q) = %+v, %v", ident, got, err)
		}
	}
	if err := s.CreatePort(ctx(), &store.Port{NodeUUID: n.UUID, Address: "52:54:00:ab:cd:ef"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate MAC: %v, want ErrConflict", err)
	}
	if err := s.CreatePort(ctx(), &store.Port{NodeUUID: "6f1b1c5e-0000-4000-8000-000000000000", Address: "52:54:00:00:00:09"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("port of a missing node: %v, want ErrNotFound", err)
	}
	p.PXEEnabled = false
	p.PhysicalNetwork = "physnet1"
	if err := s.UpdatePort(ctx(), p); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Port(ctx(), p.UUID)
	if got.PXEEnabled || got.PhysicalNetwork != "physnet1" {
		t.Fatalf("after update: %+v", got)
	}
	list, err := s.Ports(ctx(), store.ChildFilter{NodeUUID: n.UUID})
	if err != nil || len(list) != 1 {
		t.Fatalf("Ports(node) = %d, %v", len(list), err)
	}
	if err := s.DeletePort(ctx(), p.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Port(ctx(), p.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.UpdatePort(ctx(), p); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update deleted port: %v", err)
	}
}

func testConnectors(t *testing.T, s store.Store) {
	n := mustCreate(t, s, "")
	c := &store.VolumeConnector{NodeUUID: n.UUID, Type: "iqn", ConnectorID: "iqn.a"}
	if err := s.CreateVolumeConnector(ctx(), c); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateVolumeConnector(ctx(), &store.VolumeConnector{NodeUUID: n.UUID, Type: "iqn", ConnectorID: "iqn.a"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate connector: %v", err)
	}
	c.ConnectorID = "iqn.b"
	if err := s.UpdateVolumeConnector(ctx(), c); err != nil {
		t.Fatal(err)
	}
	got, err := s.VolumeConnector(ctx(), c.UUID)
	if err != nil || got.ConnectorID != "iqn.b" {
		t.Fatalf("got %+v %v", got, err)
	}
	if l, _ := s.VolumeConnectors(ctx(), store.ChildFilter{NodeUUID: n.UUID}); len(l) != 1 {
		t.Fatalf("list: %d", len(l))
	}
	if err := s.DeleteVolumeConnector(ctx(), c.UUID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVolumeConnector(ctx(), c.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func testTargets(t *testing.T, s store.Store) {
	n := mustCreate(t, s, "")
	v := &store.VolumeTarget{NodeUUID: n.UUID, VolumeType: "iscsi", BootIndex: 0, VolumeID: "v0"}
	if err := s.CreateVolumeTarget(ctx(), v); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateVolumeTarget(ctx(), &store.VolumeTarget{NodeUUID: n.UUID, VolumeType: "iscsi", BootIndex: 0, VolumeID: "v1"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate boot index: %v", err)
	}
	v.BootIndex = 3
	if err := s.UpdateVolumeTarget(ctx(), v); err != nil {
		t.Fatal(err)
	}
	got, err := s.VolumeTarget(ctx(), v.UUID)
	if err != nil || got.BootIndex != 3 {
		t.Fatalf("got %+v %v", got, err)
	}
	if l, _ := s.VolumeTargets(ctx(), store.ChildFilter{NodeUUID: n.UUID}); len(l) != 1 {
		t.Fatalf("list: %d", len(l))
	}
	if err := s.DeleteVolumeTarget(ctx(), v.UUID); err != nil {
		t.Fatal(err)
	}
}

func testAgents(t *testing.T, s store.Store) {
	if err := s.Heartbeat(ctx(), store.Agent{ID: "a1", Hostname: "host1", Group: "east"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Heartbeat(ctx(), store.Agent{ID: "a2", Hostname: "host2"}); err != nil {
		t.Fatal(err)
	}
	first, _ := s.Agents(ctx(), time.Minute)
	time.Sleep(20 * time.Millisecond)
	if err := s.Heartbeat(ctx(), store.Agent{ID: "a1", Hostname: "host1b", Group: "east"}); err != nil {
		t.Fatal(err)
	}
	agents, err := s.Agents(ctx(), time.Minute)
	if err != nil || len(agents) != 2 {
		t.Fatalf("Agents = %+v, %v", agents, err)
	}
	a1 := agents[0]
	if a1.ID != "a1" || a1.Hostname != "host1b" || a1.Group != "east" || !a1.Alive ||
		!a1.LastHeartbeat.After(first[0].LastHeartbeat) || !a1.StartedAt.Equal(first[0].StartedAt) {
		t.Fatalf("a1 after second heartbeat: %+v (first %+v)", a1, first[0])
	}
	time.Sleep(60 * time.Millisecond)
	if err := s.Heartbeat(ctx(), store.Agent{ID: "a2", Hostname: "host2"}); err != nil {
		t.Fatal(err)
	}
	agents, _ = s.Agents(ctx(), 50*time.Millisecond)
	if agents[0].Alive || !agents[1].Alive {
		t.Fatalf("with a 50ms timeout a1 should be dead and a2 alive: %+v", agents)
	}
	if err := s.DeleteAgent(ctx(), "a1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAgent(ctx(), "a1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteAgent: %v", err)
	}
}
