// Package sqlstore implements store.Store and lock.Backend on SQL databases:
// the embedded SQLite database (modernc.org/sqlite, pure Go, the default) and
// PostgreSQL (pgx/v5 through database/sql).
//
// The SQL is written once; the few places where the two databases differ
// (column types, the clock, JSON aggregation, error codes, how writers are
// serialised) are isolated in a dialect. Migrations are applied by Open,
// under a database-wide lock so that several agents starting at once apply
// them exactly once.
//
// SQLite is opened twice: one connection for writes, so that writers queue
// in Go rather than fail with SQLITE_BUSY, and a pool for reads; the file
// uses WAL mode and a busy timeout so that other processes (another agent on
// the same file, the sqlite3 shell) can share it.
package sqlstore
