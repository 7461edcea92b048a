package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/spf13/cobra"
)

// waitFlags are the --wait options of asynchronous actions.
type waitFlags struct {
	wait     bool
	timeout  time.Duration
	interval time.Duration
}

func (w *waitFlags) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&w.wait, "wait", false, "follow the action to its end; exit non-zero if it fails")
	f.DurationVar(&w.timeout, "wait-timeout", 30*time.Minute, "give up waiting after this long")
	f.DurationVar(&w.interval, "wait-interval", 500*time.Millisecond, "how often to look at the node")
}

// outcome is what a look at a node tells a waiter.
type outcome int

const (
	pending outcome = iota
	succeeded
	failed
)

// doneFunc judges a node during a wait.
type doneFunc func(n *nodes.Node) outcome

// powerDone: a power action ends when target_power_state is cleared; it
// failed if last_error is set then.
func powerDone(n *nodes.Node) outcome {
	switch {
	case n.TargetPowerState != "":
		return pending
	case n.LastError != "":
		return failed
	}
	return succeeded
}

// provisionDone: a provision action ends when the node rests in a stable
// state other than the one it started from (or reaches a failed state).
func provisionDone(from string) doneFunc {
	return func(n *nodes.Node) outcome {
		switch {
		case isFailedState(n.ProvisionState):
			return failed
		case n.TargetProvisionState != "":
			return pending
		case n.ProvisionState == from:
			return pending
		case n.LastError != "":
			return failed
		}
		return succeeded
	}
}

func isFailedState(s string) bool {
	return strings.HasSuffix(s, " failed") || s == "error"
}

// errActionFailed is returned when a waited-for action failed; the command
// exits 1.
var errActionFailed = errors.New("action failed")

// waitFor polls the node until done says it succeeded or failed, printing a
// line each time its state changes.
func (n *nodeCmd) waitFor(ctx context.Context, out io.Writer, id string, w waitFlags, done doneFunc) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	var last string
	start := time.Now()
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		node, err := nodes.Get(ctx, n.sc, id).Extract()
		if err != nil {
			return apiError("follow node "+id, err)
		}
		line := progress(node)
		if line != last {
			fmt.Fprintf(out, "[%5.1fs] node %s: %s\n", time.Since(start).Seconds(), id, line)
			last = line
		}
		switch done(node) {
		case succeeded:
			return nil
		case failed:
			return fmt.Errorf("node %s: %w: %s", id, errActionFailed, orNone(node.LastError))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s: still %s after %s: %w", id, line, w.timeout, ctx.Err())
		case <-t.C:
		}
	}
}

func progress(n *nodes.Node) string {
	parts := []string{"power " + strings.TrimPrefix(orNone(n.PowerState), "power ")}
	if n.TargetPowerState != "" {
		parts[0] += " -> " + strings.TrimPrefix(n.TargetPowerState, "power ")
	}
	prov := "provision " + n.ProvisionState
	if n.TargetProvisionState != "" {
		prov += " -> " + n.TargetProvisionState
	}
	parts = append(parts, prov)
	if n.LastError != "" {
		parts = append(parts, "last error: "+n.LastError)
	}
	return strings.Join(parts, ", ")
}

func sortStrings(s []string) { slices.Sort(s) }
