package telemetry

import (
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Waiters returns how many Refresh callers wait for the node's next read.
func Waiters(c *Collector, id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fs, ok := c.flights[id]; ok {
		return fs.waiters
	}
	return 0
}

// Record stores a successful read of t for the node, as a cycle does.
func (c *Cache) Record(uuid string, t *drivers.Telemetry) *Entry {
	e, _ := c.record(uuid, uuid, t, nil, time.Now(), 0)
	return e
}
