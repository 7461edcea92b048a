package main

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryUnits are the suffixes of a --memory-limit, those of the Go
// runtime's GOMEMLIMIT (https://pkg.go.dev/runtime#hdr-Environment_Variables).
var memoryUnits = []struct {
	suffix string
	bytes  int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// parseMemoryLimit parses a byte count in GOMEMLIMIT's syntax ("120MiB",
// "1GiB", "125829120"); "" is no limit (0).
func parseMemoryLimit(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	num, unit := s, int64(1)
	for _, u := range memoryUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, unit = n, u.bytes
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/unit {
		return 0, fmt.Errorf("--memory-limit: %q is not a byte count such as 120MiB or 1GiB", s)
	}
	return n * unit, nil
}

// applyMemoryLimit sets the Go runtime's soft memory limit from
// --memory-limit (see docs/operations.md); "" leaves the runtime's own
// (GOMEMLIMIT, or none).
func applyMemoryLimit(s string, log *slog.Logger) error {
	n, err := parseMemoryLimit(s)
	if err != nil || n == 0 {
		return err
	}
	debug.SetMemoryLimit(n)
	log.Info("memory limit set", "bytes", n)
	return nil
}
