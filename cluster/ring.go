package cluster

import (
	"context"
	"slices"
	"sort"
	"strconv"
)

// DefaultVirtualNodes is how many points each agent has on a Ring unless
// Config.VirtualNodes says otherwise. With 512 points an agent's share of the
// nodes stays within a few percent of the mean for a handful of agents.
const DefaultVirtualNodes = 512

// Ring assigns keys (node UUIDs) to agents by consistent hashing: every agent
// owns VirtualNodes points on a 64-bit circle, and a key belongs to the agent
// of the first point at or after the key's hash. When an agent joins, it takes
// over only the keys that now fall on its points; when one leaves, only its
// keys move, spread over the others. Every agent that builds a Ring from the
// same members and the same number of virtual nodes gets the same answers:
// the hash is fixed (FNV-1a with a 64-bit finaliser), not seeded per process.
//
// A Ring is immutable and safe for concurrent use.
type Ring struct {
	members []string
	points  []ringPoint
}

type ringPoint struct {
	hash   uint64
	member int32 // index into members
}

// NewRing builds the ring of members (duplicates and order do not matter),
// each with vnodes points; vnodes < 1 means DefaultVirtualNodes.
func NewRing(members []string, vnodes int) *Ring {
	if vnodes < 1 {
		vnodes = DefaultVirtualNodes
	}
	ms := slices.Clone(members)
	slices.Sort(ms)
	ms = slices.Compact(ms)
	r := &Ring{members: ms, points: make([]ringPoint, 0, len(ms)*vnodes)}
	buf := make([]byte, 0, 64)
	for i, m := range ms {
		for v := range vnodes {
			buf = append(buf[:0], m...)
			buf = append(buf, '#')
			buf = strconv.AppendInt(buf, int64(v), 10)
			r.points = append(r.points, ringPoint{hash: hashKey(buf), member: int32(i)})
		}
	}
	// Ties (vanishingly rare) are broken by member name, so the order is
	// the same on every agent.
	sort.Slice(r.points, func(i, j int) bool {
		a, b := r.points[i], r.points[j]
		if a.hash != b.hash {
			return a.hash < b.hash
		}
		return ms[a.member] < ms[b.member]
	})
	return r
}

// Owner returns the member that owns key, or "" if the ring is empty.
func (r *Ring) Owner(key string) string {
	if len(r.points) == 0 {
		return ""
	}
	h := hashKey([]byte(key))
	i := sort.Search(len(r.points), func(i int) bool { return r.points[i].hash >= h })
	if i == len(r.points) {
		i = 0
	}
	return r.members[r.points[i].member]
}

// Members returns the ring's members, sorted.
func (r *Ring) Members() []string { return slices.Clone(r.members) }

// Has reports whether member is on the ring.
func (r *Ring) Has(member string) bool {
	_, ok := slices.BinarySearch(r.members, member)
	return ok
}

// hashKey is FNV-1a over b followed by the splitmix64 finaliser: FNV alone
// spreads short keys that differ in their last bytes (agent-1#17, agent-1#18)
// poorly over the high bits the ring orders by.
func hashKey(b []byte) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, c := range b {
		h ^= uint64(c)
		h *= prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// Ring returns the ownership ring of the live agents of this agent's group,
// as the database sees them now. An agent whose own heartbeat is stale is not
// on it (the others have taken over its nodes), so it owns nothing until its
// heartbeat is fresh again.
func (m *Member) Ring(ctx context.Context) (*Ring, error) {
	alive, err := m.Alive(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(alive))
	for i, a := range alive {
		ids[i] = a.ID
	}
	return NewRing(ids, m.cfg.VirtualNodes), nil
}

// ID returns this agent's id.
func (m *Member) ID() string { return m.cfg.Agent.ID }
