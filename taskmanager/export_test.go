package taskmanager

// Orphans returns the nodes whose lock this agent may hold although none of
// its tasks does, and what would be recorded for each (for tests).
func (m *Manager) Orphans() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.orphans))
	for k, v := range m.orphans {
		out[k] = v
	}
	return out
}
