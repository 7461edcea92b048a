package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs `bmc-agent node ...` against base and returns what it printed.
func cli(t *testing.T, base string, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), append(append([]string{"node"}, args...), "--url", base), &out, io.Discard)
	return out.String(), err
}

func mustCLI(t *testing.T, base string, args ...string) string {
	t.Helper()
	out, err := cli(t, base, args...)
	if err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestNodeCLI drives a node through its life with the CLI alone, against a
// real agent with the fake driver.
func TestNodeCLI(t *testing.T) {
	base, _ := startServe(t, "--listen", "127.0.0.1:0", "--database", filepath.Join(t.TempDir(), "cli.db"), "--agent-id", "cli-agent")

	out := mustCLI(t, base, "create", "--driver", "fake", "--name", "n1",
		"--driver-info", "password=hunter2", "--driver-info", "port=623", "--property", "cpus=8")
	if !strings.Contains(out, "n1") || strings.Contains(out, "hunter2") || !strings.Contains(out, "******") {
		t.Fatalf("create printed:\n%s", out)
	}

	out = mustCLI(t, base, "list")
	if !strings.Contains(out, "NAME") || !strings.Contains(out, "n1") || !strings.Contains(out, "fake") {
		t.Fatalf("list printed:\n%s", out)
	}
	var listed []map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, base, "list", "-o", "json")), &listed); err != nil || len(listed) != 1 || listed[0]["name"] != "n1" {
		t.Fatalf("list -o json: %v %v", listed, err)
	}

	mustCLI(t, base, "set", "n1", "--extra", "rack=r7", "--driver-info", "fake_delay=10ms")
	var shown map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, base, "show", "n1", "-o", "json")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown["extra"].(map[string]any)["rack"] != "r7" || shown["driver_info"].(map[string]any)["password"] != "******" ||
		shown["properties"].(map[string]any)["cpus"] != float64(8) {
		t.Fatalf("after set: %v", shown)
	}
	mustCLI(t, base, "unset", "n1", "--extra", "rack")
	if out := mustCLI(t, base, "show", "n1"); strings.Contains(out, "r7") {
		t.Fatalf("unset left the key:\n%s", out)
	}

	// --wait follows the action to its end and prints progress.
	out = mustCLI(t, base, "power", "on", "n1", "--wait", "--wait-interval", "10ms")
	if !strings.Contains(out, "node n1: power") || !strings.Contains(out, "power on") {
		t.Fatalf("power on --wait printed:\n%s", out)
	}
	if out := mustCLI(t, base, "show", "n1"); !strings.Contains(out, "power on") {
		t.Fatalf("after power on:\n%s", out)
	}

	mustCLI(t, base, "boot-device", "set", "n1", "pxe", "--persistent")
	if out := mustCLI(t, base, "boot-device", "show", "n1"); !strings.Contains(out, "pxe") || !strings.Contains(out, "true") {
		t.Fatalf("boot-device show:\n%s", out)
	}
	if out := mustCLI(t, base, "boot-device", "show", "n1", "--supported"); !strings.Contains(out, "disk") {
		t.Fatalf("supported boot devices:\n%s", out)
	}
	mustCLI(t, base, "vmedia", "attach", "n1", "http://127.0.0.1:8080/tools.iso")
	mustCLI(t, base, "vmedia", "detach", "n1")
	if out := mustCLI(t, base, "validate", "n1"); !strings.Contains(out, "power") || !strings.Contains(out, "true") {
		t.Fatalf("validate:\n%s", out)
	}
	mustCLI(t, base, "maintenance", "set", "n1", "--reason", "fan swap")
	if out := mustCLI(t, base, "show", "n1"); !strings.Contains(out, "fan swap") {
		t.Fatalf("maintenance reason not shown:\n%s", out)
	}
	mustCLI(t, base, "maintenance", "unset", "n1")

	// The provision lifecycle, each step waited for.
	for _, step := range [][]string{
		{"manage", "n1"}, {"provide", "n1"},
		{"deploy", "n1", "--boot-iso", "http://127.0.0.1:8080/os.iso"}, {"undeploy", "n1"},
	} {
		out := mustCLI(t, base, append(step, "--wait", "--wait-interval", "10ms")...)
		if !strings.Contains(out, "provision") {
			t.Fatalf("%v --wait printed:\n%s", step, out)
		}
	}
	if out := mustCLI(t, base, "show", "n1"); !strings.Contains(out, "available") {
		t.Fatalf("after undeploy:\n%s", out)
	}

	// A failing action makes --wait fail, with the node's last_error.
	mustCLI(t, base, "set", "n1", "--driver-info", "fake_error=BMC on fire")
	out, err := cli(t, base, "power", "off", "n1", "--wait", "--wait-interval", "10ms")
	if !errors.Is(err, errActionFailed) || !strings.Contains(err.Error(), "BMC on fire") {
		t.Fatalf("power off of a broken node --wait: %v\n%s", err, out)
	}

	// API errors come out as the agent's message.
	_, err = cli(t, base, "show", "no-such-node")
	if err == nil || !strings.Contains(err.Error(), "no-such-node") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("show of a missing node: %v", err)
	}
	mustCLI(t, base, "delete", "n1")
	if out := mustCLI(t, base, "list"); strings.Contains(out, "n1") {
		t.Fatalf("deleted node still listed:\n%s", out)
	}
}

func TestNodeCLIUsage(t *testing.T) {
	for _, args := range [][]string{
		{"power", "sideways", "n1"},
		{"create", "--driver", "fake", "--driver-info", "novalue"},
		{"list", "-o", "yaml"},
		{"set", "n1"},
	} {
		_, err := cli(t, "http://127.0.0.1:1", args...)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("node %v: %v, want a usage error", args, err)
		}
	}
}

func TestFaultString(t *testing.T) {
	for body, want := range map[string]string{
		`{"error_message": "{\"faultcode\": \"Client\", \"faultstring\": \"Node x could not be found.\", \"debuginfo\": null}"}`: "Node x could not be found.",
		`{"error_message": {"faultcode": "Client", "faultstring": "locked"}}`:                                                    "locked",
		`not json`: "not json",
	} {
		if got := faultString([]byte(body)); got != want {
			t.Errorf("faultString(%s) = %q, want %q", body, got, want)
		}
	}
}
