// Package lock is the exclusive node lock: a reservation stored in the
// node's own database row (holder = agent id, purpose, since), taken with one
// conditional UPDATE and released with another, so that several agents on
// different hosts sharing one database never act on one node at once.
//
// The package holds the contract and the policy, not the storage:
//
//   - Backend is what a database provides: Reserve, Release and the two
//     stale-lock sweeps. The store backends implement it (package
//     store/sqlstore, for the embedded SQLite database and for PostgreSQL);
//     locktest is the conformance suite they all pass.
//   - Locker adds the policy on top of any Backend: retry a held lock
//     Attempts times every Interval and then fail with a *LockedError naming
//     the holder; retry a release that could not reach the database; report
//     waits and contention to an Observer (metrics).
//
// Stale locks have two lines of defence: at start an agent releases every
// reservation held under its own id (ReleaseHolder), and live agents release
// the reservations of agents whose heartbeat is older than a timeout
// (ReleaseStale).
package lock
