// Package lock is the exclusive node lock: a reservation stored in the
// node's own database row (holder = agent id, purpose, since, fencing
// token), taken with one conditional UPDATE and released with another, so
// that several agents on different hosts sharing one database never act on
// one node at once.
//
// The package holds the contract and the policy, not the storage:
//
//   - Backend is what a database provides: Reserve, Release, Verify and the
//     listing of stale locks. The store backends implement it (package
//     store/sqlstore, for the embedded SQLite database and for PostgreSQL);
//     locktest is the conformance suite they all pass.
//   - Locker adds the policy on top of any Backend: retry a held lock
//     Attempts times every Interval and then fail with a *LockedError naming
//     the holder; retry a release that could not reach the database; report
//     waits and contention to an Observer (metrics).
//
// A lock in a database is a lease, not a fact: another agent may sweep it
// while its holder stalls. Every acquisition therefore gets a Token that
// grows each time the node's lock changes hands, taken in the same
// statement as the lock. The holder's Lease (holder id and token) makes its
// release, its writes to the node and its check before each BMC mutation
// (Verify) exact: once the lock changed hands they fail with a
// *FencedError (ErrFenced) or ErrNotHolder and change nothing.
//
// Stale locks have two lines of defence: at start an agent records and
// releases every reservation held under its own id, and live agents do the
// same for the reservations of agents whose heartbeat is older than a
// timeout (Stale), each conditional on the lease it listed.
package lock
