package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/stmcginnis/gofish"
	gfredfish "github.com/stmcginnis/gofish/redfish"
)

// BenchmarkAPIOverGofish is what the whole agent adds to one BMC read:
// GET /v1/nodes/{node}/management/boot_device through the API (HTTP, version
// negotiation, a shared task reading the node from the embedded database,
// the redfish driver) against a bare gofish v0.20 call reading the same
// ComputerSystem's boot override from the same simulated BMC (no added
// latency, one GET each; the driver's request count per call is reported
// to show it). The two alternate in batches of 50 so that load from
// elsewhere falls on both alike. It reports microseconds per call of each,
// the difference, and x_gofish, the agent's time over gofish's.
//
//	go test -run '^$' -bench APIOverGofish -benchtime 2000x ./api/
func BenchmarkAPIOverGofish(b *testing.B) {
	sim, err := simulator.New(simulator.Config{Username: "admin", Password: bmcPassword, RequestLogSize: -1})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sim.Close() }) // after the agent's cleanup, which logs out of it
	id := sim.SystemIDs()[0]
	path := sim.SystemPath(id)

	rf := redfish.New(redfish.Options{})
	e := newEnv(b, envOptions{drivers: []drivers.Driver{rf}})
	node := createNodeB(b, e, fmt.Sprintf(`{"driver": "redfish", "driver_info": {"redfish_address": %q,
		"redfish_system_id": %q, "redfish_username": "admin", "redfish_password": %q}}`, sim.Endpoint(id), id, bmcPassword))
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	url := e.URL + "/v1/nodes/" + node + "/management/boot_device"
	viaAPI := func() error { return do(hc, "GET", url, "", http.StatusOK, nil) }

	gc, err := gofish.ConnectContext(ctx, gofish.ClientConfig{
		Endpoint: sim.Endpoint(id), Username: "admin", Password: bmcPassword,
		ReuseConnections: true, MaxConcurrentRequests: 4, // a session and kept-alive connections, as the driver
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { gc.Logout(); gc.HTTPClient.CloseIdleConnections() }()
	bare := func() error {
		s, err := gfredfish.GetComputerSystem(gc, path)
		if err == nil {
			_ = s.Boot.BootSourceOverrideTarget
		}
		return err
	}

	for range 3 { // connect, log in, warm the caches
		if err := viaAPI(); err != nil {
			b.Fatal(err)
		}
		if err := bare(); err != nil {
			b.Fatal(err)
		}
	}
	before := rf.Stats().Requests
	b.ResetTimer()
	const batch = 50
	var ta, tg time.Duration
	for i := 0; i < b.N; i += batch {
		k := min(batch, b.N-i)
		start := time.Now()
		for range k {
			if err := bare(); err != nil {
				b.Fatal(err)
			}
		}
		tg += time.Since(start)
		start = time.Now()
		for range k {
			if err := viaAPI(); err != nil {
				b.Fatal(err)
			}
		}
		ta += time.Since(start)
	}
	b.StopTimer()
	calls := float64(b.N)
	b.ReportMetric(float64(tg.Microseconds())/calls, "gofish-us/call")
	b.ReportMetric(float64(ta.Microseconds())/calls, "api-us/call")
	b.ReportMetric(float64((ta-tg).Microseconds())/calls, "overhead-us/call")
	b.ReportMetric(float64(rf.Stats().Requests-before)/calls, "bmc-requests/call")
	b.ReportMetric(float64(ta)/float64(tg), "x_gofish")
	b.ReportMetric(0, "ns/op") // both halves are in ns/op; the metrics above say more
}

// createNodeB creates a node over raw HTTP from a benchmark.
func createNodeB(b *testing.B, e *env, body string) string {
	b.Helper()
	var n struct{ UUID string }
	if err := do(http.DefaultClient, "POST", e.URL+"/v1/nodes", body, http.StatusCreated, &n); err != nil {
		b.Fatal(err)
	}
	return n.UUID
}
