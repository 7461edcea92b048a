package taskmanager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
)

// ErrReleased: the task was used after Release.
var ErrReleased = drivers.ErrReleased

// Work is background work spawned with a task. ctx is the agent's lifetime
// context (not the request's), also cancelled when the lease the task was
// acquired under ends (Config.Lease); the task holds the lock it had when
// spawned until Work returns.
type Work func(ctx context.Context, t *Task) error

// SpawnErrorHook runs when SpawnAfter finds no free worker, before the
// task's lock is released, so that it can record the failure on the node.
type SpawnErrorHook func(t *Task, err error)

// Task is a node held for an operation. Its methods are not safe for
// concurrent use: a task belongs to one goroutine at a time (the caller,
// then its spawned worker).
type Task struct {
	m          *Manager
	id         string
	purpose    string
	driverName string
	nodeOnly   bool

	mu       sync.Mutex // guards shared, released, handedOff and lease, read by the driver Handle
	shared   bool
	released bool
	// handedOff: Release started the spawned work, which now owns the
	// task and releases it when it ends.
	handedOff bool
	// token is the fencing token of the task's lock (exclusive tasks).
	token lock.Token
	// lease is the agent's lease as it was when the task took its lock
	// (see lease.go); nil without a Lease.
	lease context.Context

	node *store.Node
	drv  drivers.Driver
	// driver is made on first use: most tasks never call the driver.
	driver *drivers.Handle
	// Children are read on first use: most operations (power, boot device)
	// never need them, and loading them with every lock would cost a
	// database round trip per task.
	ports   []*store.Port
	conns   []*store.VolumeConnector
	targets []*store.VolumeTarget
	loaded  struct{ ports, conns, targets bool }
	// log is made by Log on first use.
	log       *slog.Logger
	requestID string

	spawn      Work
	spawnHook  SpawnErrorHook
	workFailed func(t *Task, err error)
	// unsettled says why the node's last state could not be recorded
	// (Settle failed); such a task keeps the lock when it ends.
	unsettled string
}

// Reasons recorded in last_error for operations the database cut short.
const (
	whyUnsettled = "its outcome could not be recorded because the database did not answer"
	whyLostLock  = "the database did not answer while its agent took or released the node's lock"
)

// lockAndLoad takes the lock of an exclusive task and loads the node, in
// one statement where the store can.
func (t *Task) lockAndLoad(ctx context.Context) error {
	if t.shared {
		n, err := t.m.cfg.Store.Node(ctx, t.id)
		if err != nil {
			return err
		}
		return t.bind(ctx, n)
	}
	if err := t.m.hold(ctx, t.id); err != nil {
		return err
	}
	r := lock.Reservation{Holder: t.m.cfg.AgentID, Purpose: t.purpose}
	var n *store.Node
	var err error
	if rs, ok := t.m.cfg.Store.(NodeReserver); ok {
		err = t.m.cfg.Locker.LockFunc(ctx, t.id, func(ctx context.Context) (err error) {
			n, err = rs.ReserveNode(ctx, t.id, r)
			return err
		})
		if err == nil {
			t.token = lock.Token(n.LockToken)
		}
	} else {
		t.token, err = t.m.cfg.Locker.Lock(ctx, t.id, r)
	}
	if err != nil {
		t.m.lockFailed(t.id, err)
		return err
	}
	t.m.took(t.id, t.token)
	if n == nil {
		if n, err = t.m.cfg.Store.Node(ctx, t.id); err != nil {
			t.unlock()
			return err
		}
	}
	if err := t.bind(ctx, n); err != nil {
		t.unlock()
		return err
	}
	return nil
}

// lockLease is the task's lock as the backend knows it.
func (t *Task) lockLease() lock.Lease { return lock.Lease{Holder: t.m.cfg.AgentID, Token: t.token} }

// LockLease returns the holder and fencing token of the task's lock (a zero
// token for a shared task).
func (t *Task) LockLease() lock.Lease {
	if t.Shared() {
		return lock.Lease{}
	}
	return t.lockLease()
}

// bind adopts a loaded node, forgets children read before, and binds the
// driver.
func (t *Task) bind(ctx context.Context, n *store.Node) error {
	name := n.Driver
	if t.driverName != "" {
		name = t.driverName
	}
	d, err := t.m.cfg.Drivers.Driver(name)
	switch {
	case err != nil && t.nodeOnly:
		d = absentDriver{name: name, err: err}
	case err != nil:
		return fmt.Errorf("node %s: %w", t.id, err)
	}
	t.node, t.drv, t.driver = n, d, nil
	t.loaded.ports, t.loaded.conns, t.loaded.targets = false, false, false
	t.log, t.requestID = nil, RequestID(ctx)
	return nil
}

