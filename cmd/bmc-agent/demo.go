package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/powersync"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
	"github.com/bmc-agent/bmc-agent/telemetry"
)

// demoSystems is how many simulated machines --demo enrolls.
const demoSystems = 3

// demo is the first-run setup of --demo: a Redfish simulator on a free
// loopback port, its systems enrolled as nodes demo-1, demo-2, ...
type demo struct {
	sim   *simulator.Simulator
	nodes []string
}

// startDemo starts the simulator and enrolls its systems with the redfish
// driver. A node left by an earlier demo run (same name) is pointed at the
// new simulator's port, so the demo survives restarts of the agent.
func startDemo(ctx context.Context, db store.Store, reg *drivers.Registry) (*demo, error) {
	if _, err := reg.Driver("redfish"); err != nil {
		return nil, fmt.Errorf("--demo needs the redfish driver: %w", err)
	}
	sim, err := simulator.New(simulator.Config{Systems: demoSystems})
	if err != nil {
		return nil, fmt.Errorf("demo simulator: %w", err)
	}
	// Not stopped with ctx: the agent still talks to it while it shuts
	// down (close stops it).
	if err := sim.Start(context.WithoutCancel(ctx), "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("demo simulator: %w", err)
	}
	d := &demo{sim: sim}
	for i, id := range sim.SystemIDs() {
		name := fmt.Sprintf("demo-%d", i+1)
		info := store.JSON{
			"redfish_address":   sim.Endpoint(id),
			"redfish_system_id": id,
			// The simulator's demo credentials (simulator.Config's
			// defaults); the API shows the password as ******.
			"redfish_username": "admin",
			"redfish_password": "password",
		}
		if err := enrollDemoNode(ctx, db, name, info); err != nil {
			sim.Close()
			return nil, err
		}
		d.nodes = append(d.nodes, name)
	}
	return d, nil
}

func enrollDemoNode(ctx context.Context, db store.Store, name string, info store.JSON) error {
	n, err := db.Node(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Available, as Ironic enrolls a node at its base API version:
		// ready to power, deploy and undeploy without the manage and
		// provide steps (which the demo's nodes can still go through).
		return db.CreateNode(ctx, &store.Node{
			Name: name, Driver: "redfish", DriverInfo: info, ProvisionState: taskmanager.StateAvailable,
			Description: "a system of the --demo Redfish simulator",
		})
	case err != nil:
		return fmt.Errorf("demo node %s: %w", name, err)
	}
	if n.Driver == "redfish" && maps.Equal(n.DriverInfo, info) {
		return nil
	}
	n.Driver, n.DriverInfo = "redfish", info
	if err := db.UpdateNode(ctx, n); err != nil {
		return fmt.Errorf("demo node %s: %w", name, err)
	}
	return nil
}

// firstReads reads the demo nodes' power state and telemetry now rather
// than a sync interval (or a spread telemetry cycle) from now, so that the
// first `node list`, `node telemetry` and /metrics show them.
func (d *demo) firstReads(ctx context.Context, log *slog.Logger, sync *powersync.Loop, tel *telemetry.Collector) {
	if _, err := sync.Cycle(ctx); err != nil {
		log.Warn("demo: first power-state sync", "err", err)
	}
	if tel == nil {
		return
	}
	if _, err := tel.Cycle(ctx, 0); err != nil {
		log.Warn("demo: first telemetry read", "err", err)
	}
}

// describe tells the newcomer what the demo did and what to try.
func (d *demo) describe(out io.Writer, base string) {
	fmt.Fprintf(out, "demo: Redfish simulator with %d systems at %s\n", demoSystems, d.sim.URL())
	fmt.Fprintf(out, "demo: enrolled nodes %v with the redfish driver\n", d.nodes)
	fmt.Fprintf(out, "try, from another terminal:\n")
	exe, url := os.Args[0], ""
	if base != "http://127.0.0.1:6385" {
		url = " --url " + base
	}
	fmt.Fprintf(out, "  %s node list%s\n", exe, url)
	fmt.Fprintf(out, "  %s node power on %s --wait%s\n", exe, d.nodes[0], url)
	fmt.Fprintf(out, "  %s node deploy %s --boot-iso http://127.0.0.1:8080/os.iso --wait%s\n", exe, d.nodes[0], url)
	fmt.Fprintf(out, "  %s node telemetry %s%s\n", exe, d.nodes[0], url)
	fmt.Fprintf(out, "or with curl:\n")
	fmt.Fprintf(out, "  curl -s -H 'X-OpenStack-Ironic-API-Version: latest' %s/v1/nodes\n", base)
	fmt.Fprintf(out, "  curl -s -X PUT -H 'X-OpenStack-Ironic-API-Version: latest' -H 'Content-Type: application/json' \\\n")
	fmt.Fprintf(out, "       -d '{\"target\": \"power on\"}' %s/v1/nodes/%s/states/power\n", base, d.nodes[0])
	fmt.Fprintf(out, "  curl -s -H 'X-OpenStack-Ironic-API-Version: latest' '%s/v1/nodes/%s?fields=name,power_state,target_power_state'\n", base, d.nodes[0])
	fmt.Fprintf(out, "  curl -s %s/metrics | grep ^bmc_\n", base)
	fmt.Fprintf(out, "a power change made on the simulator shows at once (Redfish events):\n")
	fmt.Fprintf(out, "  curl -s -X PATCH -d '{\"PowerState\": \"On\"}' %s/sim/systems/%s\n", d.sim.URL(), d.sim.SystemIDs()[len(d.nodes)-1])
}

// close stops the simulator.
func (d *demo) close() {
	if d != nil {
		d.sim.Close()
	}
}
