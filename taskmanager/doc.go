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
//     task exclusive and reloads the node).
//  3. SpawnAfter reserves a worker from the bounded pool for background
//     work; with none free it runs the spawn error hook, releases the lock
//     and returns ErrNoFreeWorker.
//  4. Release ends the task. Without spawned work it releases the lock now;
//     with it, it starts the worker, which owns the lock until the work ends
//     (success, error or panic). Release is idempotent and runs on its own
//     deadline, so a cancelled request still releases its lock.
//
// ProcessEvent moves a node through the provision state machine (states.go),
// optionally spawning a callback whose failure moves the node to the failed
// state and records last_error.
package taskmanager