// fence is the innermost middleware of an exclusive task's driver: before
// a mutating call reaches the BMC it checks, in the database, that the
// task's lock has not changed hands (a *lock.FencedError if it has). The
// check reads one row by its key; reads pass unchecked.
//
// When the database cannot answer, the agent's lease stands in for the
// check: while the lease is held and the task's lease has not ended, no
// other agent counts this one dead, so none can have swept its lock (the
// others wait the full heartbeat timeout; the lease ends a margin before
// it). Without a Lease the call is refused.
func (t *Task) fence(ctx context.Context, c drivers.Call, next func(context.Context) error) error {
	if c.Method.Mutates {
		if err := t.m.cfg.Locker.Backend().Verify(ctx, t.id, t.lockLease()); err != nil && !t.leaseCovers(err) {
			return fmt.Errorf("%s: %w", c.Method, err)
		}
	}
	return next(ctx)
}

// leaseCovers reports whether the lease stands in for a fencing check that
// failed: only when the database could not answer and a Lease is
// configured and held (see fence).
func (t *Task) leaseCovers(err error) bool {
	return errors.Is(err, store.ErrUnavailable) && t.m.cfg.Lease != nil && t.checkLease() == nil
}

// Held checks, before a write the task makes beside its node (an
// inspection's inventory and ports), what fence checks before a mutating
// driver call: the agent's lease and the task's have not ended (an error
// matching ErrLeaseLost), and the task's lock has not changed hands (a
// *lock.FencedError). While the lease holds, no other agent can sweep the
// lock before the write that follows lands (the others wait the full
// heartbeat timeout; the lease ends a margin before it). A shared task
// holds nothing: lock.ErrNotHolder.
func (t *Task) Held(ctx context.Context) error {
	if t.Released() {
		return ErrReleased
	}
	if t.Shared() {
		return fmt.Errorf("node %s: a shared task: %w", t.id, lock.ErrNotHolder)
	}
	if err := t.checkLease(); err != nil {
		return err
	}
	return t.m.cfg.Locker.Backend().Verify(ctx, t.id, t.lockLease())
}

// Node returns the task's copy of the node. Change it and call Save to
// write it back.
func (t *Task) Node() *store.Node { return t.node }

// Ports returns the node's ports, read on first use and kept for the task.
func (t *Task) Ports(ctx context.Context) ([]*store.Port, error) {
	return loadOnce(ctx, t, &t.ports, &t.loaded.ports, t.m.cfg.Store.Ports)
}

// VolumeConnectors returns the node's volume connectors, read on first use.
func (t *Task) VolumeConnectors(ctx context.Context) ([]*store.VolumeConnector, error) {
	return loadOnce(ctx, t, &t.conns, &t.loaded.conns, t.m.cfg.Store.VolumeConnectors)
}

// VolumeTargets returns the node's volume targets, read on first use.
func (t *Task) VolumeTargets(ctx context.Context) ([]*store.VolumeTarget, error) {
	return loadOnce(ctx, t, &t.targets, &t.loaded.targets, t.m.cfg.Store.VolumeTargets)
}

func loadOnce[T any](ctx context.Context, t *Task, dst *[]*T, loaded *bool,
	list func(context.Context, store.ChildFilter) ([]*T, error)) ([]*T, error) {
	if t.Released() {
		return nil, ErrReleased
	}
	if !*loaded {
		v, err := list(ctx, store.ChildFilter{NodeUUID: t.id})
		if err != nil {
			return nil, err
		}
		*dst, *loaded = v, true
	}
	return *dst, nil
}

// Driver returns the node's driver, guarded: its setters run only while the
// task is exclusive and its lock has not changed hands (fenced).
func (t *Task) Driver() *drivers.Handle {
	if t.driver == nil {
		t.driver = drivers.NewHandle(t.drv, t, t.middleware()...)
	}
	return t.driver
}

// Purpose returns what the task is for.
func (t *Task) Purpose() string { return t.purpose }

// Log returns a logger that names the node, purpose, agent and request.
func (t *Task) Log() *slog.Logger {
	if t.log == nil {
		// Made on first use: most tasks log nothing, and the attributes
		// cost an allocation per task on the lock's hot path.
		t.log = t.m.log.With("node", t.id, "purpose", t.purpose, "agent", t.m.cfg.AgentID, "request_id", t.requestID)
	}
	return t.log
}

// Shared reports whether the task holds no lock.
func (t *Task) Shared() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.shared
}

