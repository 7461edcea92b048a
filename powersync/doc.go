// Package powersync keeps the recorded power state of the nodes an agent owns
// in step with their BMCs: the Go form of Ironic's _sync_power_states and
// _power_failure_recovery periodic tasks, merged into one loop.
//
// A cycle lists the nodes of the agent's group that are not locked and not in
// maintenance (or in maintenance only because an earlier cycle found their BMC
// dead: fault "power failure"), keeps those the ownership ring assigns to this
// agent, and reads each one's power state through a shared task, a bounded
// number at a time and each read under its own timeout, so that one slow BMC
// holds up one worker and nothing else. Then, per node:
//
//   - same state as recorded: nothing to do;
//   - no state recorded yet: record it;
//   - another state: an out-of-band change. Under the node's exclusive lock
//     (UpgradeLock, then every check again on the reloaded node) the loop
//     records the new state, or, with ForcePowerState, powers the node back to
//     the recorded state;
//   - the BMC did not answer (or answered "error"): one more consecutive
//     failure; at MaxFailures the node goes into maintenance with fault
//     "power failure", a reason and last_error. With ForcePowerState, a node
//     still out of step after MaxFailures cycles goes into maintenance too;
//   - a node in maintenance with fault "power failure" whose BMC answers
//     again leaves maintenance, and its state is recorded.
//
// Writes always happen under the exclusive lock, as in Ironic: a shared task
// that wrote under optimistic concurrency alone would make the next Save of an
// exclusive holder that loaded the node before it fail with a conflict.
//
// Cycles never overlap: Run starts the next one an Interval after the start
// of the last, or at once when the last overran. Every state change is logged
// with the node, the agent, the old and the new state.
package powersync
