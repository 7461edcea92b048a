package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
)

// Reserve implements lock.Backend with one conditional UPDATE, which also
// takes the next fencing token and returns it.
func (db *DB) Reserve(ctx context.Context, node string, r lock.Reservation) (lock.Token, error) {
	var tok lock.Token
	err := db.reserve(ctx, node, r, func(ctx context.Context) (bool, error) {
		q := db.q.reserveByUUID
		if identCol(node) == "name" {
			q = db.q.reserveByName
		}
		err := db.w.queryRow(ctx, q, node, r.Holder, r.Purpose).Scan((*int64)(&tok))
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	})
	return tok, err
}

// ReserveNode takes the node's lock like Reserve and returns the node as
// the same single UPDATE statement leaves it (its RETURNING clause carries
// the row, the new LockToken included). It is what the task manager uses to
// acquire a task: one round trip where Reserve and a read would take two.
func (db *DB) ReserveNode(ctx context.Context, uuid string, r lock.Reservation) (*store.Node, error) {
	n := new(store.Node)
	err := db.reserve(ctx, uuid, r, func(ctx context.Context) (bool, error) {
		err := db.w.queryRow(ctx, db.q.reserveNode, uuid, r.Holder, r.Purpose).Scan(nodes.ptrs(n)...)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil // missing or held: reserve finds out which
		}
		return err == nil, err
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// reserve runs take, a conditional update that reports whether it took the
// lock. Only when it did not does a second query find out why: the node is
// missing, or held (by whom), or was released in between, in which case it
// tries again.
//
// take runs to completion even if ctx ends meanwhile: a statement cancelled
// in flight may have committed on the server, and a caller told "cancelled"
// would never release the lock it in fact holds.
func (db *DB) reserve(ctx context.Context, node string, r lock.Reservation, take func(context.Context) (bool, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Not cancelled with ctx, but bounded all the same: by the statement
	// timeout on PostgreSQL, by the busy timeout on SQLite.
	wctx := context.WithoutCancel(ctx)
	for range 3 {
		ok, err := take(wctx)
		if err != nil {
			return db.err(err, "reserve node")
		}
		if ok {
			return nil
		}
		now, err := db.reservation(wctx, node)
		if err != nil {
			return err
		}
		if now.Holder != "" {
			return &lock.LockedError{Node: node, Reservation: now}
		}
	}
	return &lock.LockedError{Node: node, Reservation: lock.Reservation{Holder: "(changing hands)"}}
}

// reservation reads node's reservation (node is a UUID or a name).
func (db *DB) reservation(ctx context.Context, node string) (lock.Reservation, error) {
	var r lock.Reservation
	var since *time.Time
	err := db.r.queryRow(ctx, fmt.Sprintf(db.q.reservation, identCol(node)), node).
		Scan(text{&r.Holder}, text{&r.Purpose}, nullMicros{&since}, (*int64)(&r.Token))
	if errors.Is(err, sql.ErrNoRows) {
		return r, &store.NotFoundError{Kind: "node", ID: node}
	}
	if err != nil {
		return r, db.err(err, "read reservation")
	}
	if since != nil {
		r.Since = *since
	}
	return r, nil
}

// Release implements lock.Backend: one UPDATE conditional on the lease.
func (db *DB) Release(ctx context.Context, node string, l lock.Lease) error {
	n, err := db.w.exec(ctx, db.q.release, node, l.Holder, int64(l.Token))
	if err != nil {
		return db.err(err, "release node")
	}
	if n == 0 {
		return fmt.Errorf("release node %s by %s (token %d): %w", node, l.Holder, l.Token, lock.ErrNotHolder)
	}
	return nil
}

// Verify implements lock.Backend: one indexed read on the hot path, a
// second one only to say who holds the node when l does not.
func (db *DB) Verify(ctx context.Context, node string, l lock.Lease) error {
	var one int
	err := db.r.queryRow(ctx, db.q.verify, node, l.Holder, int64(l.Token)).Scan(&one)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return db.err(err, "verify lock")
	}
	now, err := db.reservation(ctx, node)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return &lock.FencedError{Node: node, Lease: l, Now: now}
}

// Stale implements lock.Backend.
func (db *DB) Stale(ctx context.Context, timeout time.Duration, except string) ([]lock.Held, error) {
	rows, err := db.r.query(ctx, "SELECT uuid, reservation, lock_token FROM nodes WHERE reservation IS NOT NULL AND reservation <> $1"+
		" AND reservation NOT IN (SELECT id FROM agents WHERE last_heartbeat >= "+db.d.now+" - $2) ORDER BY id",
		except, timeout.Microseconds())
	if err != nil {
		return nil, db.err(err, "list stale locks")
	}
	defer rows.Close()
	var out []lock.Held
	for rows.Next() {
		var h lock.Held
		if err := rows.Scan(&h.Node, &h.Holder, (*int64)(&h.Token)); err != nil {
			return nil, db.err(err, "list stale locks")
		}
		out = append(out, h)
	}
	return out, db.err(rows.Err(), "list stale locks")
}

// Interface guards.
var (
	_ store.Store  = (*DB)(nil)
	_ lock.Backend = (*DB)(nil)
)
