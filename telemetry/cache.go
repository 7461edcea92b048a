package telemetry

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unique"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Entry is what the cache knows of one node. An Entry is never modified once
// in the cache (a read replaces it), so a reader may keep it.
type Entry struct {
	UUID, Name string
	// Telemetry is the last good read, nil before the first one. Never
	// modified once stored.
	Telemetry *drivers.Telemetry
	// Up says that the last read succeeded.
	Up bool
	// Unsupported says that the node's driver reads no telemetry.
	Unsupported bool
	// LastAttempt is when the last read started; Duration how long it took,
	// failed or not.
	LastAttempt time.Time
	Duration    time.Duration
	// LastSuccess is when the last good read (Telemetry) started; zero if
	// none.
	LastSuccess time.Time
	// LastError and ErrorKind (drivers.ErrorKind) are the last read's
	// error, empty when it succeeded.
	LastError, ErrorKind string
	// Dropped is the number of sensors the cap left out of Telemetry.
	Dropped int
	// critical says that the collector has acted on the Critical health of
	// this episode (set the fault, or found the node already in
	// maintenance): it does not act again until health leaves Critical.
	critical bool
}

// Cache is the telemetry of the nodes an agent owns, safe for concurrent
// use.
type Cache struct {
	maxSensors int
	mu         sync.RWMutex
	m          map[string]*Entry
	dropped    atomic.Uint64 // sensors the cap dropped, in all
}

// NewCache returns an empty cache that keeps at most maxSensors sensors of
// one node (<= 0: DefaultMaxSensors).
func NewCache(maxSensors int) *Cache {
	if maxSensors <= 0 {
		maxSensors = DefaultMaxSensors
	}
	return &Cache{maxSensors: maxSensors, m: make(map[string]*Entry)}
}

// Get returns the node's entry.
func (c *Cache) Get(uuid string) (*Entry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.m[uuid]
	return e, ok
}

// Entries returns every entry, in no order. The slice is the caller's.
func (c *Cache) Entries() []*Entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Collect(maps.Values(c.m))
}

// Len returns the number of nodes in the cache.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// Dropped returns the number of sensors the per-node cap has left out since
// the cache was made, over all reads.
func (c *Cache) Dropped() uint64 { return c.dropped.Load() }

// MaxSensors returns the per-node sensor cap.
func (c *Cache) MaxSensors() int { return c.maxSensors }

// record stores the outcome of a read of a node that started at start and
// took took, and returns the new entry and the one it replaced (nil if
// none). A failed read keeps the last good telemetry.
func (c *Cache) record(uuid, name string, t *drivers.Telemetry, err error, start time.Time, took time.Duration) (now, before *Entry) {
	e := &Entry{UUID: uuid, Name: name, LastAttempt: start, Duration: took}
	if err == nil {
		e.Up, e.LastSuccess = true, start
		e.Telemetry, e.Dropped = c.compact(t)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	before = c.m[uuid]
	if err != nil {
		e.LastError, e.ErrorKind = err.Error(), drivers.ErrorKind(err)
		e.Unsupported = e.ErrorKind == "unsupported"
		if before != nil {
			e.Telemetry, e.LastSuccess, e.Dropped = before.Telemetry, before.LastSuccess, before.Dropped
		}
	}
	if before != nil {
		e.critical = before.critical
	}
	c.m[uuid] = e
	return e, before
}

// markCritical records whether the collector has acted on the node's
// Critical health (see Entry.critical).
func (c *Cache) markCritical(uuid string, v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[uuid]; ok && e.critical != v {
		n := *e
		n.critical = v
		c.m[uuid] = &n
	}
}

// drop forgets a node.
func (c *Cache) drop(uuid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, uuid)
}

// retain forgets every node keep does not hold.
func (c *Cache) retain(keep map[string]bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.m)
	maps.DeleteFunc(c.m, func(id string, _ *Entry) bool { return !keep[id] })
	return n - len(c.m)
}

