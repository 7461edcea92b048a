// Package telemetry reads the health and sensors of the nodes an agent owns
// from their BMCs on a schedule, and keeps the last readings in memory, so
// that metrics scrapes and API reads are served from the cache and never
// wait for, or add load to, a BMC.
//
// A Collector's cycle lists the nodes of the agent's group the ownership
// ring gives this agent (cluster.Owned, as the power sync does) and reads
// each one's telemetry (drivers.TelemetryReader) in a shared task, the reads
// spread evenly over the cycle rather than started in a burst, a bounded
// number at once, and never more than one at a time per BMC endpoint (several
// nodes can sit behind one BMC, as a chassis manager's blades do).
//
// The Cache holds, per node, the last good Telemetry with its time, whether
// the last read succeeded (the BMC is "up"), how long it took and its error.
// A failed read keeps the last readings, so a consumer sees how old they are
// rather than nothing. Nodes deleted, or no longer owned by this agent, drop
// out of the cache at the next cycle. Sensor names and contexts are interned
// (the same few hundred strings repeat across a fleet) and the sensors of one
// node are capped (Config.MaxSensors), the excess counted, so that the cache
// of 10,000 nodes of 40 sensors stays a few tens of megabytes.
//
// Refresh reads one node now, e.g. when a BMC event says its power or health
// changed; concurrent refreshes of one node share reads.
//
// A node whose health rollup turns Critical goes into maintenance with fault
// "health failure", the way Ironic's power sync sets "power failure" (see
// FaultHealthFailure); it leaves maintenance when its health reads OK again,
// and only if the fault is still the one the collector set.
package telemetry
