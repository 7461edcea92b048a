package sqlstore

import (
	"context"
	"time"

	"github.com/bmc-agent/bmc-agent/store"
)

// Heartbeat implements store.Store.
func (db *DB) Heartbeat(ctx context.Context, a store.Agent) error {
	q := "INSERT INTO agents (id, hostname, agent_group, started_at, last_heartbeat) VALUES ($1, $2, $3, " +
		db.d.now + ", " + db.d.now + ") ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, " +
		"agent_group = excluded.agent_group, last_heartbeat = excluded.last_heartbeat"
	_, err := db.w.exec(ctx, q, a.ID, a.Hostname, a.Group)
	return db.err(err, "heartbeat")
}

// Agents implements store.Store.
func (db *DB) Agents(ctx context.Context, timeout time.Duration) ([]store.Agent, error) {
	q := "SELECT id, hostname, agent_group, started_at, last_heartbeat, last_heartbeat >= " + db.d.now +
		" - $1 FROM agents ORDER BY id"
	rows, err := db.r.query(ctx, q, timeout.Microseconds())
	if err != nil {
		return nil, db.err(err, "list agents")
	}
	defer rows.Close()
	var out []store.Agent
	for rows.Next() {
		var a store.Agent
		if err := rows.Scan(text{&a.ID}, text{&a.Hostname}, text{&a.Group}, micros{&a.StartedAt}, micros{&a.LastHeartbeat}, boolean{&a.Alive}); err != nil {
			return nil, db.err(err, "list agents")
		}
		out = append(out, a)
	}
	return out, db.err(rows.Err(), "list agents")
}

// DeleteAgent implements store.Store.
func (db *DB) DeleteAgent(ctx context.Context, id string) error {
	n, err := db.w.exec(ctx, "DELETE FROM agents WHERE id = $1", id)
	if err != nil {
		return db.err(err, "delete agent")
	}
	if n == 0 {
		return &store.NotFoundError{Kind: "agent", ID: id}
	}
	return nil
}

// ClaimAgent registers a new incarnation of the agent a.ID and returns it
// with its StartedAt, which names the incarnation: it inserts the agent's
// row, or takes over the row of that id only if its last heartbeat is older
// than timeout on the database's clock (its previous holder is gone by the
// rule every agent's stale-lock sweep applies). While a live agent holds the
// id it fails with an error matching store.ErrConflict and changes nothing.
// One statement: of two agents claiming one id at once, one wins.
func (db *DB) ClaimAgent(ctx context.Context, a store.Agent, timeout time.Duration) (store.Agent, error) {
	q := "INSERT INTO agents (id, hostname, agent_group, started_at, last_heartbeat) VALUES ($1, $2, $3, " +
		db.d.now + ", " + db.d.now + ") ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, " +
		"agent_group = excluded.agent_group, started_at = excluded.started_at, last_heartbeat = excluded.last_heartbeat " +
		"WHERE agents.last_heartbeat < excluded.last_heartbeat - $4 RETURNING started_at, last_heartbeat"
	rows, err := db.w.query(ctx, q, a.ID, a.Hostname, a.Group, timeout.Microseconds())
	if err != nil {
		return a, db.err(err, "claim agent id")
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return a, db.err(err, "claim agent id")
		}
		return a, &store.ConflictError{Kind: "agent", Detail: "the id " + a.ID + " belongs to a live agent"}
	}
	if err := rows.Scan(micros{&a.StartedAt}, micros{&a.LastHeartbeat}); err != nil {
		return a, db.err(err, "claim agent id")
	}
	a.Alive = true
	return a, db.err(rows.Err(), "claim agent id")
}

// RenewAgent is the heartbeat of the incarnation a (a.ID and a.StartedAt,
// as ClaimAgent returned them). It fails with an error matching
// store.ErrNotFound once another incarnation took the id over, or the row
// is gone.
func (db *DB) RenewAgent(ctx context.Context, a store.Agent) error {
	q := "UPDATE agents SET last_heartbeat = " + db.d.now + ", hostname = $3, agent_group = $4 WHERE id = $1 AND started_at = $2"
	n, err := db.w.exec(ctx, q, a.ID, a.StartedAt.UnixMicro(), a.Hostname, a.Group)
	if err != nil {
		return db.err(err, "heartbeat")
	}
	if n == 0 {
		return &store.NotFoundError{Kind: "agent incarnation", ID: a.ID + " started at " + a.StartedAt.Format(time.RFC3339Nano)}
	}
	return nil
}

// LeaveAgent deletes the row of the incarnation a, and nothing if another
// incarnation holds the id now (then it fails with an error matching
// store.ErrNotFound).
func (db *DB) LeaveAgent(ctx context.Context, a store.Agent) error {
	n, err := db.w.exec(ctx, "DELETE FROM agents WHERE id = $1 AND started_at = $2", a.ID, a.StartedAt.UnixMicro())
	if err != nil {
		return db.err(err, "delete agent")
	}
	if n == 0 {
		return &store.NotFoundError{Kind: "agent incarnation", ID: a.ID}
	}
	return nil
}
