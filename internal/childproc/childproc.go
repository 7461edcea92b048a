// Package childproc runs a test binary again as a helper process: a server
// (a simulated fleet of BMCs) that a benchmark measures apart from itself,
// so that the memory and CPU each side reports are its own.
//
// The package's TestMain hands the process over first:
//
//	func TestMain(m *testing.M) {
//		childproc.Serve("sim", func(arg string) (string, io.Closer, error) { ... })
//		...
//	}
//
// and a benchmark starts the child with Start(b, "sim", arg). The child
// prints "LISTEN <url>" and serves until its standard input closes, which
// Start arranges when the benchmark ends.
package childproc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// env names the role the process plays, and its argument: "name=arg".
const env = "BMC_AGENT_CHILDPROC"

// Serve returns at once unless this process was started by Start for name.
// Then it runs serve(arg), which starts serving and returns the URL to
// announce, serves until its standard input closes, closes what serve
// returned and exits.
func Serve(name string, serve func(arg string) (url string, c io.Closer, err error)) {
	role, arg, _ := strings.Cut(os.Getenv(env), "=")
	if role != name {
		return
	}
	url, c, err := serve(arg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s: %v\n", name, err)
		os.Exit(1)
	}
	fmt.Printf("LISTEN %s\n", url)
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = c.Close()
	os.Exit(0)
}

// Child is a helper process started by Start.
type Child struct {
	// URL is what the child announced.
	URL   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
}

// Start runs the test binary as the child name with arg and waits for its
// URL. The child is stopped when tb ends, or by Stop; it dies with the test
// binary too.
func Start(tb testing.TB, name, arg string) *Child {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), env+"="+name+"="+arg)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	c := &Child{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.done) }()
	tb.Cleanup(c.Stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("child %s: %v", name, err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTEN ")
	if !ok {
		tb.Fatalf("child %s said %q", name, line)
	}
	go io.Copy(io.Discard, stdout)
	c.URL = url
	return c
}

// Stop closes the child's standard input and waits for it to exit (killing
// it after 10 s). It may be called more than once.
func (c *Child) Stop() {
	_ = c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// Memory returns the child's resident set (VmRSS) and its peak (VmHWM), in
// bytes.
func (c *Child) Memory(tb testing.TB) (rss, peak float64) {
	tb.Helper()
	rss, peak, err := Memory(c.cmd.Process.Pid)
	if err != nil {
		tb.Fatal(err)
	}
	return rss, peak
}

// Memory returns a process's resident set (VmRSS) and its peak (VmHWM), in
// bytes, from /proc/<pid>/status; pid 0 is this process.
func Memory(pid int) (rss, peak float64, err error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		var dst *float64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &peak
		default:
			continue
		}
		f := strings.Fields(line)
		kb, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		*dst = kb * 1024
	}
	return rss, peak, nil
}
