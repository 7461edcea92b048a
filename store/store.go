package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors every backend returns; test for them with errors.Is.
var (
	// ErrNotFound: no such node, port, connector, target or agent.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique field (name, MAC address, ...) is taken, or the
	// row changed since it was read (optimistic concurrency).
	ErrConflict = errors.New("conflict")
	// ErrNodeReserved: the node is locked and the change needs it unlocked.
	ErrNodeReserved = errors.New("node is locked")
	// ErrUnavailable: the database cannot be reached. Nothing was written.
	ErrUnavailable = errors.New("database unavailable")
	// ErrInvalidQuery: a listing asked for an unknown sort key or filter.
	ErrInvalidQuery = errors.New("invalid query")
)

// NotFoundError names what was not found.
type NotFoundError struct {
	Kind string // "node", "port", ...
	ID   string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %s could not be found", e.Kind, e.ID) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ConflictError says which unique value clashed, or that a row changed.
type ConflictError struct {
	Kind   string
	Detail string
}

func (e *ConflictError) Error() string { return fmt.Sprintf("%s: %s", e.Kind, e.Detail) }

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Store is the inventory contract. Every method is safe for concurrent use.
// Methods that take an ident accept a node's UUID or its name.
type Store interface {
	CreateNode(ctx context.Context, n *Node) error
	// Node returns the node by UUID or name.
	Node(ctx context.Context, ident string) (*Node, error)
	Nodes(ctx context.Context, f NodeFilter) ([]*Node, error)
	// UpdateNode writes n's mutable fields if the stored version is still
	// n.Version (else a *ConflictError) and bumps n.Version and n.UpdatedAt.
	// It never touches the reservation.
	UpdateNode(ctx context.Context, n *Node) error
	// DeleteNode deletes an unreserved node and everything attached to it;
	// a reserved node gives ErrNodeReserved.
	DeleteNode(ctx context.Context, uuid string) error

	CreatePort(ctx context.Context, p *Port) error
	// Port returns a port by UUID or MAC address.
	Port(ctx context.Context, ident string) (*Port, error)
	Ports(ctx context.Context, f ChildFilter) ([]*Port, error)
	UpdatePort(ctx context.Context, p *Port) error
	DeletePort(ctx context.Context, uuid string) error

	CreateVolumeConnector(ctx context.Context, c *VolumeConnector) error
	VolumeConnector(ctx context.Context, uuid string) (*VolumeConnector, error)
	VolumeConnectors(ctx context.Context, f ChildFilter) ([]*VolumeConnector, error)
	UpdateVolumeConnector(ctx context.Context, c *VolumeConnector) error
	DeleteVolumeConnector(ctx context.Context, uuid string) error

	CreateVolumeTarget(ctx context.Context, t *VolumeTarget) error
	VolumeTarget(ctx context.Context, uuid string) (*VolumeTarget, error)
	VolumeTargets(ctx context.Context, f ChildFilter) ([]*VolumeTarget, error)
	UpdateVolumeTarget(ctx context.Context, t *VolumeTarget) error
	DeleteVolumeTarget(ctx context.Context, uuid string) error

	// Heartbeat registers the agent or refreshes its heartbeat, using the
	// database's clock so that agents on hosts with skewed clocks agree.
	Heartbeat(ctx context.Context, a Agent) error
	// Agents lists the registered agents; Alive is computed against timeout
	// with the database's clock.
	Agents(ctx context.Context, timeout time.Duration) ([]Agent, error)
	// DeleteAgent unregisters an agent (a clean shutdown).
	DeleteAgent(ctx context.Context, id string) error

	// Ping reports whether the database answers and is migrated.
	Ping(ctx context.Context) error
	Close() error
}
