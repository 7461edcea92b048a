package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bmc-agent/bmc-agent/store"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune Open. The zero value is usable.
type Options struct {
	// MaxConns bounds the connection pool (PostgreSQL, default 16) or the
	// reader pool (SQLite, default twice the CPUs, at least 4: its reads run
	// on this process's CPUs, so more readers only add page caches of a few
	// MB each).
	MaxConns int
	// StatementTimeout bounds every PostgreSQL statement, including the
	// wait for a pooled connection and connecting (default 10s; negative:
	// no bound). A database that does not answer within it is reported as
	// unavailable (store.ErrUnavailable) instead of holding the caller. The
	// embedded database is a local file and has no such bound.
	StatementTimeout time.Duration
}

// DefaultStatementTimeout is Options.StatementTimeout's default.
const DefaultStatementTimeout = 10 * time.Second

// DB is a store.Store and a lock.Backend on one SQL database.
type DB struct {
	d dialect
	// w runs writes, r runs reads; for PostgreSQL they are the same pool.
	w, r conn
	// migrations returns a database/sql handle to migrate with, and a
	// function to let go of it.
	migrations func() (*sql.DB, func())
	q          queries
	// desc names the database for humans, without credentials.
	desc string
}

// IsPostgres reports whether dsn names a PostgreSQL database rather than an
// embedded database file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the database named by dsn, a postgres:// URL or the path of an
// SQLite file (created if missing, optionally written as sqlite://path), and
// applies pending migrations.
func Open(ctx context.Context, dsn string, opt Options) (*DB, error) {
	if opt.MaxConns <= 0 {
		opt.MaxConns = 16
		if !IsPostgres(dsn) {
			opt.MaxConns = max(4, 2*runtime.GOMAXPROCS(0))
		}
	}
	if opt.StatementTimeout == 0 {
		opt.StatementTimeout = DefaultStatementTimeout
	}
	var db *DB
	var err error
	if IsPostgres(dsn) {
		db, err = openPostgres(ctx, dsn, opt)
	} else {
		db, err = openSQLite(strings.TrimPrefix(dsn, "sqlite://"), opt)
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openPostgres(ctx context.Context, dsn string, opt Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", redactDSNError(err))
	}
	cfg.MaxConns = int32(opt.MaxConns)
	cfg.MaxConnIdleTime = 5 * time.Minute
	if cfg.ConnConfig.ConnectTimeout == 0 && opt.StatementTimeout > 0 {
		// Also bounds the connections migrations make, which run outside
		// the statement bound (connect_timeout in the URL wins).
		cfg.ConnConfig.ConnectTimeout = opt.StatementTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", redactDSNError(err))
	}
	desc := "postgres"
	if u, err := url.Parse(dsn); err == nil {
		desc = "postgres://" + u.Host + u.Path
	}
	c := pgxConn{pool: pool, timeout: opt.StatementTimeout}
	db := newDB(postgresDialect, c, c, desc)
	db.migrations = func() (*sql.DB, func()) {
		sdb := stdlib.OpenDBFromPool(pool)
		return sdb, func() { sdb.Close() }
	}
	return db, nil
}

// redactDSNError keeps a malformed URL's password out of the message: pgx
// quotes the URL it could not parse.
func redactDSNError(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("invalid PostgreSQL URL (check its syntax; the password is not shown)")
	}
	return err
}

func openSQLite(file string, opt Options) (*DB, error) {
	if file == "" {
		return nil, errors.New("open sqlite: empty file name")
	}
	if err := prepareSQLiteFile(file); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	dsn := "file:" + file + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", file, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", file, err)
	}
	r.SetMaxOpenConns(opt.MaxConns)
	r.SetMaxIdleConns(opt.MaxConns)
	db := newDB(sqliteDialect, newSQLConn(w), newSQLConn(r), "sqlite:"+file)
	db.migrations = func() (*sql.DB, func()) { return w, func() {} }
	return db, nil
}

