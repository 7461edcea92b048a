package faultinject_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bmc-agent/bmc-agent/internal/faultinject"
	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// The wrapper fails a call before it reaches the database, loses the
// answer of one that did, and holds one at a gate; everything else passes.
func TestRules(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "fi.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := storetest.NewNode("n1")
	if err := db.CreateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	fi := faultinject.Wrap(db)
	r := lock.Reservation{Holder: "a"}
	fi.On(faultinject.Nth("Reserve", 1, faultinject.Action{Fail: true}))
	fi.On(faultinject.Nth("Reserve", 2, faultinject.Action{Lost: true}))
	if _, err := fi.Reserve(ctx, n.UUID, r); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("failed call: %v", err)
	}
	if got, _ := db.Node(ctx, n.UUID); got.Reservation != "" {
		t.Fatalf("a failed call reached the database: reservation %q", got.Reservation)
	}
	if _, err := fi.Reserve(ctx, n.UUID, r); !errors.Is(err, faultinject.ErrInjected) {
		t.Fatalf("lost answer: %v", err)
	}
	got, _ := db.Node(ctx, n.UUID)
	if got.Reservation != "a" {
		t.Fatalf("a call whose answer was lost did not reach the database: reservation %q", got.Reservation)
	}
	g := faultinject.NewGate()
	fi.On(faultinject.Every("Release", faultinject.Action{Gate: g}))
	done := make(chan error, 1)
	go func() { done <- fi.Release(ctx, n.UUID, lock.Lease{Holder: "a", Token: lock.Token(got.LockToken)}) }()
	<-g.Reached()
	if got, _ := db.Node(ctx, n.UUID); got.Reservation != "a" {
		t.Fatal("a call held at the gate reached the database")
	}
	g.Open()
	if err := <-done; err != nil {
		t.Fatalf("release after the gate opened: %v", err)
	}
	if fi.Calls("Reserve") != 2 || fi.Calls("Release") != 1 {
		t.Fatalf("calls counted: Reserve %d, Release %d", fi.Calls("Reserve"), fi.Calls("Release"))
	}
	fi.Clear()
	if _, err := fi.Reserve(ctx, n.UUID, r); err != nil {
		t.Fatalf("after Clear: %v", err)
	}
}
