package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"github.com/bmc-agent/bmc-agent/internal/testutil"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m) // also checks for leaked goroutines
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// agentBinary builds the real bmc-agent once per test run (with the race
// detector when the tests have it), into a directory removed at the end.
func agentBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "bmc-agent-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "bmc-agent")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			binErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// agentProc is `bmc-agent serve` running as a child process.
type agentProc struct {
	URL    string
	cmd    *exec.Cmd
	stdout testutil.Buffer
	stderr testutil.Buffer
	exited chan struct{}
	state  *os.ProcessState
}

// startAgent runs `bmc-agent serve args...` (listening on a free loopback
// port) and waits for the address it prints. The child is killed if the
// test binary dies (Pdeathsig) and when the test ends.
func startAgent(t testing.TB, args ...string) *agentProc {
	t.Helper()
	a := &agentProc{exited: make(chan struct{})}
	a.cmd = exec.Command(agentBinary(t), append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	a.cmd.Env = agentEnv()
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	a.cmd.Stderr = &a.stderr
	pr, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		br := bufio.NewReader(pr)
		line, _ := br.ReadString('\n')
		a.stdout.Write([]byte(line))
		lines <- line
		io.Copy(&a.stdout, br)
		a.cmd.Wait()
		a.state = a.cmd.ProcessState
		close(a.exited)
	}()
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		<-a.exited
		if strings.Contains(a.stderr.String(), "DATA RACE") {
			t.Errorf("the agent reported a data race:\n%s", a.stderr.String())
		}
	})
	select {
	case line := <-lines:
		m := regexp.MustCompile(`listening on (https?://\S+),`).FindStringSubmatch(line)
		if m == nil {
			<-a.exited
			t.Fatalf("the agent printed %q; its log:\n%s", line, a.stderr.String())
		}
		a.URL = m[1]
	case <-time.After(time.Minute):
		t.Fatalf("the agent printed no address within a minute; its log:\n%s", a.stderr.String())
	}
	return a
}

// agentEnv is the test's environment without BMC_AGENT_ settings.
func agentEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BMC_AGENT_") {
			env = append(env, kv)
		}
	}
	return env
}

func (a *agentProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

func (a *agentProc) running() bool {
	select {
	case <-a.exited:
		return false
	default:
		return true
	}
}

// wait waits for the agent to exit and returns its exit code.
func (a *agentProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-a.exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the agent did not exit; its log:\n%s", a.stderr.String())
	}
	return a.state.ExitCode()
}

// kill kills the agent as a crash would (SIGKILL) and waits for it.
func (a *agentProc) kill(t *testing.T) {
	t.Helper()
	a.signal(t, syscall.SIGKILL)
	a.wait(t)
}

// waitLog waits until the agent's log holds s.
func (a *agentProc) waitLog(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(a.stderr.String(), s); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) || !a.running() {
			t.Fatalf("the agent never logged %q; its log:\n%s", s, a.stderr.String())
		}
	}
}

// apiClient talks to an agent's API at the latest microversion.
type apiClient struct {
	base       string
	user, pass string
	version    string
	c          *http.Client
	// seen collects every response body, for the tests that search them.
	seen *testutil.Buffer
}

func newAPIClient(t testing.TB, base string) *apiClient {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &apiClient{base: base, version: "latest", c: &http.Client{Transport: tr, Timeout: time.Minute}, seen: &testutil.Buffer{}}
}

// do sends a request; body is JSON text or "". It returns the status and
// the body, and an error only when no answer came.
func (c *apiClient) do(method, path, body string) (int, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.version != "" {
		req.Header.Set("X-OpenStack-Ironic-API-Version", c.version)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	c.seen.Write(append(b, '\n'))
	return resp.StatusCode, string(b), err
}

// must sends a request and fails the test unless the status is want.
func (c *apiClient) must(t testing.TB, want int, method, path, body string) string {
	t.Helper()
	status, out, err := c.do(method, path, body)
	if err != nil || status != want {
		t.Fatalf("%s %s: %d %s (%v), want %d", method, path, status, out, err, want)
	}
	return out
}

// node reads a node as a map.
func (c *apiClient) node(t testing.TB, ident string) map[string]any {
	t.Helper()
	var n map[string]any
	if err := json.Unmarshal([]byte(c.must(t, http.StatusOK, "GET", "/v1/nodes/"+ident, "")), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitNode polls a node until cond holds.
func (c *apiClient) waitNode(t *testing.T, ident, what string, cond func(n map[string]any) bool) map[string]any {
	t.Helper()
	return waitFor(t, "node "+ident+" never "+what, func() map[string]any { return c.node(t, ident) }, cond)
}

// waitFor polls get until cond holds for what it returns, and fails the
// test with what and the last value after a minute.
func waitFor[T any](t *testing.T, what string, get func() T, cond func(T) bool) T {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		v := get()
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %+v", what, v)
		}
	}
}

// str reads a string field of a node (null is "").
func str(n map[string]any, field string) string {
	s, _ := n[field].(string)
	return s
}

// decode unmarshals a JSON body or fails the test.
func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
}