// Exclusive implements drivers.Binding.
func (t *Task) Exclusive() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.shared && !t.released
}

// Released implements drivers.Binding.
func (t *Task) Released() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.released
}

// DriverNode implements drivers.Binding.
func (t *Task) DriverNode() drivers.Node {
	n := t.node
	return drivers.Node{UUID: n.UUID, Name: n.Name, Info: drivers.Info(n.DriverInfo), PowerState: drivers.PowerState(n.PowerState)}
}

// UpgradeLock makes a shared task exclusive, with purpose as the lock's
// purpose, and reloads the node so that the caller sees what the previous
// holder wrote. It does nothing for an exclusive task.
func (t *Task) UpgradeLock(ctx context.Context, purpose string) error {
	if t.Released() {
		return ErrReleased
	}
	if !t.Shared() {
		return nil
	}
	epoch, err := t.m.acquireLease()
	if err != nil {
		return err
	}
	if err := t.m.hold(ctx, t.id); err != nil {
		return err
	}
	tok, err := t.m.cfg.Locker.Lock(ctx, t.id, lock.Reservation{Holder: t.m.cfg.AgentID, Purpose: purpose})
	if err != nil {
		t.m.lockFailed(t.id, err)
		return err
	}
	t.m.took(t.id, tok)
	t.mu.Lock()
	t.shared, t.token, t.lease = false, tok, epoch
	t.mu.Unlock()
	t.purpose = purpose
	n, err := t.m.cfg.Store.Node(ctx, t.id)
	if err == nil {
		err = t.bind(ctx, n)
	}
	if err != nil {
		return fmt.Errorf("reload after lock upgrade: %w", err)
	}
	return nil
}

// Save writes the task's node back to the store. It fails with an error
// matching store.ErrConflict if the node changed since the task loaded it
// (possible only for a shared task: an exclusive one is the only writer),
// and for an exclusive task with one matching lock.ErrFenced, writing
// nothing, if its lock changed hands. An exclusive task whose write may
// have been applied although it failed (the database did not answer)
// keeps the node's lock when it ends, as after a failed Settle, so that a
// state written but never acted upon is swept into a recorded failure
// rather than left unlocked.
func (t *Task) Save(ctx context.Context) error {
	if t.Released() {
		return ErrReleased
	}
	if err := t.checkLease(); err != nil {
		return err
	}
	err := t.write(ctx)
	switch {
	case err == nil:
		t.unsettled = "" // the node's state is recorded
	case !t.Shared() && mayHaveWritten(err):
		t.unsettled = whyUnsettled
	}
	return err
}

func (t *Task) write(ctx context.Context) error {
	if t.Shared() {
		return t.m.cfg.Store.UpdateNode(ctx, t.node)
	}
	return t.m.cfg.Store.UpdateNodeHeld(ctx, t.node, t.lockLease())
}

