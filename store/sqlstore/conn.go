package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// conn is what the store runs statements on: database/sql for SQLite, a
// native pgx pool for PostgreSQL (database/sql's per-column conversions cost
// about a tenth of the lock throughput at 8 clients). Both report a missing
// row as sql.ErrNoRows.
type conn interface {
	// exec runs a statement and returns the rows it affected.
	exec(ctx context.Context, q string, args ...any) (int64, error)
	queryRow(ctx context.Context, q string, args ...any) row
	query(ctx context.Context, q string, args ...any) (rows, error)
	close()
}

type row interface{ Scan(dest ...any) error }

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// sqlConn is a conn on database/sql. It keeps its statements prepared:
// SQLite otherwise parses each statement anew, and the lock's statements
// (a conditional UPDATE returning the whole node row) cost more to parse
// than to run.
type sqlConn struct {
	db    *sql.DB
	stmts *stmtCache
}

func newSQLConn(db *sql.DB) sqlConn {
	return sqlConn{db: db, stmts: &stmtCache{m: map[string]*sql.Stmt{}}}
}

// stmtCache holds prepared statements by their text, up to maxStmts: the
// store's statements are a fixed set plus a few shapes of listing filters.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

const maxStmts = 128

// stmt returns q prepared, or nil if it cannot be (the statement then runs
// unprepared and reports its own error).
func (c sqlConn) stmt(ctx context.Context, q string) *sql.Stmt {
	c.stmts.mu.Lock()
	defer c.stmts.mu.Unlock()
	if st, ok := c.stmts.m[q]; ok {
		return st
	}
	if len(c.stmts.m) >= maxStmts {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.stmts.m[q] = st
	return st
}

func (c sqlConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if st := c.stmt(ctx, q); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = c.db.ExecContext(ctx, q, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c sqlConn) queryRow(ctx context.Context, q string, args ...any) row {
	if st := c.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, q, args...)
}

func (c sqlConn) query(ctx context.Context, q string, args ...any) (rows, error) {
	var r *sql.Rows
	var err error
	if st := c.stmt(ctx, q); st != nil {
		r, err = st.QueryContext(ctx, args...)
	} else {
		r, err = c.db.QueryContext(ctx, q, args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (c sqlConn) close() {
	c.stmts.mu.Lock()
	for q, st := range c.stmts.m {
		st.Close()
		delete(c.stmts.m, q)
	}
	c.stmts.mu.Unlock()
	c.db.Close()
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// pgxConn is a conn on a pgx pool. Every statement, waiting for a pooled
// connection and connecting included, is bounded by timeout: a server that
// stops answering (a network partition, a stopped VM) would otherwise hold
// the caller, an API request with no deadline of its own, forever. A
// statement cut short by that bound is reported as a noAnswerError, which the
// store maps to store.ErrUnavailable (HTTP 503), not to the caller's own
// timeout.
type pgxConn struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

// noAnswerError: the database did not answer a statement within the
// store's statement timeout. It deliberately does not unwrap to
// context.DeadlineExceeded: the caller's deadline did not pass.
type noAnswerError struct {
	timeout time.Duration
	err     error
}

func (e *noAnswerError) Error() string {
	return fmt.Sprintf("no answer from the database within %s (%v)", e.timeout, e.err)
}

// bound returns the statement's context, and a function that ends it and
// says why a failed statement failed.
func (c pgxConn) bound(ctx context.Context) (context.Context, func(error) error, context.CancelFunc) {
	if c.timeout <= 0 {
		return ctx, func(err error) error { return err }, func() {}
	}
	sctx, cancel := context.WithTimeout(ctx, c.timeout)
	classify := func(err error) error {
		// While the caller's context lives, a deadline that passed is the
		// store's own: this bound, or the connect timeout.
		var ne net.Error
		if err != nil && ctx.Err() == nil && (sctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) ||
			errors.As(err, &ne) && ne.Timeout()) {
			return &noAnswerError{timeout: c.timeout, err: err}
		}
		return err
	}
	return sctx, classify, cancel
}

func (c pgxConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	sctx, classify, cancel := c.bound(ctx)
	defer cancel()
	tag, err := c.pool.Exec(sctx, q, args...)
	if err != nil {
		return 0, classify(err)
	}
	return tag.RowsAffected(), nil
}

func (c pgxConn) queryRow(ctx context.Context, q string, args ...any) row {
	sctx, classify, cancel := c.bound(ctx)
	return pgxRow{c.pool.QueryRow(sctx, q, args...), classify, cancel}
}

func (c pgxConn) query(ctx context.Context, q string, args ...any) (rows, error) {
	sctx, classify, cancel := c.bound(ctx)
	r, err := c.pool.Query(sctx, q, args...)
	if err != nil {
		cancel()
		return nil, classify(err)
	}
	return &pgxRows{Rows: r, classify: classify, cancel: cancel}, nil
}

func (c pgxConn) close() { c.pool.Close() }

// pgxRow ends its statement's context once scanned.
type pgxRow struct {
	pgx.Row
	classify func(error) error
	cancel   context.CancelFunc
}

func (r pgxRow) Scan(dest ...any) error {
	defer r.cancel()
	err := r.Row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows
	}
	return r.classify(err)
}

// pgxRows ends its statement's context when closed.
type pgxRows struct {
	pgx.Rows
	classify func(error) error
	cancel   context.CancelFunc
}

func (r *pgxRows) Scan(dest ...any) error { return r.classify(r.Rows.Scan(dest...)) }
func (r *pgxRows) Err() error             { return r.classify(r.Rows.Err()) }
func (r *pgxRows) Close() {
	r.Rows.Close()
	r.cancel()
}
