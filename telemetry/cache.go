package telemetry

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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

// compact returns t as the cache keeps it: its sensors capped, the strings
// that repeat across a fleet interned, the slices trimmed to their length.
// t is not modified (the caller may hold it); the count of sensors dropped
// is returned.
func (c *Cache) compact(t *drivers.Telemetry) (*drivers.Telemetry, int) {
	if t == nil {
		return &drivers.Telemetry{}, 0
	}
	k := *t
	k.Vendor, k.Model, k.FirmwareVersion, k.Schema = intern(t.Vendor), intern(t.Model), intern(t.FirmwareVersion), intern(t.Schema)
	dropped := max(len(t.Sensors)-c.maxSensors, 0)
	if dropped > 0 {
		c.dropped.Add(uint64(dropped))
	}
	k.Sensors = nil
	if n := len(t.Sensors) - dropped; n > 0 {
		k.Sensors = make([]drivers.Sensor, 0, n)
		seen := make(map[sensorKey]bool, n)
		for _, s := range t.Sensors[:n] {
			// One reading per kind and name (the driver contract): a
			// second would be a duplicate series.
			if key := (sensorKey{s.Kind, s.Name}); !seen[key] {
				seen[key] = true
				s.Kind = drivers.SensorKind(intern(string(s.Kind)))
				s.Name, s.Context = intern(s.Name), intern(s.Context)
				s.Health = drivers.Health(intern(string(s.Health)))
				k.Sensors = append(k.Sensors, s)
			}
		}
		// Sorted by name (and context), the order the metrics registry
		// sorts the series of a node into.
		slices.SortFunc(k.Sensors, func(a, b drivers.Sensor) int {
			return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Context, b.Context))
		})
		k.Sensors = slices.Clip(k.Sensors)
	}
	k.Parts = nil
	if len(t.Parts) > 0 {
		k.Parts = make([]drivers.HealthPart, len(t.Parts))
		for i, p := range t.Parts {
			p.Resource, p.ID, p.Health = intern(p.Resource), intern(p.ID), drivers.Health(intern(string(p.Health)))
			k.Parts[i] = p
		}
	}
	k.PowerSupplies = nil
	if len(t.PowerSupplies) > 0 {
		k.PowerSupplies = make([]drivers.PowerSupply, 0, len(t.PowerSupplies))
		for _, p := range t.PowerSupplies {
			if slices.ContainsFunc(k.PowerSupplies, func(o drivers.PowerSupply) bool { return o.Name == p.Name }) {
				continue // one unit per name, as sensors
			}
			p.Name, p.State, p.Health = intern(p.Name), intern(p.State), drivers.Health(intern(string(p.Health)))
			k.PowerSupplies = append(k.PowerSupplies, p)
		}
	}
	return &k, dropped
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
