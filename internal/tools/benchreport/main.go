// Command benchreport turns the output of `go test -bench` into the one table
// of docs/benchmarks.md: a row per benchmark with the figures it reported
// (b.ReportMetric) and, in a column of their own, its ratios (metrics whose
// unit starts with "x_" or "x-": the figure against its target, ideal or
// ceiling). It passes the raw output through to stderr so nothing is lost,
// and heads the table with the machine it ran on and the machine's load
// average (from /proc/loadavg) when the run started and when it ended: the
// benchmarks share the cores with whatever else runs.
//
//	go test -run '^$' -bench . ./... 2>&1 | go run ./internal/tools/benchreport
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	startLoad := loadAverage()
	rows, env, err := parse(io.TeeReader(os.Stdin, os.Stderr))
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	env.load = [2]string{startLoad, loadAverage()}
	env.memory = memTotal()
	write(os.Stdout, rows, env)
	if env.failed {
		os.Exit(1)
	}
}

// row is one benchmark result line.
type row struct {
	pkg, name string
	metrics   []metric
}

type metric struct {
	value float64
	unit  string
}

type environment struct {
	cpu, goos, goarch string
	failed            bool
	// load is the 1-minute load average at the start and the end of the
	// run; memory the machine's RAM. Empty when unknown.
	load   [2]string
	memory string
}

// loadAverage returns the 1-, 5- and 15-minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// memTotal returns the machine's RAM, e.g. "24 GB".
func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
					return fmt.Sprintf("%.0f GB RAM", kb/(1<<20))
				}
			}
		}
	}
	return ""
}

func parse(r io.Reader) ([]row, environment, error) {
	var rows []row
	var env environment
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(line, "pkg: ")
		case strings.HasPrefix(line, "cpu: "):
			env.cpu = strings.TrimPrefix(line, "cpu: ")
		case strings.HasPrefix(line, "goos: "):
			env.goos = strings.TrimPrefix(line, "goos: ")
		case strings.HasPrefix(line, "goarch: "):
			env.goarch = strings.TrimPrefix(line, "goarch: ")
		case strings.HasPrefix(line, "FAIL"), strings.HasPrefix(line, "--- FAIL"):
			env.failed = true
		case strings.HasPrefix(line, "Benchmark"):
			if r, ok := parseLine(pkg, line); ok {
				rows = append(rows, r)
			}
		}
	}
	return rows, env, sc.Err()
}

// parseLine reads "BenchmarkX/y-2  N  v unit  v unit ...".
func parseLine(pkg, line string) (row, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return row{}, false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return row{}, false
	}
	name := f[0]
	if i := strings.LastIndex(name, "-"); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	r := row{pkg: pkg, name: strings.TrimPrefix(name, "Benchmark")}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return row{}, false
		}
		r.metrics = append(r.metrics, metric{v, f[i+1]})
	}
	return r, true
}

func isRatio(unit string) bool { return strings.HasPrefix(unit, "x_") || strings.HasPrefix(unit, "x-") }

// standard metrics say little here: every benchmark of this project reports
// its own figures.
func isStandard(unit string) bool {
	return unit == "ns/op" || unit == "B/op" || unit == "allocs/op" || unit == "MB/s"
}

func write(w io.Writer, rows []row, env environment) {
	host, _ := os.Hostname()
	mem := ""
	if env.memory != "" {
		mem = ", " + env.memory
	}
	fmt.Fprintf(w, "Run %s on %s: %s, %d cores%s, %s/%s, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"),
		host, orUnknown(env.cpu), runtime.NumCPU(), mem, env.goos, env.goarch, runtime.Version())
	if env.load[0] != "" {
		fmt.Fprintf(w, "Load average (1, 5, 15 min): %s at the start, %s at the end\n", env.load[0], env.load[1])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| benchmark | figures | ratios |")
	fmt.Fprintln(w, "| --- | --- | --- |")
	for _, r := range rows {
		var figs, ratios []string
		for _, m := range r.metrics {
			switch {
			case isRatio(m.unit):
				ratios = append(ratios, fmt.Sprintf("**%s** %s", format(m.value), strings.TrimLeft(m.unit[1:], "_-")))
			case !isStandard(m.unit):
				figs = append(figs, format(m.value)+" "+m.unit)
			}
		}
		if len(figs) == 0 {
			for _, m := range r.metrics {
				if m.unit == "ns/op" {
					figs = append(figs, time.Duration(m.value).String()+"/op")
				}
			}
		}
		short := r.pkg[strings.LastIndex(r.pkg, "/")+1:]
		fmt.Fprintf(w, "| %s: %s | %s | %s |\n", short, r.name, strings.Join(figs, ", "), strings.Join(ratios, ", "))
	}
}

func format(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown CPU"
	}
	return s
}
