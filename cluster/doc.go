// Package cluster is the membership of agents that share one database: each
// agent heartbeats into the agents table, and every live agent releases the
// locks of agents whose heartbeat is older than the timeout, marking the
// operations they were running as interrupted. Agents use the database's
// clock for heartbeats, so skew between their hosts does not matter.
package cluster
