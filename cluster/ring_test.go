package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/cluster"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/google/uuid"
	"pgregory.net/rapid"
)

// keys returns n node UUIDs, the same on every run.
func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "node-%d", i)).String()
	}
	return out
}

func owners(r *cluster.Ring, ks []string) map[string]string {
	m := make(map[string]string, len(ks))
	for _, k := range ks {
		m[k] = r.Owner(k)
	}
	return m
}

func TestRingEmpty(t *testing.T) {
	r := cluster.NewRing(nil, 0)
	if got := r.Owner("x"); got != "" {
		t.Fatalf("empty ring owner = %q", got)
	}
	if r.Has("a") {
		t.Fatal("empty ring has a member")
	}
}

// The ring does not depend on the order or duplicates of its members: every
// agent that lists the live agents in its own order agrees on every owner.
func TestRingOrderIndependent(t *testing.T) {
	ks := keys(2000)
	a := owners(cluster.NewRing([]string{"agent-1", "agent-2", "agent-3"}, 0), ks)
	b := owners(cluster.NewRing([]string{"agent-3", "agent-1", "agent-2", "agent-1"}, 0), ks)
	for _, k := range ks {
		if a[k] != b[k] {
			t.Fatalf("key %s: %s vs %s", k, a[k], b[k])
		}
	}
}

// The ring's answers are fixed across processes and releases: agents of
// different builds must agree. These owners were computed once; a change of
// the hash or of the point naming breaks them (and mixed-version fleets).
func TestRingStable(t *testing.T) {
	r := cluster.NewRing([]string{"agent-1", "agent-2", "agent-3"}, 0)
	ks := keys(3000)
	var first []string
	for _, k := range ks[:8] {
		first = append(first, r.Owner(k))
	}
	want := []string{"agent-3", "agent-3", "agent-1", "agent-3", "agent-3", "agent-1", "agent-2", "agent-1"}
	if !slices.Equal(first, want) {
		t.Fatalf("owners changed: got %q, want %q", first, want)
	}
	count := map[string]int{}
	for _, k := range ks {
		count[r.Owner(k)]++
	}
	if count["agent-1"] != 1088 || count["agent-2"] != 1006 || count["agent-3"] != 906 {
		t.Fatalf("shares changed: %v", count)
	}
}

// Each of n agents owns close to 1/n of the nodes.
func TestRingBalance(t *testing.T) {
	ks := keys(30000)
	for _, n := range []int{2, 3, 5, 10} {
		var ms []string
		for i := range n {
			ms = append(ms, fmt.Sprintf("agent-%d", i))
		}
		count := map[string]int{}
		r := cluster.NewRing(ms, 0)
		for _, k := range ks {
			count[r.Owner(k)]++
		}
		mean := float64(len(ks)) / float64(n)
		for _, m := range ms {
			if dev := float64(count[m])/mean - 1; dev > 0.15 || dev < -0.15 {
				t.Errorf("%d agents: %s owns %d nodes, %.0f%% off the mean %.0f", n, m, count[m], dev*100, mean)
			}
		}
	}
}

// The movement property: when an agent joins, the only keys that change
// owner are those it takes, and it takes about its share; when it leaves, only
// its keys move. Checked for random fleets and random joiners.
func TestRingMovement(t *testing.T) {
	ks := keys(3000)
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 8).Draw(t, "agents")
		var ms []string
		for i := range n {
			ms = append(ms, rapid.StringMatching(`[a-z]{1,6}-[0-9]{1,3}`).Draw(t, fmt.Sprint("agent", i)))
		}
		ms = slices.Compact(slices.Sorted(slices.Values(ms)))
		joiner := rapid.StringMatching(`[a-z]{1,6}-[0-9]{1,3}`).Filter(func(s string) bool { return !slices.Contains(ms, s) }).Draw(t, "joiner")

		before := owners(cluster.NewRing(ms, 0), ks)
		after := owners(cluster.NewRing(append(slices.Clone(ms), joiner), 0), ks)
		moved := 0
		for _, k := range ks {
			if before[k] == after[k] {
				continue
			}
			if after[k] != joiner {
				t.Fatalf("join of %s moved key %s from %s to %s, not to the joiner", joiner, k, before[k], after[k])
			}
			moved++
		}
		// The joiner takes about 1/(n+1) of the keys: never more than
		// twice its share, and some when there are enough keys.
		share := float64(len(ks)) / float64(len(ms)+1)
		if float64(moved) > 2*share || moved == 0 {
			t.Fatalf("join of %s to %d agents moved %d keys, share %.0f", joiner, len(ms), moved, share)
		}
		// Leaving is the reverse: only the leaver's keys move, and each
		// goes back to whom it had before (the ring is a function of its
		// members, not of its history).
		left := owners(cluster.NewRing(ms, 0), ks)
		for _, k := range ks {
			if left[k] != before[k] {
				t.Fatalf("leave of %s: key %s went to %s, had %s", joiner, k, left[k], before[k])
			}
		}
	})
}

// Removing one agent of several moves only that agent's keys, and spreads
// them over all the others.
func TestRingLeaveSpreads(t *testing.T) {
	ks := keys(6000)
	ms := []string{"agent-1", "agent-2", "agent-3", "agent-4"}
	before := owners(cluster.NewRing(ms, 0), ks)
	after := owners(cluster.NewRing(ms[:3], 0), ks)
	took := map[string]int{}
	for _, k := range ks {
		switch {
		case before[k] == "agent-4":
			took[after[k]]++
		case after[k] != before[k]:
			t.Fatalf("key %s of %s moved to %s when agent-4 left", k, before[k], after[k])
		}
	}
	for _, m := range ms[:3] {
		if took[m] == 0 {
			t.Errorf("%s took none of agent-4's keys: %v", m, took)
		}
	}
}

func TestMemberRing(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	cfg := func(id, group string) cluster.Config {
		return cluster.Config{Agent: store.Agent{ID: id, Group: group}, Interval: time.Second, Timeout: time.Minute}
	}
	a, _ := cluster.New(cfg("a", "g"), db, &sweeps{})
	b, _ := cluster.New(cfg("b", "g"), db, &sweeps{})
	c, _ := cluster.New(cfg("c", "other"), db, &sweeps{})
	for _, m := range []*cluster.Member{a, b, c} {
		if err := m.Join(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r, err := a.Ring(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Members(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("ring of group g = %q", got)
	}
	if a.ID() != "a" {
		t.Fatalf("ID = %q", a.ID())
	}
	if err := b.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	r, _ = a.Ring(ctx)
	if got := r.Members(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("ring after b left = %q", got)
	}
	for _, k := range keys(100) {
		if r.Owner(k) != "a" {
			t.Fatalf("a alone does not own %s", k)
		}
	}
}
