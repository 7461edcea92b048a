// Package taskmanager runs every driver call inside a Task: a node loaded
// with its ports, volume connectors and targets, bound to its driver, and
// holding the node's exclusive lock unless the task was asked for shared.
// It is the Go form of Ironic's conductor/task_manager.py.
//
// Two ways to use it, the closure form built on the handle form:
//
//	err := tm.Do(ctx, "node-1", taskmanager.Purpose("power on"), func(ctx context.Context, t *taskmanager.Task) error {
//		return t.Driver().SetPowerState(ctx, drivers.ActionPowerOn, 0)
//	})
//
//	t, err := tm.Acquire(ctx, "node-1", taskmanager.Shared(), taskmanager.Purpose("read power"))
//	if err != nil { ... }
//	defer t.Release()
//
// Lifecycle of a task, in order:
//
//  1. Acquire takes the lock (exclusive by default, retried per the lock
//     policy, failing with a *lock.LockedError) and loads the node.
//  2. The caller works with t.Node() and t.Driver(); the driver hands out
//     setters only while the task is exclusive (UpgradeLock makes a shared
//     task exclusive and reloads the node). An exclusive task is fenced by
//     its lock's token (t.LockLease()): each mutating driver call, each Save or
//     Settle and its release check in the database that the lock has not
//     changed hands, and fail with lock.ErrFenced, doing nothing, if it
//     has.
//  3. SpawnAfter reserves a worker from the bounded pool for background
//     work; with none free it runs the spawn error hook, releases the lock
//     and returns ErrNoFreeWorker.
//  4. Release ends the task. Without spawned work it releases the lock now;
//     with it, it starts the worker, which owns the lock until the work ends
//     (success, error or panic). Release is idempotent and runs on its own
//     deadline, so a cancelled request still releases its lock. A lock that
//     cannot be released, or whose node's state could not be recorded, is
//     kept as an orphan and released by Manager.RecoverStale (or the
//     agent's next task on the node) once the database answers.
//
// Recover (at start) and RecoverStale (with each heartbeat) record the
// operations of dead holders as interrupted and then release their locks,
// each conditional on the lock's token. docs/architecture.md lists the
// invariants every path that ends a task keeps.
//
// ProcessEvent moves a node through the provision state machine (states.go),
// optionally spawning a callback whose failure moves the node to the failed
// state and records last_error.
package taskmanager
