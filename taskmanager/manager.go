package taskmanager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
)

// ErrNoFreeWorker: SpawnAfter found every worker busy, or the manager is
// shutting down. The task's lock was released; the caller may retry later.
var ErrNoFreeWorker = errors.New("no free worker")

// Store is what the task manager needs of the inventory.
type Store interface {
	Node(ctx context.Context, ident string) (*store.Node, error)
	UpdateNode(ctx context.Context, n *store.Node) error
	// UpdateNodeHeld writes n like UpdateNode if the node's lock is still
	// held under lease, in the same statement, and fails with an error
	// matching lock.ErrFenced otherwise (see sqlstore.DB.UpdateNodeHeld):
	// the writes of an exclusive task.
	UpdateNodeHeld(ctx context.Context, n *store.Node, lease lock.Lease) error
	Nodes(ctx context.Context, f store.NodeFilter) ([]*store.Node, error)
	Ports(ctx context.Context, f store.ChildFilter) ([]*store.Port, error)
	VolumeConnectors(ctx context.Context, f store.ChildFilter) ([]*store.VolumeConnector, error)
	VolumeTargets(ctx context.Context, f store.ChildFilter) ([]*store.VolumeTarget, error)
}

// NodeReserver is an optional capability of a Store that is also the lock
// backend: take the node's lock and read the node in one statement (see
// sqlstore.DB.ReserveNode). Without it, Acquire reserves and then reads.
type NodeReserver interface {
	ReserveNode(ctx context.Context, uuid string, r lock.Reservation) (*store.Node, error)
}

// Config configures a Manager.
type Config struct {
	// AgentID is the holder recorded in the locks this manager takes.
	AgentID string
	Store   Store
	Locker  *lock.Locker
	Drivers *drivers.Registry
	// Workers bounds the background work running at once; default 100.
	Workers int
	// Middleware wraps every driver call of every task (metrics, timeouts).
	Middleware []drivers.Middleware
	Logger     *slog.Logger
	// SettleTimeout bounds how long Task.Settle retries recording the
	// outcome of background work while the database is unavailable;
	// default 30s.
	SettleTimeout time.Duration
	// Lease, if set, is the agent's membership lease: without it held, no
	// task is acquired; once the lease a task was acquired under ends, its
	// spawned work is cancelled, its mutating driver calls are refused and
	// its node is not written (see lease.go). Nil: no such check.
	Lease Lease
}

// Manager acquires tasks and runs their background work. It is safe for
// concurrent use.
type Manager struct {
	cfg  Config
	log  *slog.Logger
	pool *pool
	// base is the lifetime context of background work; cancelled by
	// Shutdown once its deadline passes, with ErrShuttingDown as the cause.
	base       context.Context
	cancelBase context.CancelCauseFunc

	mu sync.Mutex
	// taking counts, per node, this agent's tasks in the statement that
	// takes its lock: such a task may hold a token not yet in held.
	taking map[string]int
	// held are the leases (node and token) of this agent's tasks that
	// hold their node's lock.
	held map[heldLease]struct{}
	// orphans are nodes whose lock this agent may hold although none of
	// its tasks does: a release that failed, an outcome that could not be
	// recorded (the lock is kept on purpose), a lock taken by a statement
	// whose answer was lost or unreadable. The value says what to record if
	// an operation was left half done. They are released once the database
	// answers, by the sweep (RecoverStale) or by the next task of this
	// agent on the node; sweeping marks the ones being handled.
	orphans  map[string]string
	sweeping map[string]bool
}

// heldLease is a lock a task of this agent holds: its node and token.
type heldLease struct {
	node  string
	token lock.Token
}

// ErrShuttingDown is the cause (context.Cause) of the cancellation of
// background work that outlived Shutdown's deadline.
var ErrShuttingDown = errors.New("the agent is shutting down")

