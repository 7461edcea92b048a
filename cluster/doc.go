// Package cluster is the membership of agents that share one database: each
// agent heartbeats into the agents table, and every live agent releases the
// locks of agents whose heartbeat is older than the timeout, marking the
// operations they were running as interrupted. Agents use the database's
// clock for heartbeats, so skew between their hosts does not matter.
//
// One live agent holds an id: Member.Join claims it with one conditional
// statement and refuses while another agent with the id heartbeats. The
// heartbeat renews the agent's Lease, which ends a margin before the others
// may sweep the agent (measured on the monotonic Clock, whose rate tests can
// set): without it the agent cancels its work and takes none (see
// taskmanager.Lease).
//
// The live agents of a group split its nodes between them for periodic work
// (the power-state sync) with a consistent-hashing Ring of node UUIDs: each
// node has one owner, and an agent that joins or leaves moves only its own
// share. Ownership decides who does periodic work, not who may act: any agent
// may serve a request for any node of its group, because the node's lock
// keeps two agents from acting on it at once.
package cluster
