package simfleet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/simulator"
)

// Name is the child's role for childproc.Serve and childproc.Start.
const Name = "sim"

// Arg is the child's argument for systems systems answering each request
// after latency, all on one port or each on its own (perPort: a BMC per
// system, as in a real fleet).
func Arg(systems int, latency time.Duration, perPort bool) string {
	return fmt.Sprintf("%d,%s,%t", systems, latency, perPort)
}

// Serve is the child: it starts the simulator Arg describes. Pass it to
// childproc.Serve(Name, Serve) first thing in TestMain.
func Serve(arg string) (string, io.Closer, error) {
	f := strings.Split(arg, ",")
	if len(f) != 3 {
		return "", nil, fmt.Errorf("bad spec %q", arg)
	}
	systems, err := strconv.Atoi(f[0])
	latency, err2 := time.ParseDuration(f[1])
	if err != nil || err2 != nil {
		return "", nil, fmt.Errorf("bad spec %q", arg)
	}
	sim, err := simulator.New(simulator.Config{
		Systems: systems, Fault: simulator.Fault{Latency: latency}, RequestLogSize: -1, PortPerSystem: f[2] == "true",
	})
	if err != nil {
		return "", nil, err
	}
	if err := sim.Start(context.Background(), "127.0.0.1:0"); err != nil {
		return "", nil, err
	}
	return sim.URL(), sim, nil
}

// Systems asks the simulator's admin endpoint at url for every system's
// URL, by system id.
func Systems(tb testing.TB, url string) map[string]string {
	tb.Helper()
	resp, err := http.Get(url + "/sim/systems")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Members []struct{ ID, URL string } }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		tb.Fatal(err)
	}
	out := make(map[string]string, len(list.Members))
	for _, m := range list.Members {
		out[m.ID] = m.URL
	}
	return out
}

// Split cuts a system's URL into its BMC endpoint and its system path:
// redfish_address and redfish_system_id.
func Split(systemURL string) (endpoint, path string) {
	p := strings.Index(systemURL, "/redfish/")
	return systemURL[:p], systemURL[p:]
}