// New returns a Manager.
func New(cfg Config) (*Manager, error) {
	switch {
	case cfg.AgentID == "":
		return nil, errors.New("taskmanager: an agent id is required")
	case cfg.Store == nil || cfg.Locker == nil || cfg.Drivers == nil:
		return nil, errors.New("taskmanager: store, locker and drivers are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SettleTimeout <= 0 {
		cfg.SettleTimeout = 30 * time.Second
	}
	base, cancel := context.WithCancelCause(context.Background())
	return &Manager{cfg: cfg, log: cfg.Logger, pool: newPool(cfg.Workers), base: base, cancelBase: cancel,
		taking: map[string]int{}, held: map[heldLease]struct{}{}, orphans: map[string]string{}, sweeping: map[string]bool{}}, nil
}

// AgentID returns the holder id of the locks this manager takes.
func (m *Manager) AgentID() string { return m.cfg.AgentID }

// Option qualifies an Acquire.
type Option func(*options)

type options struct {
	shared   bool
	purpose  string
	driver   string
	nodeOnly bool
}

// Shared asks for a shared task: no lock is taken and the driver's setters
// refuse to run.
func Shared() Option { return func(o *options) { o.shared = true } }

// Purpose says what the task is for; it is recorded with the lock and shown
// to whoever finds the node locked.
func Purpose(p string) Option { return func(o *options) { o.purpose = p } }

// DriverName uses the named driver instead of the node's own.
func DriverName(name string) Option { return func(o *options) { o.driver = name } }

// NodeOnly asks for a task that only reads and edits the node and never
// calls its driver (an update, a delete, maintenance): the task is acquired
// even when the node's driver is not registered with this agent, so that
// such a node can still be repaired or deleted. Its Driver then reports
// every method as unsupported.
func NodeOnly() Option { return func(o *options) { o.nodeOnly = true } }

// Acquire returns a task on the node with the given UUID or name. The caller
// must Release it. An exclusive task waits for a held lock per the lock
// policy and then fails with a *lock.LockedError; a missing node is an error
// matching store.ErrNotFound; an unknown driver one matching
// drivers.ErrUnknownDriver; without the Lease held one matching
// ErrLeaseLost.
func (m *Manager) Acquire(ctx context.Context, ident string, opts ...Option) (*Task, error) {
	epoch, err := m.acquireLease()
	if err != nil {
		return nil, err
	}
	o := options{purpose: "unspecified"}
	for _, opt := range opts {
		opt(&o)
	}
	id := ident
	if !store.IsUUID(ident) {
		// Locks are released by UUID, so resolve a name first.
		n, err := m.cfg.Store.Node(ctx, ident)
		if err != nil {
			return nil, err
		}
		id = n.UUID
	}
	t := &Task{m: m, id: id, shared: o.shared, purpose: o.purpose, driverName: o.driver, nodeOnly: o.nodeOnly, lease: epoch}
	if err := t.lockAndLoad(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// Do acquires a task, runs fn with it and releases it. If fn fails or
// panics, work it spawned with SpawnAfter is not started (the panic goes on
// to the caller once the lock is released).
func (m *Manager) Do(ctx context.Context, ident string, opts []Option, fn func(context.Context, *Task) error) (err error) {
	t, err := m.Acquire(ctx, ident, opts...)
	if err != nil {
		return err
	}
	returned := false
	defer func() {
		if err != nil || !returned {
			t.cancelSpawn()
		}
		t.Release()
	}()
	err = fn(ctx, t)
	returned = true
	return err
}

// PoolStats describes the worker pool.
type PoolStats struct {
	// Size is the number of workers; Busy how many run or are reserved.
	Size, Busy int
	// Rejected counts spawns refused for want of a free worker.
	Rejected uint64
}

// Stats returns the worker pool's figures.
func (m *Manager) Stats() PoolStats { return m.pool.stats() }

// Shutdown stops accepting background work (SpawnAfter fails with
// ErrNoFreeWorker), waits for running work until ctx ends, then cancels the
// work's context (cause ErrShuttingDown) and waits for it to record its
// outcome and release its locks. It then tries once more to release the
// locks whose release failed. It returns ctx's error if work had to be
// cancelled.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.pool.close()
	drained := m.pool.wait(ctx)
	if !drained {
		m.log.Warn("shutdown deadline passed, cancelling background work", "busy", m.pool.stats().Busy)
	}
	m.cancelBase(ErrShuttingDown)
	// Cancelled work still records its outcome and releases its locks (on
	// their own deadlines).
	m.pool.wait(context.Background())
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := m.sweepOrphans(sctx); err != nil {
		m.log.Warn("locks left held at shutdown: the next start or another agent's sweep releases them", "err", err)
	}
	if !drained {
		return fmt.Errorf("background work cancelled: %w", ctx.Err())
	}
	return nil
}

// hold records that a task of this agent is taking node's lock. It fails
// while the node's orphaned lock is being released. An orphaned lock that
// no other task of the agent is taking is released first, here, rather than
// left to the next sweep: a task would find it held by its own agent.
func (m *Manager) hold(ctx context.Context, node string) error {
	m.mu.Lock()
	if m.sweeping[node] {
		m.mu.Unlock()
		return m.lockedBySweep(node)
	}
	if why, ok := m.orphans[node]; ok && m.taking[node] == 0 {
		m.sweeping[node] = true
		m.mu.Unlock()
		done, err := m.releaseOrphan(ctx, node, why)
		m.mu.Lock()
		delete(m.sweeping, node)
		if done {
			delete(m.orphans, node)
		}
		if err != nil {
			m.mu.Unlock()
			return fmt.Errorf("release the lock left held on node %s: %w", node, err)
		}
	}
	m.taking[node]++
	m.mu.Unlock()
	return nil
}

func (m *Manager) lockedBySweep(node string) error {
	return &lock.LockedError{Node: node, Reservation: lock.Reservation{Holder: m.cfg.AgentID, Purpose: "release of a lock left held"}}
}

// took turns hold into a held lock with its token.
func (m *Manager) took(node string, tok lock.Token) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.untakeLocked(node)
	m.held[heldLease{node, tok}] = struct{}{}
}

func (m *Manager) untakeLocked(node string) {
	if m.taking[node]--; m.taking[node] <= 0 {
		delete(m.taking, node)
	}
}

// lockFailed undoes hold after a failed attempt to take node's lock. Only
// an answer that proves the lock was not taken (held by another, no such
// node, the wait cancelled) lets the node go: any other failure may hide a
// lock taken all the same (the statement committed, its answer was lost or
// could not be read), and the node becomes an orphan for the sweep.
func (m *Manager) lockFailed(node string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.untakeLocked(node)
	switch {
	case errors.Is(err, lock.ErrNodeLocked), errors.Is(err, store.ErrNotFound),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
	default:
		m.orphans[node] = whyLostLock
	}
}

// unhold forgets a released lock.
func (m *Manager) unhold(node string, tok lock.Token) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.held, heldLease{node, tok})
}

