// Package metrics exports the agent's Prometheus metrics at /metrics, the way
// node_exporter's collector package is built: one small file per collector, a
// private registry that the program builds and passes down (never the global
// default), and golden tests of the exposition.
//
// The collectors and what they adapt:
//
//   - Driver: a drivers.Middleware that times every driver call by driver,
//     interface, method and result, and counts BMC errors by kind;
//   - Lock: a lock.Observer for lock waits, contention failures and locks held;
//   - Pool: the task manager's worker pool (taskmanager.Manager.Stats);
//   - Nodes: the nodes of the agent's group by power state, provision state
//     and maintenance, read from the store at scrape time;
//   - Sync: a powersync.Observer for the power-state sync loop;
//   - Telemetry: the BMC telemetry cache (telemetry.Cache), walked at scrape
//     time; a Streamer, whose text exposition /metrics writes directly.
//
// Every name of the agent's own has the bmc_agent_ prefix and base units
// (seconds), counters end in _total, and every label has a bounded set of
// values: no node ids, no addresses, no credentials. The exception is the
// hardware's telemetry (bmc_*: what a BMC measures, in base units: celsius,
// watts, rpm, volts, amperes), whose series are per node and per sensor; its
// cardinality is bounded by the nodes an agent owns and a per-node sensor
// cap (see docs/operations.md).
package metrics
