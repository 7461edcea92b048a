package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/store/storetest"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the raw statements
)

// BenchmarkLockToken measures what the fencing token costs one acquisition:
// the lock's take and release as the agent runs them (the take bumps and
// returns lock_token, the release is conditional on it) against the same
// two statements without the token, as they were before it (the take
// returning a row all the same, as the agent's does). The two
// alternate in rounds on one connection, so that both see the same load;
// the difference per acquire is the token's cost on the database.
//
//	go test -run '^$' -bench LockToken ./store/sqlstore/
func BenchmarkLockToken(b *testing.B) {
	for _, backend := range []struct{ name, driver string }{{"sqlite", "sqlite"}, {"postgres", "pgx"}} {
		b.Run(backend.name, func(b *testing.B) {
			dsn := filepath.Join(b.TempDir(), "bench.db")
			if backend.name == "postgres" {
				dsn = pgtest.DSN(b)
			}
			db := open(b, dsn)
			n := storetest.NewNode("bench")
			if err := db.CreateNode(context.Background(), n); err != nil {
				b.Fatal(err)
			}
			rawDSN := dsn
			if backend.name == "sqlite" {
				// As the agent opens it: WAL, synchronous NORMAL.
				rawDSN = "file:" + dsn + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
			}
			raw, err := sql.Open(backend.driver, rawDSN)
			if err != nil {
				b.Fatal(err)
			}
			defer raw.Close()
			raw.SetMaxOpenConns(1)
			now := "CAST(unixepoch('subsec') * 1000000 AS INTEGER)"
			if backend.name == "postgres" {
				now = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT"
			}
			ctx := context.Background()
			withToken := func() error {
				var tok int64
				err := raw.QueryRowContext(ctx, "UPDATE nodes SET reservation = $2, reservation_purpose = 'bench', reserved_at = "+now+
					", lock_token = lock_token + 1 WHERE uuid = $1 AND reservation IS NULL RETURNING lock_token", n.UUID, "bench").Scan(&tok)
				if err != nil {
					return err
				}
				_, err = raw.ExecContext(ctx, "UPDATE nodes SET reservation = NULL, reservation_purpose = NULL, reserved_at = NULL"+
					" WHERE uuid = $1 AND reservation = $2 AND lock_token = $3", n.UUID, "bench", tok)
				return err
			}
			without := func() error {
				// A row comes back all the same (the agent's take returns
				// the node's): the difference is the token alone.
				var id int64
				err := raw.QueryRowContext(ctx, "UPDATE nodes SET reservation = $2, reservation_purpose = 'bench', reserved_at = "+now+
					" WHERE uuid = $1 AND reservation IS NULL RETURNING id", n.UUID, "bench").Scan(&id)
				if err != nil {
					return err
				}
				_, err = raw.ExecContext(ctx, "UPDATE nodes SET reservation = NULL, reservation_purpose = NULL, reserved_at = NULL"+
					" WHERE uuid = $1 AND reservation = $2", n.UUID, "bench")
				return err
			}
			const rounds = 10
			per := max(b.N/rounds, 1)
			var tWith, tWithout time.Duration
			b.ResetTimer()
			for range rounds {
				for _, v := range []struct {
					fn  func() error
					sum *time.Duration
				}{{withToken, &tWith}, {without, &tWithout}} {
					start := time.Now()
					for range per {
						if err := v.fn(); err != nil {
							b.Fatal(err)
						}
					}
					*v.sum += time.Since(start)
				}
			}
			b.StopTimer()
			us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 / float64(per*rounds) }
			b.ReportMetric(us(tWith), "token-us/acquire")
			b.ReportMetric(us(tWithout), "no-token-us/acquire")
			b.ReportMetric(us(tWith)-us(tWithout), "cost-us/acquire")
			b.ReportMetric(us(tWith)/us(tWithout), "x_without_token")
		})
	}
}
