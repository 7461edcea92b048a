package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// BenchmarkMixedProfilesPowerOn: 1,000 BMCs, an equal mix of every vendor
// profile, each on its own port with 200 ms added to every request, powered
// on through the HTTP API by an agent with 100 workers, until the API
// reads every node "power on". The ideal is the Redfish requests the driver
// sent (logins, the profiles' retries and polls included) x 200 ms / 100:
// what an agent that adds no time of its own and keeps every worker busy
// would take for the requests these BMCs require. x-ideal is the wall time
// over it (target: at most 1.2).
func BenchmarkMixedProfilesPowerOn(b *testing.B) {
	const (
		systems = 1000
		latency = 200 * time.Millisecond
		workers = 100
	)
	var mix []simulator.ProfileShare
	for _, p := range simulator.Profiles() {
		mix = append(mix, simulator.ProfileShare{Name: p.Name, Weight: 1})
	}
	var wall time.Duration
	var requests, retries uint64
	for range b.N {
		b.StopTimer()
		sim, err := simulator.New(simulator.Config{Systems: systems, ProfileMix: mix, PortPerSystem: true,
			Username: "admin", Password: bmcPassword, RequestLogSize: -1})
		if err != nil {
			b.Fatal(err)
		}
		if err := sim.Start(context.Background(), "127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		if err := sim.SetFleetFault(simulator.Fault{Latency: latency}); err != nil {
			b.Fatal(err)
		}
		rf := redfish.New(redfish.Options{})
		e := newEnv(b, envOptions{workers: workers, drivers: []drivers.Driver{rf}})
		c := &http.Client{Timeout: time.Minute}
		var ids []string
		for i, id := range sim.SystemIDs() {
			body := fmt.Sprintf(`{"driver":"redfish","name":"mix-%d","driver_info":{"redfish_address":%q,"redfish_username":"admin","redfish_password":%q}}`,
				i, sim.Endpoint(id), bmcPassword)
			var n struct{ UUID string }
			if err := do(c, "POST", e.URL+"/v1/nodes", body, http.StatusCreated, &n); err != nil {
				b.Fatal(err)
			}
			ids = append(ids, n.UUID)
		}
		before := rf.Stats()
		b.StartTimer()

		start := time.Now()
		for _, id := range ids {
			// With every worker busy the API answers 503 (Ironic's
			// NoFreeConductorWorker): a client tries again shortly.
			for {
				err := do(c, "PUT", e.URL+"/v1/nodes/"+id+"/states/power", `{"target":"power on"}`, http.StatusAccepted, nil)
				if err == nil {
					break
				}
				if !strings.Contains(err.Error(), ": 503 ") {
					b.Fatal(err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		for {
			var list struct {
				Nodes []struct {
					PowerState       *string `json:"power_state"`
					TargetPowerState *string `json:"target_power_state"`
					LastError        *string `json:"last_error"`
				}
			}
			if err := do(c, "GET", e.URL+"/v1/nodes?limit=1000&fields=power_state,target_power_state,last_error", "", http.StatusOK, &list); err != nil {
				b.Fatal(err)
			}
			on := 0
			for _, n := range list.Nodes {
				if n.LastError != nil && *n.LastError != "" {
					b.Fatalf("a node failed: %s", *n.LastError)
				}
				if n.PowerState != nil && *n.PowerState == "power on" && n.TargetPowerState == nil {
					on++
				}
			}
			if on == systems {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		wall += time.Since(start)
		b.StopTimer()
		after := rf.Stats()
		requests += after.Requests - before.Requests
		retries += after.Retries - before.Retries
		sessions := 0
		if err := rf.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		if n := sim.Sessions(); n != 0 {
			sessions = n
		}
		sim.Close()
		if sessions != 0 {
			b.Fatalf("%d sessions left open after the driver closed", sessions)
		}
	}
	ideal := time.Duration(requests) * latency / workers
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s/op")
	b.ReportMetric(ideal.Seconds()/float64(b.N), "ideal-s/op")
	b.ReportMetric(float64(wall)/float64(ideal), "x-ideal")
	b.ReportMetric(float64(requests)/float64(b.N*systems), "requests/bmc")
	b.ReportMetric(float64(retries)/float64(b.N), "retries/op")
}
