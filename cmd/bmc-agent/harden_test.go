package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/internal/testutil"
	"github.com/bmc-agent/bmc-agent/store"
	_ "modernc.org/sqlite" // the test writes a newer schema version as another program would
)

// refusedStart runs `bmc-agent serve args...` expecting it to refuse to
// start: it returns what the agent wrote, and fails the test if the agent
// exited 0 or started serving.
func refusedStart(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBinary(t), append([]string{"serve", "--listen", "127.0.0.1:0", "--sync-interval", "0"}, args...)...)
	cmd.Env = agentEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr testutil.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// An agent that starts prints its address first: stop it there.
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.Contains(line, "listening on") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the agent started: %s%s", line, stderr.String())
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("the agent exited 0: %s%s", line, stderr.String())
	}
	return line + stderr.String()
}

// The embedded database and its -wal/-shm files hold every BMC password in
// clear: the agent creates them 0600 under the usual umask (022), and
// refuses to start on a database file others can read, printing the chmod
// that fixes it.
func TestDatabaseFileModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dbfile := filepath.Join(t.TempDir(), "agent.db")
	a := startAgent(t, "--database", dbfile, "--agent-id", "mode-agent", "--sync-interval", "0")
	c := newAPIClient(t, a.URL)
	c.createNode(t, `{"driver":"fake","driver_info":{"password":"Heron-secret-8812"}}`)
	for _, name := range []string{dbfile, dbfile + "-wal", dbfile + "-shm"} {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatalf("while the agent runs: %v", err)
		}
		if m := st.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(name), m)
		}
	}
	a.signal(t, syscall.SIGTERM)
	if code := a.wait(t); code != 0 {
		t.Fatalf("the agent exited %d; its log:\n%s", code, a.stderr.String())
	}

	if err := os.Chmod(dbfile, 0o644); err != nil {
		t.Fatal(err)
	}
	out := refusedStart(t, "--database", dbfile, "--agent-id", "mode-agent")
	if want := "chmod 600 " + dbfile; !strings.Contains(out, want) || !strings.Contains(out, "0644") {
		t.Errorf("the refusal does not say %q and the mode 0644:\n%s", want, out)
	}
	if err := os.Chmod(dbfile, 0o600); err != nil {
		t.Fatal(err)
	}
	a = startAgent(t, "--database", dbfile, "--agent-id", "mode-agent", "--sync-interval", "0")
	a.signal(t, syscall.SIGTERM)
	a.wait(t)
}

// A database migrated by a newer agent is refused at start, naming its
// schema version and the newest this binary knows, instead of failing
// later on a column it does not know.
func TestNewerSchemaRefused(t *testing.T) {
	dbfile := filepath.Join(t.TempDir(), "agent.db")
	db := openStore(t, dbfile)
	var known int
	raw, err := sql.Open("sqlite", dbfile)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.QueryRow("SELECT MAX(version) FROM schema_migrations").Scan(&known); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", known+7); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db.Close()
	out := refusedStart(t, "--database", dbfile, "--agent-id", "schema-agent")
	for _, want := range []string{fmt.Sprintf("version %d", known+7), fmt.Sprintf("version %d", known), "newer"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, out)
		}
	}
}

// A client that asks for a large listing and never reads cannot hold the
// agent's buffers past --write-timeout: the agent gives up the answer and
// the connection, and the client finds the body cut. (The nodes are written
// to the database before the agent starts: the write timeout applies to
// every request, and on a loaded machine a creation may need more than 1s.)
func TestWriteTimeoutCutsNonReadingClient(t *testing.T) {
	dbfile := filepath.Join(t.TempDir(), "agent.db")
	db := openStore(t, dbfile)
	blob := strings.Repeat("x", 256<<10-len(`{"blob":""}`))
	for i := range 20 { // 5 MiB: more than the socket buffers may hold (tcp_wmem 4 MiB, the client 4 KiB)
		n := &store.Node{Name: fmt.Sprint("big-", i), Driver: "fake", ProvisionState: "enroll", InstanceInfo: store.JSON{"blob": blob}}
		if err := db.CreateNode(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	a := startAgent(t, "--database", dbfile, "--agent-id", "wt-agent", "--sync-interval", "0", "--write-timeout", "1s")
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		rc.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(a.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/nodes/detail HTTP/1.1\r\nHost: x\r\nX-OpenStack-Ironic-API-Version: latest\r\n\r\n")
	// Not reading for longer than the write timeout: the agent's deadline
	// is absolute from the request, so a slower machine only makes it pass
	// sooner relative to the answer.
	time.Sleep(3 * time.Second)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return // cut before the status line: cut all the same
	}
	body, err := io.ReadAll(resp.Body)
	var page map[string]any
	if err == nil && json.Unmarshal(body, &page) == nil {
		t.Fatalf("the agent wrote the whole answer (%d bytes) to a client that did not read for 3s, past its 1s write timeout", len(body))
	}
	t.Logf("the client got %d bytes, then %v", len(body), err)
}
