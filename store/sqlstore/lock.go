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

// Reserve implements lock.Backend with one conditional UPDATE.
func (db *DB) Reserve(ctx context.Context, node string, r lock.Reservation) error {
	return db.reserve(ctx, node, r, func(ctx context.Context) (bool, error) {
		q := db.q.reserveByUUID
		if identCol(node) == "name" {
			q = db.q.reserveByName
		}
		n, err := db.w.exec(ctx, q, node, r.Holder, r.Purpose)
		return n == 1, err
	})
}

// ReserveNode takes the node's lock like Reserve and returns the node as
// the same single UPDATE statement leaves it (its RETURNING clause carries
// the row). It is what the task manager uses to acquire a task: one round
// trip where Reserve and a read would take two.
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
		var holder, purpose string
		var since *time.Time
		err = db.r.queryRow(wctx, fmt.Sprintf(db.q.reservation, identCol(node)), node).
			Scan(text{&holder}, text{&purpose}, nullMicros{&since})
		if errors.Is(err, sql.ErrNoRows) {
			return &store.NotFoundError{Kind: "node", ID: node}
		}
		if err != nil {
			return db.err(err, "read reservation")
		}
		if holder != "" {
			le := &lock.LockedError{Node: node, Reservation: lock.Reservation{Holder: holder, Purpose: purpose}}
			if since != nil {
				le.Since = *since
			}
			return le
		}
	}
	return &lock.LockedError{Node: node, Reservation: lock.Reservation{Holder: "(changing hands)"}}
}

// Release implements lock.Backend.
func (db *DB) Release(ctx context.Context, node, holder string) error {
	n, err := db.w.exec(ctx, db.q.release, node, holder)
	if err != nil {
		return db.err(err, "release node")
	}
	if n == 0 {
		return fmt.Errorf("release node %s by %s: %w", node, holder, lock.ErrNotHolder)
	}
	return nil
}

// ReleaseHolder implements lock.Backend.
func (db *DB) ReleaseHolder(ctx context.Context, holder string) ([]string, error) {
	return db.releaseWhere(ctx, "reservation = $1", holder)
}

// ReleaseStale implements lock.Backend.
func (db *DB) ReleaseStale(ctx context.Context, timeout time.Duration, except string) ([]string, error) {
	return db.releaseWhere(ctx, "reservation IS NOT NULL AND reservation <> $1 AND reservation NOT IN "+
		"(SELECT id FROM agents WHERE last_heartbeat >= "+db.d.now+" - $2)", except, timeout.Microseconds())
}

func (db *DB) releaseWhere(ctx context.Context, cond string, args ...any) ([]string, error) {
	q := "UPDATE nodes SET reservation = NULL, reservation_purpose = NULL, reserved_at = NULL WHERE " + cond + " RETURNING uuid"
	rows, err := db.w.query(ctx, q, args...)
	if err != nil {
		return nil, db.err(err, "release locks")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, db.err(err, "release locks")
		}
		out = append(out, id)
	}
	return out, db.err(rows.Err(), "release locks")
}

// Interface guards.
var (
	_ store.Store  = (*DB)(nil)
	_ lock.Backend = (*DB)(nil)
)
