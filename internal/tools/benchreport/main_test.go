package main

import (
	"strings"
	"testing"
)

func TestParseAndWrite(t *testing.T) {
	in := `goos: linux
goarch: amd64
pkg: github.com/bmc-agent/bmc-agent/taskmanager
cpu: AMD EPYC
BenchmarkAcquireRelease/sqlite/clients=1-2    21705   161593 ns/op   6188 acquires/s   1.238 x_target_5000/s
BenchmarkAcquireRelease/postgres/clients=8-2  16452   303201 ns/op   3297 acquires/s   7899 pgbench_tps   0.4174 x_pgbench
BenchmarkPlain-2   100   2500000 ns/op
PASS
`
	rows, env, err := parse(strings.NewReader(in))
	if err != nil || len(rows) != 3 || env.cpu != "AMD EPYC" || env.failed {
		t.Fatalf("rows %d env %+v err %v", len(rows), env, err)
	}
	env.load, env.memory = [2]string{"0.31 0.40 0.52", "1.95 0.80 0.61"}, "24 GB RAM"
	var out strings.Builder
	write(&out, rows, env)
	s := out.String()
	for _, want := range []string{
		" cores, 24 GB RAM,", "Load average (1, 5, 15 min): 0.31 0.40 0.52 at the start, 1.95 0.80 0.61 at the end",
		"| taskmanager: AcquireRelease/postgres/clients=8 | 3297 acquires/s, 7899 pgbench_tps | **0.417** pgbench |",
		"| taskmanager: AcquireRelease/sqlite/clients=1 | 6188 acquires/s | **1.238** target_5000/s |",
		"| taskmanager: Plain | 2.5ms/op |  |",
		"AMD EPYC",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if _, env, _ := parse(strings.NewReader("--- FAIL: BenchmarkX\nFAIL\n")); !env.failed {
		t.Error("a failed run was not noticed")
	}
}