func newDB(d dialect, w, r conn, desc string) *DB {
	return &DB{d: d, w: w, r: r, q: buildQueries(d), desc: desc}
}

// String describes the database without credentials.
func (db *DB) String() string { return db.desc }

// Dialect is "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.d.name }

// Close closes the database.
func (db *DB) Close() error {
	db.w.close()
	if db.r != db.w {
		db.r.close()
	}
	return nil
}

// Ping implements store.Store: the database answers and is migrated.
func (db *DB) Ping(ctx context.Context) error {
	var v int
	if err := db.r.queryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return db.err(err, "ping")
	}
	if want := len(migrationFiles()); v < want {
		return fmt.Errorf("%w: schema at version %d, want %d", store.ErrUnavailable, v, want)
	}
	return nil
}

// err maps a driver error to the store's errors.
func (db *DB) err(err error, op string) error {
	switch {
	case err == nil:
		return nil
	case errors.As(err, new(*noAnswerError)):
		return fmt.Errorf("%s: %w: %w", op, store.ErrUnavailable, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", op, err)
	case db.d.isUnavailable(err):
		return fmt.Errorf("%s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func migrationFiles() []string {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	sort.Strings(names)
	return names
}

// migrate applies the migrations not yet applied, each in its own
// transaction, holding a database-wide lock (an advisory lock on PostgreSQL,
// the write lock on SQLite) so that agents starting together do not race.
func (db *DB) migrate(ctx context.Context) error {
	sdb, done := db.migrations()
	defer done()
	conn, err := sdb.Conn(ctx)
	if err != nil {
		return db.err(err, "migrate")
	}
	defer conn.Close()
	if db.d.name == "postgres" {
		const key = 0x626d63616765 // "bmcage"
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
			return db.err(err, "migrate: lock")
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
	}
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"); err != nil {
		return db.err(err, "migrate")
	}
	var have int
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&have); err != nil {
		return db.err(err, "migrate: read version")
	}
	if known := len(migrationFiles()); have > known {
		return &SchemaTooNewError{Database: have, Known: known}
	}
	for i, name := range migrationFiles() {
		version := i + 1
		if n, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0]); err != nil || n != version {
			return fmt.Errorf("migrate: %s is out of sequence", name)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if err := db.apply(ctx, conn, version, db.d.schema.Replace(string(body))); err != nil {
			return fmt.Errorf("migrate %s: %w", path.Base(name), err)
		}
	}
	return nil
}

// ErrSchemaTooNew is matched (errors.Is) by a *SchemaTooNewError.
var ErrSchemaTooNew = errors.New("the database schema is newer than this bmc-agent")

// SchemaTooNewError: the database was migrated by a newer bmc-agent. Its
// tables may have columns this binary does not know, so it refuses to run
// on it rather than fail later with bare SQL errors.
type SchemaTooNewError struct {
	// Database is the schema version the database is at; Known is the
	// newest this binary knows (the number of its migrations).
	Database, Known int
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("the database schema is at version %d, newer than this bmc-agent knows (version %d): run a bmc-agent at least as new as the one that migrated it",
		e.Database, e.Known)
}

// Is makes errors.Is(err, ErrSchemaTooNew) hold.
func (e *SchemaTooNewError) Is(target error) bool { return target == ErrSchemaTooNew }

func (db *DB) apply(ctx context.Context, conn *sql.Conn, version int, body string) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return db.err(err, "begin")
	}
	defer tx.Rollback()
	var done int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = $1", version).Scan(&done); err != nil {
		return db.err(err, "read version")
	}
	if done > 0 {
		return nil
	}
	for _, stmt := range strings.Split(body, ";") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return db.err(err, "apply")
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, "+db.d.now+")", version); err != nil {
		return db.err(err, "record version")
	}
	return db.err(tx.Commit(), "commit")
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