// mayHaveWritten reports whether a failed write may have been applied: its
// statement was sent but its answer never came.
func mayHaveWritten(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// Settle records the outcome of background work: it saves the task's node
// like Save, but retries while the database is unavailable, up to the
// manager's SettleTimeout and even after ctx ended. If the node still cannot
// be saved, the task keeps the node's lock when it ends, so that no node is
// left unlocked with a target state no worker pursues; once the database
// answers again, the manager's sweep (RecoverStale) records the operation as
// interrupted and releases the lock.
func (t *Task) Settle(ctx context.Context) error {
	if t.Released() {
		return ErrReleased
	}
	if err := t.checkLease(); err != nil {
		t.unsettled = whyLeaseLost // the lock may be another agent's now
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.m.cfg.SettleTimeout)
	defer cancel()
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := t.write(ctx)
		if err == nil {
			t.unsettled = ""
			return nil
		}
		if errors.Is(err, lock.ErrFenced) {
			// The lock is someone else's now: nothing to keep.
			t.unsettled = ""
			return err
		}
		if !errors.Is(err, store.ErrUnavailable) || ctx.Err() != nil {
			t.unsettled = whyUnsettled
			return err
		}
		if attempt == 0 {
			t.Log().Warn("database unavailable, retrying to record the outcome", "err", err, "for", t.m.cfg.SettleTimeout)
		}
		select {
		case <-ctx.Done():
			t.unsettled = whyUnsettled
			return fmt.Errorf("%w (gave up after %s)", err, t.m.cfg.SettleTimeout)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// Refresh rereads the node and forgets the children read so far.
func (t *Task) Refresh(ctx context.Context) error {
	if t.Released() {
		return ErrReleased
	}
	n, err := t.m.cfg.Store.Node(ctx, t.id)
	if err != nil {
		return err
	}
	t.node = n
	t.loaded.ports, t.loaded.conns, t.loaded.targets = false, false, false
	return nil
}

// SetSpawnErrorHook sets what runs when SpawnAfter finds no free worker.
func (t *Task) SetSpawnErrorHook(h SpawnErrorHook) { t.spawnHook = h }

// ErrSpawnedTwice: a task spawns background work at most once, and
// background work cannot spawn more (it runs in the worker it has).
var ErrSpawnedTwice = errors.New("taskmanager: a task spawns at most once")

// SpawnAfter reserves a worker for fn, which starts when the task is
// released and holds the task's lock until it returns. If no worker is free
// it runs the spawn error hook, releases the task and returns an error
// matching ErrNoFreeWorker. A task spawns at most once (ErrSpawnedTwice),
// and never from its own background work.
func (t *Task) SpawnAfter(fn Work) error {
	t.mu.Lock()
	released, handedOff := t.released, t.handedOff
	t.mu.Unlock()
	if released {
		return ErrReleased
	}
	if t.spawn != nil || handedOff {
		return ErrSpawnedTwice
	}
	if err := t.m.pool.reserve(); err != nil {
		t.Log().Warn("cannot spawn background work", "err", err)
		if t.spawnHook != nil {
			t.spawnHook(t, err)
		}
		t.Release()
		return err
	}
	t.spawn = fn
	return nil
}

// cancelSpawn drops reserved background work that has not started.
func (t *Task) cancelSpawn() {
	if t.spawn != nil && !t.Released() {
		t.spawn = nil
		t.m.pool.done()
	}
}

// Release ends the task. Work reserved with SpawnAfter starts now and
// releases the lock when it ends; otherwise the lock is released now.
// Release is idempotent (a second call, even while the spawned work runs,
// does nothing) and needs no context: it runs on the lock policy's own
// deadline so that a cancelled request still releases its lock.
func (t *Task) Release() {
	t.mu.Lock()
	if t.released || t.handedOff {
		t.mu.Unlock()
		return
	}
	fn := t.spawn
	if fn == nil {
		t.released = true
		t.mu.Unlock()
		t.unlock()
		return
	}
	t.handedOff = true
	t.mu.Unlock()
	t.spawn = nil
	go t.run(fn)
}

// run is a spawned worker: it runs fn, records a failure or a panic, and
// then releases the task.
func (t *Task) run(fn Work) {
	defer t.m.pool.done()
	defer func() {
		t.mu.Lock()
		t.released = true
		t.mu.Unlock()
		t.unlock()
	}()
	start := time.Now()
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic in background work: %v", r)
				t.Log().Error("background work panicked", "panic", r, "stack", string(debug.Stack()))
			}
		}()
		ctx, cancel := t.leaseContext(t.m.base)
		defer cancel()
		return fn(ctx, t)
	}()
	if err == nil {
		t.Log().Debug("background work done", "took", time.Since(start))
		return
	}
	t.Log().Error("background work failed", "err", err, "took", time.Since(start))
	if t.workFailed != nil {
		// Record the failure even if the agent is shutting down.
		t.workFailed(t, err)
	}
}

// unlock releases the lock of an exclusive task, conditional on its token,
// or leaves it to the sweep of orphaned locks when the database cannot be
// reached (Locker.Unlock retries for a while first) or the task's outcome
// could not be recorded.
func (t *Task) unlock() {
	if t.shared {
		return
	}
	if t.unsettled != "" {
		t.m.orphan(t.id, t.unsettled, t.token)
		t.m.log.Error("keeping the lock of a node whose outcome could not be recorded, until the database answers",
			"node", t.id, "purpose", t.purpose)
		return
	}
	err := t.m.cfg.Locker.Unlock(t.id, t.lockLease())
	if err != nil && !errors.Is(err, lock.ErrNotHolder) {
		t.m.orphan(t.id, whyLostLock, t.token)
		t.m.log.Error("cannot release node lock; retried with the heartbeat until the database answers", "node", t.id, "err", err)
		return
	}
	if err != nil {
		t.m.log.Error("node lock was not held at release: it changed hands while the task ran", "node", t.id, "err", err)
	}
	t.m.unhold(t.id, t.token)
}

// absentDriver stands for a driver this agent does not have, in a NodeOnly
// task: it implements no capability.
type absentDriver struct {
	name string
	err  error
}

func (a absentDriver) Name() string                                   { return a.name }
func (a absentDriver) Validate(drivers.Interface, drivers.Node) error { return a.err }

var _ drivers.Binding = (*Task)(nil)