// orphan records that this agent may still hold node's lock taken with tok
// although no task does; why is what last_error says if an operation was
// left half done.
func (m *Manager) orphan(node, why string, tok lock.Token) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.orphans[node] = why
	delete(m.held, heldLease{node, tok})
}

// sweepOrphans releases the locks of the orphans that this agent still
// holds in the database and no task of it holds, after marking an operation
// left half done as interrupted. A node that a task of the agent is taking
// waits for the next sweep: that task may hold a token not recorded yet.
// The database must answer: it runs with the heartbeat (RecoverStale) and
// at shutdown. It returns the nodes it released; an orphan it could not
// handle stays for the next sweep.
func (m *Manager) sweepOrphans(ctx context.Context) ([]string, error) {
	if err := m.checkLease(); err != nil {
		return nil, err // the locks may not be this agent's any more
	}
	m.mu.Lock()
	todo := map[string]string{}
	for id, why := range m.orphans {
		if m.taking[id] > 0 || m.sweeping[id] {
			continue
		}
		m.sweeping[id] = true
		todo[id] = why
	}
	m.mu.Unlock()
	var released []string
	var errs []error
	for id, why := range todo {
		done, err := m.releaseOrphan(ctx, id, why)
		m.mu.Lock()
		delete(m.sweeping, id)
		if done {
			delete(m.orphans, id)
		}
		m.mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", id, err))
		} else if done {
			released = append(released, id)
		}
	}
	if len(released) > 0 {
		m.log.Warn("released locks whose release had failed", "nodes", len(released))
	}
	return released, errors.Join(errs...)
}

// releaseOrphan handles one orphan, marked as being swept; done reports
// that it needs no more sweeping. The lock found in the database is this
// agent's orphan if no task of the agent holds its token: tokens grow, so
// no task can come to hold it later.
func (m *Manager) releaseOrphan(ctx context.Context, id, why string) (done bool, err error) {
	n, err := m.cfg.Store.Node(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return true, nil
	case err != nil:
		return false, err
	case n.Reservation != m.cfg.AgentID:
		return true, nil // released after all
	}
	lease := lock.Lease{Holder: m.cfg.AgentID, Token: lock.Token(n.LockToken)}
	m.mu.Lock()
	_, live := m.held[heldLease{id, lease.Token}]
	m.mu.Unlock()
	if live {
		return true, nil // a task of ours took it again and releases it
	}
	if _, err := m.recordAndRelease(ctx, n, lease, why); err != nil {
		return false, err
	}
	m.log.Warn("released a lock left held", "node", id, "reason", why)
	return true, nil
}

// pool bounds and counts background work.
type pool struct {
	mu       sync.Mutex
	size     int
	busy     int
	rejected uint64
	closed   bool
	idle     *sync.Cond
}

func newPool(size int) *pool {
	p := &pool{size: size}
	p.idle = sync.NewCond(&p.mu)
	return p
}

// reserve takes a worker slot, or reports that none is free.
func (p *pool) reserve() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.rejected++
		return fmt.Errorf("%w: the agent is shutting down", ErrNoFreeWorker)
	}
	if p.busy >= p.size {
		p.rejected++
		return fmt.Errorf("%w: all %d workers are busy", ErrNoFreeWorker, p.size)
	}
	p.busy++
	return nil
}

// done returns a slot.
func (p *pool) done() {
	p.mu.Lock()
	p.busy--
	if p.busy == 0 {
		p.idle.Broadcast()
	}
	p.mu.Unlock()
}

func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// wait waits until no slot is busy or ctx ends; it reports whether the pool
// drained.
func (p *pool) wait(ctx context.Context) bool {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.idle.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.busy > 0 && ctx.Err() == nil {
		p.idle.Wait()
	}
	return p.busy == 0
}

func (p *pool) stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Size: p.size, Busy: p.busy, Rejected: p.rejected}
}
