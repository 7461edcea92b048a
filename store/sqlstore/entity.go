package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bmc-agent/bmc-agent/store"
	"github.com/google/uuid"
)

// entity describes how one type maps to its table. Columns are listed once;
// scanning, inserting, updating and the JSON form used to load a node's
// children all derive from the list.
type entity[T any] struct {
	kind  string // for messages: "node", "port", ...
	table string
	// cols are the columns between uuid and the timestamps, in the order of
	// vals and of ptrs.
	cols []string
	// mutable are the columns an update writes.
	mutable []string
	uuid    func(*T) *string
	// vals returns the values of cols.
	vals func(*T) []any
	// ptrs returns scan targets for uuid, cols..., created_at, updated_at.
	ptrs func(*T) []any
	// sortKeys maps the sort keys a listing accepts to SQL expressions.
	sortKeys map[string]string
	// unique explains a unique violation.
	unique func(*T) string
}

func (e *entity[T]) selectCols() string {
	return "uuid, " + strings.Join(e.cols, ", ") + ", created_at, updated_at"
}

func (e *entity[T]) timePtrs(x *T) []any {
	p := e.ptrs(x)
	return p[len(p)-2:]
}

func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

// insertRow inserts x, assigning a UUID if it has none, and reads back the
// database's timestamps.
func insertRow[T any](ctx context.Context, db *DB, e *entity[T], x *T) error {
	id := e.uuid(x)
	if *id == "" {
		*id = uuid.NewString()
	} else if !store.IsUUID(*id) {
		return fmt.Errorf("create %s: %q is not a UUID", e.kind, *id)
	}
	q := fmt.Sprintf("INSERT INTO %s (uuid, %s, created_at, updated_at) VALUES ($1, %s, %s, %s) RETURNING created_at, updated_at",
		e.table, strings.Join(e.cols, ", "), placeholders(2, len(e.cols)), db.d.now, db.d.now)
	args := append([]any{*id}, e.vals(x)...)
	err := db.w.queryRow(ctx, q, args...).Scan(e.timePtrs(x)...)
	return db.writeErr(err, e.kind, e.unique(x), "create "+e.kind)
}

// writeErr maps the error of a write.
func (db *DB) writeErr(err error, kind, unique, op string) error {
	if err != nil && db.d.isUnique(err) {
		return &store.ConflictError{Kind: kind, Detail: unique}
	}
	return db.err(err, op)
}

// getRow reads one row where col = arg.
func getRow[T any](ctx context.Context, db *DB, e *entity[T], col string, arg any) (*T, error) {
	x := new(T)
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s = $1", e.selectCols(), e.table, col)
	err := db.r.queryRow(ctx, q, arg).Scan(e.ptrs(x)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &store.NotFoundError{Kind: e.kind, ID: fmt.Sprint(arg)}
	}
	if err != nil {
		return nil, db.err(err, "get "+e.kind)
	}
	return x, nil
}

// listRows lists rows matching where (conditions joined by AND, with
// positional args), ordered and paged by p.
func listRows[T any](ctx context.Context, db *DB, e *entity[T], where []string, args []any, p store.Page) ([]*T, error) {
	key := "id"
	if p.SortKey != "" {
		k, ok := e.sortKeys[p.SortKey]
		if !ok {
			return nil, fmt.Errorf("%w: cannot sort %ss by %q", store.ErrInvalidQuery, e.kind, p.SortKey)
		}
		key = k
	}
	dir, cmp := "ASC", ">"
	if p.Desc {
		dir, cmp = "DESC", "<"
	}
	if p.Marker != "" {
		args = append(args, p.Marker)
		n := len(args)
		where = append(where, fmt.Sprintf("(%s, id) %s (SELECT %s, id FROM %s WHERE uuid = $%d)", key, cmp, key, e.table, n))
		var exists int
		if err := db.r.queryRow(ctx, "SELECT COUNT(*) FROM "+e.table+" WHERE uuid = $1", p.Marker).Scan(&exists); err != nil {
			return nil, db.err(err, "list "+e.kind+"s")
		}
		if exists == 0 {
			return nil, &store.NotFoundError{Kind: "marker " + e.kind, ID: p.Marker}
		}
	}
	q := "SELECT " + e.selectCols() + " FROM " + e.table
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s %s, id %s", key, dir, dir)
	if p.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(p.Limit)
	}
	rows, err := db.r.query(ctx, q, args...)
	if err != nil {
		return nil, db.err(err, "list "+e.kind+"s")
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		x := new(T)
		if err := rows.Scan(e.ptrs(x)...); err != nil {
			return nil, db.err(err, "list "+e.kind+"s")
		}
		out = append(out, x)
	}
	return out, db.err(rows.Err(), "list "+e.kind+"s")
}

// updateRow writes x's mutable columns; extra conditions (with args
// numbered after the mutable values and the uuid) guard the update.
func updateRow[T any](ctx context.Context, db *DB, e *entity[T], x *T, set []string, cond string, condArgs ...any) (bool, error) {
	vals := e.vals(x)
	idx := make(map[string]int, len(e.cols))
	for i, c := range e.cols {
		idx[c] = i
	}
	assign := make([]string, 0, len(e.mutable)+len(set)+1)
	args := make([]any, 0, len(e.mutable)+1+len(condArgs))
	for i, c := range e.mutable {
		assign = append(assign, fmt.Sprintf("%s = $%d", c, i+1))
		args = append(args, vals[idx[c]])
	}
	assign = append(assign, set...)
	assign = append(assign, "updated_at = "+db.d.now)
	args = append(args, *e.uuid(x))
	q := fmt.Sprintf("UPDATE %s SET %s WHERE uuid = $%d", e.table, strings.Join(assign, ", "), len(args))
	if cond != "" {
		q += " AND " + cond
	}
	args = append(args, condArgs...)
	q += " RETURNING updated_at"
	err := db.w.queryRow(ctx, q, args...).Scan(e.timePtrs(x)[1])
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, db.writeErr(err, e.kind, e.unique(x), "update "+e.kind)
	}
	return true, nil
}

func deleteRow[T any](ctx context.Context, db *DB, e *entity[T], id string) error {
	n, err := db.w.exec(ctx, "DELETE FROM "+e.table+" WHERE uuid = $1", id)
	if err != nil {
		return db.err(err, "delete "+e.kind)
	}
	if n == 0 {
		return &store.NotFoundError{Kind: e.kind, ID: id}
	}
	return nil
}
