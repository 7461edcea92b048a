package sqlstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/lock/locktest"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/store/storetest"
)

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m))
}

// backends are the databases every contract test runs against: a fresh
// one per call.
var backends = []struct {
	name string
	dsn  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "agent.db") }},
	{"postgres", func(t *testing.T) string { return pgtest.DSN(t) }},
}

func open(t testing.TB, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStoreContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store { return open(t, b.dsn(t)) })
		})
	}
}

func TestLockContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			locktest.Run(t, func(t *testing.T) locktest.Env {
				dsn := b.dsn(t)
				a := open(t, dsn)
				// A second, independent connection to the same database:
				// another agent.
				return locktest.Env{A: a, B: open(t, dsn), Store: a}
			}, locktest.Options{})
		})
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			first := open(t, dsn)
			n := storetest.NewNode("survivor")
			if err := first.CreateNode(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			// Reopening applies nothing twice and keeps the data.
			second := open(t, dsn)
			if err := second.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := second.Node(context.Background(), "survivor"); err != nil {
				t.Fatalf("data lost on reopen: %v", err)
			}
		})
	}
}

func TestReserveNode(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := open(t, b.dsn(t))
			n := storetest.NewNode("rns")
			if err := db.CreateNode(ctx, n); err != nil {
				t.Fatal(err)
			}
			if err := db.CreatePort(ctx, &store.Port{NodeUUID: n.UUID, Address: "52:54:00:00:00:aa"}); err != nil {
				t.Fatal(err)
			}
			got, err := db.ReserveNode(ctx, n.UUID, lock.Reservation{Holder: "a", Purpose: "p"})
			if err != nil {
				t.Fatal(err)
			}
			if got.Reservation != "a" || got.ReservationPurpose != "p" || got.ReservedAt == nil || got.DriverInfo["password"] != "secret" || got.Version != 1 {
				t.Fatalf("reserved node: %+v", got)
			}
			_, err = db.ReserveNode(ctx, n.UUID, lock.Reservation{Holder: "b"})
			var le *lock.LockedError
			if !errors.As(err, &le) || le.Holder != "a" || le.Purpose != "p" {
				t.Fatalf("second reserve: %v", err)
			}
			if _, err := db.ReserveNode(ctx, "6f1b1c5e-0000-4000-8000-000000000000", lock.Reservation{Holder: "b"}); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("missing node: %v", err)
			}
		})
	}
}
