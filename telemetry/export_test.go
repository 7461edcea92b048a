package telemetry

// Waiters returns how many Refresh callers wait for the node's next read.
func Waiters(c *Collector, id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fs, ok := c.flights[id]; ok {
		return fs.waiters
	}
	return 0
}
