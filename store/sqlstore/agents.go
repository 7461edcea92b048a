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
