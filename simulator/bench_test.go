package simulator

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"github.com/bmc-agent/bmc-agent/internal/childproc"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"
)

// Targets of issue 3 on the project's 2-core machine.
const (
	targetGETPerSec = 10000.0
	targetRSSMB     = 300.0
)

// benchWorkers is the load generator's concurrency: enough connections to
// keep both cores busy.
const benchWorkers = 32

// BenchmarkSimulator measures, in one run, requests per second for
// GET /redfish/v1/Systems/<id> and for a ComputerSystem.Reset action with 1,
// 100 and 10,000 systems, and the resident memory of a simulator process
// with 10,000 systems. The simulator runs as a child process (this test
// binary in simulator-only mode) so that its memory is measured apart from
// the load generator; both share the machine's cores. Run it with
//
//	go test -run '^$' -bench BenchmarkSimulator -benchtime 20000x ./simulator/
//
// It prints a table with the ratios to the targets (>= 10,000 GET/s,
// <= 300 MB for 10,000 systems). No test asserts these numbers.
func BenchmarkSimulator(b *testing.B) {
	type row struct{ get, reset float64 }
	results := map[int]*row{}
	var rss, peak, idle float64
	for _, n := range []int{1, 100, 10000} {
		child := childproc.Start(b, "simulator", strconv.Itoa(n))
		r := &row{}
		results[n] = r
		if n == 10000 {
			idle, _ = child.Memory(b)
			idle /= 1 << 20
		}
		b.Run(fmt.Sprintf("GET/systems=%d", n), func(b *testing.B) {
			r.get = load(b, child.URL, n, false)
			b.ReportMetric(r.get, "req/s")
			b.ReportMetric(r.get/targetGETPerSec, "x-target")
		})
		b.Run(fmt.Sprintf("Reset/systems=%d", n), func(b *testing.B) {
			r.reset = load(b, child.URL, n, true)
			b.ReportMetric(r.reset, "req/s")
			b.ReportMetric(r.reset/targetGETPerSec, "x-target") // the GET target, for comparison
		})
		if n == 10000 {
			var touch sync.Once
			b.Run("RSS/systems=10000", func(b *testing.B) {
				touch.Do(func() { touchAll(b, child.URL, n) })
				rss, peak = child.Memory(b)
				rss, peak = rss/(1<<20), peak/(1<<20)
				b.ReportMetric(rss, "MB-RSS")
				b.ReportMetric(peak, "MB-peak")
				b.ReportMetric(rss/targetRSSMB, "x-target")
			})
		}
		child.Stop()
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nsystems\tGET Systems/<id> req/s\tvs 10,000/s\tReset req/s\n")
	for _, n := range []int{1, 100, 10000} {
		r := results[n]
		fmt.Fprintf(tw, "%d\t%.0f\t%.2fx\t%.0f\n", n, r.get, r.get/targetGETPerSec, r.reset)
	}
	fmt.Fprintf(tw, "\nRSS of the simulator process with 10,000 systems: idle %.1f MB, after load %.1f MB (peak %.1f MB), target <= %.0f MB: %.2fx of the budget\n",
		idle, rss, peak, targetRSSMB, rss/targetRSSMB)
	_ = tw.Flush()
}

// load sends b.N requests from benchWorkers keep-alive connections to random
// systems and returns the achieved requests per second. With reset, each
// request is a Reset alternating On and ForceOff.
func load(b *testing.B, base string, n int, reset bool) float64 {
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:password"))
	tr := &http.Transport{MaxIdleConnsPerHost: benchWorkers, MaxConnsPerHost: benchWorkers}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ids := make([]string, n)
	width := max(5, len(strconv.Itoa(n)))
	for i := range ids {
		ids[i] = fmt.Sprintf("sys-%0*d", width, i+1)
	}
	on := []byte(`{"ResetType":"On"}`)
	off := []byte(`{"ResetType":"ForceOff"}`)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				id := ids[rand.IntN(n)]
				var req *http.Request
				if reset {
					body := on
					if i%2 == 0 {
						body = off
					}
					req, _ = http.NewRequest(http.MethodPost, base+systemsPath+"/"+id+"/Actions/ComputerSystem.Reset", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
				} else {
					req, _ = http.NewRequest(http.MethodGet, base+systemsPath+"/"+id, nil)
				}
				req.Header.Set("Authorization", auth)
				resp, err := hc.Do(req)
				if err != nil {
					failed.Store(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if want := map[bool]int{false: 200, true: 204}[reset]; resp.StatusCode != want {
					failed.Store(fmt.Errorf("status %d", resp.StatusCode))
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, ok := failed.Load().(error); ok {
		b.Fatalf("load: %v", err)
	}
	return float64(b.N) / elapsed.Seconds()
}

// touchAll GETs every system once and resets it, so that every system's
// state has been created and used before memory is read.
func touchAll(b *testing.B, base string, n int) {
	c := newClient(b, base)
	width := max(5, len(strconv.Itoa(n)))
	for i := range n {
		id := fmt.Sprintf("sys-%0*d", width, i+1)
		c.get(systemsPath + "/" + id)
		if st, _, body := c.do(http.MethodPost, systemsPath+"/"+id+"/Actions/ComputerSystem.Reset", map[string]string{"ResetType": "On"}, nil); st != http.StatusNoContent {
			b.Fatalf("reset %s: %d %v", id, st, body)
		}
	}
}
