package telemetry

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/store"
)

// bmcKey names the BMC endpoint a node is read through: its driver and the
// driver_info values that address the BMC (every "*_address" and "*_port"
// key: redfish_address, ipmi_address and ipmi_port, ...). Nodes behind one
// BMC (blades of one chassis manager, the systems of one Redfish service)
// share the key. A node without an address is its own BMC.
func bmcKey(n *store.Node) string {
	info := drivers.Info(n.DriverInfo)
	var parts []string
	for k := range info {
		if strings.HasSuffix(k, "_address") || strings.HasSuffix(k, "_port") {
			if v, ok := info.String(k); ok {
				parts = append(parts, k+"="+strings.TrimRight(strings.ToLower(strings.TrimSpace(v)), "/"))
			}
		}
	}
	if len(parts) == 0 {
		return "node:" + n.UUID
	}
	slices.Sort(parts)
	return n.Driver + ":" + strings.Join(parts, ",")
}

// gate lets one read at a time through per BMC endpoint.
type gate struct {
	mu sync.Mutex
	m  map[string]*gateSlot
}

type gateSlot struct {
	ch   chan struct{} // holds a token while a read is in flight
	refs int           // goroutines holding or waiting for the slot
}

// enter waits until no read of key is in flight and returns the function
// that ends this one.
func (g *gate) enter(ctx context.Context, key string) (func(), error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = make(map[string]*gateSlot)
	}
	s, ok := g.m[key]
	if !ok {
		s = &gateSlot{ch: make(chan struct{}, 1)}
		g.m[key] = s
	}
	s.refs++
	g.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
		return func() { <-s.ch; g.leave(key, s) }, nil
	case <-ctx.Done():
		g.leave(key, s)
		return nil, ctx.Err()
	}
}

func (g *gate) leave(key string, s *gateSlot) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s.refs--; s.refs == 0 {
		delete(g.m, key)
	}
}
