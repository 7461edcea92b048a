package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bmc-agent/bmc-agent/internal/testutil"
)

// procStatus reads a field of /proc/PID/status in MB (VmRSS, VmHWM).
func procStatus(tb testing.TB, pid int, field string) float64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	tb.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// filled is a JSON object of n bytes (compacted), its one member named key.
func filled(key string, n int) string {
	return `{"` + key + `": "` + strings.Repeat("x", n-len(`{"":""}`)-len(key)) + `"}`
}

// listingMemoryBoundMB is the bound chosen for the agent's peak RSS above its
// idle RSS while three clients read a detail listing of nodes at their
// field bounds: per listing, one store chunk (listChunk = 32 nodes) of at
// most ~450 KiB each, held three times over (the row, the decoded node,
// its rendered copy) is ~42 MiB; three listings ~126 MiB; Go's collector
// (GOGC=100) lets the heap reach about twice what is live: 256 MiB.
const listingMemoryBoundMB = 256

// BenchmarkDetailListingMemory is the report's scenario against the real
// binary: 100 nodes, each with about 1 MiB of fields, listed in detail by
// three clients at once (the report saw 4 GB of RSS). A 1 MiB extra is now
// refused, so the nodes carry what the bounds allow (extra, properties and
// driver_info 64 KiB each, instance_info 256 KiB: ~450 KiB a node), and
// the clients follow the next links of the byte-budgeted pages. Figures:
// the agent's RSS before, its peak (VmHWM) during the listings, the peak
// above idle against listingMemoryBoundMB, and the peak against the
// report's 4 GB.
func BenchmarkDetailListingMemory(b *testing.B) {
	// No periodic listing of the (large) nodes beside the clients' listings.
	a := startAgent(b, "--database", filepath.Join(b.TempDir(), "agent.db"), "--agent-id", "mem-agent", "--sync-interval", "0", "--new-node-interval", "0")
	c := newAPIClient(b, a.URL)
	pid := a.cmd.Process.Pid
	if status, out, err := c.do("POST", "/v1/nodes", `{"driver": "fake", "extra": `+filled("blob", 1<<20-1024)+`}`); err != nil || status != http.StatusBadRequest {
		b.Fatalf("a node with 1 MiB of extra: %d %.200s (%v), want 400", status, out, err)
	}
	const nodes = 100
	for i := range nodes {
		body := `{"driver": "fake", "name": "mem-` + strconv.Itoa(i) + `", "extra": ` + filled("e", 65535) +
			`, "properties": ` + filled("p", 65535) + `, "driver_info": ` + filled("d", 65535) +
			`, "instance_info": ` + filled("i", 256<<10) + `}`
		if status, out, err := c.do("POST", "/v1/nodes", body); err != nil || status != http.StatusCreated {
			b.Fatalf("create: %d %.200s (%v)", status, out, err)
		}
	}
	idle := procStatus(b, pid, "VmRSS")
	// Reset the peak to the current RSS: what follows is the listings'.
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		b.Fatalf("reset the agent's peak RSS: %v", err)
	}
	b.ResetTimer()
	pages := 0
	for range b.N {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				seen := 0
				for path := "/v1/nodes/detail"; path != ""; {
					status, out, err := c.do("GET", path, "")
					var page struct {
						Nodes []json.RawMessage `json:"nodes"`
						Next  string            `json:"next"`
					}
					if err != nil || status != http.StatusOK || json.Unmarshal([]byte(out), &page) != nil {
						b.Errorf("GET %s: %d (%v)", path, status, err)
						return
					}
					seen += len(page.Nodes)
					path = strings.TrimPrefix(page.Next, a.URL)
					mu.Lock()
					pages++
					mu.Unlock()
				}
				if seen != nodes {
					b.Errorf("a listing saw %d nodes of %d", seen, nodes)
				}
			}()
		}
		wg.Wait()
		c.seen = &testutil.Buffer{} // the client keeps every body it read: not the agent's memory, but this process's
	}
	b.StopTimer()
	peak := procStatus(b, pid, "VmHWM")
	b.ReportMetric(idle, "MB-idle")
	b.ReportMetric(peak, "MB-peak")
	b.ReportMetric(peak-idle, "MB-listing")
	b.ReportMetric(float64(pages)/float64(3*b.N), "pages/listing")
	b.ReportMetric((peak-idle)/listingMemoryBoundMB, "x-bound")
	b.ReportMetric(peak/4096, "x-report")
}
