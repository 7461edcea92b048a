package simulator

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childEnv makes the test binary run as a bare simulator process (see
// TestMain), so that benchmarks measure the simulator's own resident memory
// and CPU apart from the load generator.
const childEnv = "BMC_AGENT_SIM_BENCH_CHILD"

// runChild serves Config{Systems: $BMC_AGENT_SIM_BENCH_CHILD} on a loopback
// port, prints "LISTEN <url>" and serves until its stdin closes.
func runChild() int {
	n, err := strconv.Atoi(os.Getenv(childEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	sim, err := New(Config{Systems: n})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	if err := sim.Start(context.Background(), "127.0.0.1:0"); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Printf("LISTEN %s\n", sim.URL())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = sim.Close()
	return 0
}

// simChild is a simulator running in a child process.
type simChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
}

// startChild starts the test binary as a simulator of n systems.
func startChild(tb testing.TB, n int) *simChild {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
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
	c := &simChild{cmd: cmd, stdin: stdin}
	tb.Cleanup(c.stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("child simulator: %v", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTEN ")
	if !ok {
		tb.Fatalf("child simulator said %q", line)
	}
	c.url = url
	return c
}

// stop closes the child's stdin and waits for it to exit.
func (c *simChild) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// rssMB reads the child's resident set (VmRSS) and its peak (VmHWM) in MiB.
func (c *simChild) rssMB(tb testing.TB) (rss, peak float64) {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
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
			tb.Fatal(err)
		}
		*dst = kb / 1024
	}
	return rss, peak
}
