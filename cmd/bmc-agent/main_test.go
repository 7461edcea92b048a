package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// startServe runs `bmc-agent serve` in-process with args and returns the
// base URL it prints, and a function that stops it and returns its error.
func startServe(t testing.TB, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"serve"}, args...), pw, io.Discard)
		pw.CloseWithError(errors.New("serve returned"))
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("serve printed no address: %v (serve: %v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	m := regexp.MustCompile(`listening on (https?://\S+),`).FindStringSubmatch(line)
	if m == nil {
		cancel()
		t.Fatalf("unexpected first line %q", line)
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("serve did not stop within 30s")
		}
	}
	t.Cleanup(func() { stop() })
	return m[1], stop
}

func TestServeHealth(t *testing.T) {
	dbfile := filepath.Join(t.TempDir(), "agent.db")
	base, stop := startServe(t, "--listen", "127.0.0.1:0", "--database", dbfile, "--agent-id", "test-agent")
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
			t.Fatalf("GET %s: %d %q", path, resp.StatusCode, body)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func TestServeFlagsFromEnvironment(t *testing.T) {
	t.Setenv("BMC_AGENT_LISTEN", "127.0.0.1:0")
	t.Setenv("BMC_AGENT_DATABASE", filepath.Join(t.TempDir(), "env.db"))
	t.Setenv("BMC_AGENT_AGENT_ID", "from-env")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, pw, io.Discard); pw.Close() }()
	line, _ := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	if !strings.Contains(line, `agent "from-env"`) || !strings.Contains(line, "env.db") {
		t.Fatalf("environment not honoured: %q", line)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--workers", "many"},
		{"serve", "--log-format", "xml", "--database", filepath.Join(t.TempDir(), "x.db")},
		{"serve", "--telemetry-interval", "-3m", "--database", filepath.Join(t.TempDir(), "x.db")},
		{"serve", "--sync-interval", "-1s", "--event-resync", "-5m", "--database", filepath.Join(t.TempDir(), "x.db")},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		} else if strings.Contains(args[1], "interval") && !strings.Contains(err.Error(), args[1]+" must not be negative") {
			t.Errorf("%v: %v, want it to name %s", args, err, args[1])
		}
	}
	t.Setenv("BMC_AGENT_WORKERS", "lots")
	err := run(context.Background(), []string{"serve"}, io.Discard, io.Discard)
	var ue *usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "BMC_AGENT_WORKERS") {
		t.Errorf("bad environment: %v", err)
	}
}

func TestVersion(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"version"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "bmc-agent ") {
		t.Fatalf("version printed %q", out.String())
	}
}

// Every flag of serve, hidden ones included, is in docs/operations.md's
// table of flags with its default.
func TestServeFlagsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for line := range strings.SplitSeq(string(doc), "\n") {
		for _, m := range regexp.MustCompile("^\\| (`--[a-z-]+`(?:, `--[a-z-]+`)*) \\|([^|]*)\\|").FindAllStringSubmatch(line, -1) {
			for _, f := range regexp.MustCompile("--[a-z-]+").FindAllString(m[1], -1) {
				rows[f] = strings.TrimSpace(m[2])
			}
		}
	}
	newServeCmd().Flags().VisitAll(func(f *pflag.Flag) {
		def, ok := rows["--"+f.Name]
		switch {
		case !ok:
			t.Errorf("--%s is not in docs/operations.md's table of flags", f.Name)
		case def == "" && f.DefValue != "" && f.DefValue != "0s":
			t.Errorf("--%s: docs/operations.md gives no default (it is %q)", f.Name, f.DefValue)
		}
	})
}

// Every `node` subcommand is in docs/cli.md's list of commands.
func TestNodeCommandsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range newNodeCmd().Commands() {
		if c.Hidden {
			continue
		}
		if !regexp.MustCompile(`(?m)^bmc-agent node (\S+\|)*` + regexp.QuoteMeta(c.Name()) + `[ |]`).Match(doc) {
			t.Errorf("bmc-agent node %s is not in docs/cli.md", c.Name())
		}
	}
}