// compact returns t as the cache keeps it: its sensors, power supplies and
// health parts each capped at maxSensors, the strings that become label
// values cut to MaxLabelLen bytes, the strings that repeat across a fleet
// interned, the slices trimmed to their length. t is not modified (the
// caller may hold it); the count of entries dropped is returned. What a BMC
// sends is bounded here, once, so that a BMC listing a million power
// supplies or naming a sensor in megabytes cannot blow up the cache or a
// scrape (Prometheus' label_value_length_limit would fail the whole
// scrape over one long value).
func (c *Cache) compact(t *drivers.Telemetry) (*drivers.Telemetry, int) {
	if t == nil {
		return &drivers.Telemetry{}, 0
	}
	k := *t
	k.Vendor, k.Model, k.FirmwareVersion, k.Schema = label(t.Vendor), label(t.Model), label(t.FirmwareVersion), label(t.Schema)
	// One reading per kind and name, one unit per name (the driver
	// contract): a second would be a duplicate series.
	var dropped, d int
	k.Sensors, dropped = capUnique(t.Sensors, c.maxSensors, func(s drivers.Sensor) (drivers.Sensor, sensorKey) {
		s.Name, s.Context = label(s.Name), label(s.Context)
		s.Kind, s.Health = drivers.SensorKind(intern(string(s.Kind))), drivers.Health(intern(string(s.Health)))
		return s, sensorKey{s.Kind, s.Name}
	})
	// Sorted by name (and context), the order the metrics registry sorts
	// the series of a node into.
	slices.SortFunc(k.Sensors, func(a, b drivers.Sensor) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Context, b.Context))
	})
	k.PowerSupplies, d = capUnique(t.PowerSupplies, c.maxSensors, func(p drivers.PowerSupply) (drivers.PowerSupply, string) {
		p.Name, p.State, p.Health = label(p.Name), intern(p.State), drivers.Health(intern(string(p.Health)))
		return p, p.Name
	})
	dropped += d
	k.Parts = nil
	if n := min(len(t.Parts), c.maxSensors); n > 0 {
		dropped += len(t.Parts) - n
		k.Parts = make([]drivers.HealthPart, n)
		for i, p := range t.Parts[:n] {
			p.Resource, p.ID, p.Health = label(p.Resource), label(p.ID), drivers.Health(intern(string(p.Health)))
			k.Parts[i] = p
		}
	}
	if dropped > 0 {
		c.dropped.Add(uint64(dropped))
	}
	return &k, dropped
}

// capUnique returns the entries of in, each made as the cache keeps it by
// keep, without a second entry of the same key, at most limit of them, in a
// slice of exactly their length (nil for none); and how many the limit left
// out.
func capUnique[T any, K comparable](in []T, limit int, keep func(T) (T, K)) ([]T, int) {
	if len(in) == 0 {
		return nil, 0
	}
	out := make([]T, 0, min(len(in), limit))
	seen := make(map[K]bool, cap(out))
	for i, v := range in {
		if len(out) == limit {
			return out, len(in) - i
		}
		v, k := keep(v)
		if !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return slices.Clip(out), 0
}

// MaxLabelLen is the longest string from a BMC the cache keeps (in bytes,
// cut at a character boundary): a sensor's, power supply's or part's name,
// a context, the vendor, model and firmware version. Each becomes a label
// value; real BMCs use a few dozen bytes (IPMI's SDR caps ID strings at 16).
const MaxLabelLen = 128

// label is s cut to MaxLabelLen bytes, without splitting a UTF-8 sequence,
// and interned.
func label(s string) string {
	if len(s) > MaxLabelLen {
		cut := MaxLabelLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return intern(s)
}

type sensorKey struct {
	kind drivers.SensorKind
	name string
}

// intern returns the canonical copy of s: a fleet's sensor names ("CPU1
// Temp", "Fan3") are a few hundred strings repeated on every node.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}
