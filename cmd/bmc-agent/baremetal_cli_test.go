package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBaremetalCLI drives `bmc-agent serve --demo` with Ironic's own
// `baremetal` CLI (python-ironicclient, Debian's python3-ironicclient) the
// way its users do: a fake-hardware node, the forms the CLI sends for
// `node list --fields` and port lists (trailing slashes, ?fields=, a node
// name as the port's node), manage and provide with --wait, Ironic's 409 for
// a port change on an available node, the driver list.
func TestBaremetalCLI(t *testing.T) {
	bin, err := exec.LookPath("baremetal")
	if err != nil {
		t.Fatalf("the baremetal CLI is required for this test: %v (install Debian's python3-ironicclient)", err)
	}
	base, _ := startServe(t, "--listen", "127.0.0.1:0", "--database", filepath.Join(t.TempDir(), "agent.db"),
		"--agent-id", "cli-agent", "--demo", "--sync-interval", "0")
	run := func(args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "OS_AUTH_TYPE=none", "OS_ENDPOINT="+base)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("baremetal %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	id := must("node", "create", "--driver", "fake-hardware", "--name", "cli1", "-f", "value", "-c", "uuid")
	if list := must("node", "list", "--fields", "uuid", "name", "-f", "value"); !strings.Contains(list, id+" cli1") {
		t.Fatalf("node list --fields: %q lacks %s cli1", list, id)
	}
	must("port", "create", "--node", "cli1", "52:54:00:00:00:aa")
	port := must("port", "list", "--node", "cli1", "-f", "value", "-c", "UUID")
	if port == "" {
		t.Fatal("port list --node cli1 is empty")
	}
	must("node", "manage", "cli1", "--wait", "30")
	must("node", "provide", "cli1", "--wait", "30")
	if st := must("node", "show", "cli1", "-f", "value", "-c", "provision_state", "-c", "power_state"); st != "None\navailable" {
		t.Errorf("after manage and provide: %q, want power None and available", st)
	}
	out, err := run("port", "set", "--pxe-disabled", port)
	if err == nil || !strings.Contains(out, "HTTP 409") {
		t.Errorf("pxe_enabled on an available node: %v %q, want Ironic's 409", err, out)
	}
	drivers := must("driver", "list", "-f", "value", "-c", "Supported driver(s)")
	if !strings.Contains(drivers, "fake-hardware") {
		t.Errorf("driver list %q lacks fake-hardware", drivers)
	}
	if def := must("driver", "show", "fake-hardware", "-f", "value", "-c", "default_boot_interface"); def != "fake" {
		t.Errorf("fake-hardware's default boot interface %q", def)
	}
	if c := must("node", "list", "--conductor", "cli-agent", "-f", "value", "-c", "Name"); !strings.Contains(c, "cli1") {
		t.Errorf("node list --conductor cli-agent: %q", c)
	}
}
