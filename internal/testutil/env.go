package testutil

import (
	"os"
	"strconv"
	"time"
)

// EnvInt is the positive integer the environment variable name holds, or def:
// how a benchmark lets its size be changed (BMC_AGENT_SYNC_NODES=1000).
func EnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// EnvDuration is the positive duration the environment variable name holds,
// or def.
func EnvDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
