package simulator

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/internal/childproc"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	childproc.Serve("simulator", serveChild)
	goleak.VerifyTestMain(m)
}

// serveChild is the benchmark's simulator process (see BenchmarkSimulator):
// Config{Systems: N} for arg "N", with a profile mix for "N:mix", so that
// its memory and CPU are measured apart from the load generator.
func serveChild(arg string) (string, io.Closer, error) {
	num, mixSpec, _ := strings.Cut(arg, ":")
	n, err := strconv.Atoi(num)
	if err != nil {
		return "", nil, err
	}
	cfg := Config{Systems: n}
	if mixSpec != "" {
		if cfg.ProfileMix, err = ParseProfiles(mixSpec); err != nil {
			return "", nil, err
		}
	}
	sim, err := New(cfg)
	if err != nil {
		return "", nil, err
	}
	if err := sim.Start(context.Background(), "127.0.0.1:0"); err != nil {
		return "", nil, err
	}
	return sim.URL(), sim, nil
}
