package faultinject

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
)

// ErrInjected is the error an Action without its own Err returns: it
// matches store.ErrUnavailable, as a database that did not answer would.
var ErrInjected = fmt.Errorf("injected fault: %w", store.ErrUnavailable)

// Backend is what Store wraps: the inventory and the lock backend on one
// database, with the lock-and-read statement of sqlstore.DB.
type Backend interface {
	store.Store
	lock.Backend
	ReserveNode(ctx context.Context, uuid string, r lock.Reservation) (*store.Node, error)
	UpdateNodeHeld(ctx context.Context, n *store.Node, l lock.Lease) error
}

// Call is one call of the wrapped backend as a Rule sees it.
type Call struct {
	// Method is the method's name, e.g. "ReserveNode".
	Method string
	// Node is the node the call is about ("" for calls about several).
	Node string
	// N counts the calls of Method so far, this one included (1-based).
	N int
}

// Action is what happens to a call a Rule matched. Gate and Pause come
// first, then Err decides: with Lost the call is made and its answer
// replaced by Err; without, the call is not made.
type Action struct {
	// Gate, if set, holds the call until the gate opens (or the call's
	// context ends).
	Gate *Gate
	// Pause delays the call.
	Pause time.Duration
	// Fail fails the call with Err (ErrInjected if Err is nil).
	Fail bool
	// Lost makes the call and then fails it with Err (ErrInjected if nil):
	// the statement took effect but its answer was lost.
	Lost bool
	// Err is the error of a failed or lost call.
	Err error
}

func (a Action) err() error {
	if a.Err != nil {
		return a.Err
	}
	return ErrInjected
}

// Rule decides what happens to a call; ok false lets the next rule decide.
type Rule func(c Call) (a Action, ok bool)

// Nth matches the n-th call (1-based) of method.
func Nth(method string, n int, a Action) Rule {
	return func(c Call) (Action, bool) { return a, c.Method == method && c.N == n }
}

// Every matches every call of method.
func Every(method string, a Action) Rule {
	return func(c Call) (Action, bool) { return a, c.Method == method }
}

// Gate holds the calls that reach it until it is opened.
type Gate struct {
	reachedOnce, openOnce sync.Once
	reached, open         chan struct{}
}

// NewGate returns a closed gate.
func NewGate() *Gate { return &Gate{reached: make(chan struct{}), open: make(chan struct{})} }

// Reached is closed when the first call reaches the gate.
func (g *Gate) Reached() <-chan struct{} { return g.reached }

// Open lets the held calls and all later ones through.
func (g *Gate) Open() { g.openOnce.Do(func() { close(g.open) }) }

func (g *Gate) wait(ctx context.Context) error {
	g.reachedOnce.Do(func() { close(g.reached) })
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Store wraps a Backend. It is safe for concurrent use.
type Store struct {
	Backend
	mu    sync.Mutex
	rules []Rule
	calls map[string]int
}

// Wrap returns b with no rules: every call passes through.
func Wrap(b Backend) *Store { return &Store{Backend: b, calls: map[string]int{}} }

// On adds a rule after the existing ones.
func (s *Store) On(r Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, r)
}

// Clear removes every rule.
func (s *Store) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = nil
}

// Calls returns how many calls of method were made (failed ones included).
func (s *Store) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// before counts the call and applies the first matching rule's gate, pause
// and failure; it returns the action for after.
func (s *Store) before(ctx context.Context, method, node string) (Action, error) {
	s.mu.Lock()
	s.calls[method]++
	c := Call{Method: method, Node: node, N: s.calls[method]}
	rules := s.rules
	s.mu.Unlock()
	var a Action
	for _, r := range rules {
		if x, ok := r(c); ok {
			a = x
			break
		}
	}
	if a.Gate != nil {
		if err := a.Gate.wait(ctx); err != nil {
			return a, err
		}
	}
	if a.Pause > 0 {
		t := time.NewTimer(a.Pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return a, ctx.Err()
		}
	}
	if a.Fail {
		return a, fmt.Errorf("%s: %w", method, a.err())
	}
	return a, nil
}

// call runs fn as method under the rules.
func call[T any](s *Store, ctx context.Context, method, node string, fn func() (T, error)) (T, error) {
	var zero T
	a, err := s.before(ctx, method, node)
	if err != nil {
		return zero, err
	}
	v, err := fn()
	if err == nil && a.Lost {
		return zero, fmt.Errorf("%s: answer lost: %w", method, a.err())
	}
	return v, err
}

func call0(s *Store, ctx context.Context, method, node string, fn func() error) error {
	_, err := call(s, ctx, method, node, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// Node implements store.Store.
func (s *Store) Node(ctx context.Context, ident string) (*store.Node, error) {
	return call(s, ctx, "Node", ident, func() (*store.Node, error) { return s.Backend.Node(ctx, ident) })
}

// Nodes implements store.Store.
func (s *Store) Nodes(ctx context.Context, f store.NodeFilter) ([]*store.Node, error) {
	return call(s, ctx, "Nodes", "", func() ([]*store.Node, error) { return s.Backend.Nodes(ctx, f) })
}

// UpdateNode implements store.Store.
func (s *Store) UpdateNode(ctx context.Context, n *store.Node) error {
	return call0(s, ctx, "UpdateNode", n.UUID, func() error { return s.Backend.UpdateNode(ctx, n) })
}

// Ports implements store.Store.
func (s *Store) Ports(ctx context.Context, f store.ChildFilter) ([]*store.Port, error) {
	return call(s, ctx, "Ports", f.NodeUUID, func() ([]*store.Port, error) { return s.Backend.Ports(ctx, f) })
}

// ReserveNode takes the lock and reads the node (sqlstore.DB.ReserveNode).
func (s *Store) ReserveNode(ctx context.Context, uuid string, r lock.Reservation) (*store.Node, error) {
	return call(s, ctx, "ReserveNode", uuid, func() (*store.Node, error) { return s.Backend.ReserveNode(ctx, uuid, r) })
}

// UpdateNodeHeld writes the node under a lease (sqlstore.DB.UpdateNodeHeld).
func (s *Store) UpdateNodeHeld(ctx context.Context, n *store.Node, l lock.Lease) error {
	return call0(s, ctx, "UpdateNodeHeld", n.UUID, func() error { return s.Backend.UpdateNodeHeld(ctx, n, l) })
}

// Reserve implements lock.Backend.
func (s *Store) Reserve(ctx context.Context, node string, r lock.Reservation) (lock.Token, error) {
	return call(s, ctx, "Reserve", node, func() (lock.Token, error) { return s.Backend.Reserve(ctx, node, r) })
}

// Release implements lock.Backend.
func (s *Store) Release(ctx context.Context, node string, l lock.Lease) error {
	return call0(s, ctx, "Release", node, func() error { return s.Backend.Release(ctx, node, l) })
}

// Verify implements lock.Backend.
func (s *Store) Verify(ctx context.Context, node string, l lock.Lease) error {
	return call0(s, ctx, "Verify", node, func() error { return s.Backend.Verify(ctx, node, l) })
}

// Stale implements lock.Backend.
func (s *Store) Stale(ctx context.Context, timeout time.Duration, except string) ([]lock.Held, error) {
	return call(s, ctx, "Stale", "", func() ([]lock.Held, error) { return s.Backend.Stale(ctx, timeout, except) })
}
