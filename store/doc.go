// Package store is the agent's inventory: the domain types (Node, Port,
// VolumeConnector, VolumeTarget, Agent), the errors every backend returns,
// and Store, the contract a backend fulfils.
//
// Backends live in subpackages; sqlstore implements the contract for the
// embedded SQLite database and for PostgreSQL, and storetest is the
// conformance suite every backend must pass. The exclusive node lock is a
// reservation column of the node row, as in Ironic: the same backends
// implement lock.Backend.
package store
