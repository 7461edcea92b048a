package main

import "testing"

func TestParseMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"", 0}, {"125829120", 125829120}, {"120MiB", 120 << 20}, {"1GiB", 1 << 30},
		{"512KiB", 512 << 10}, {"2TiB", 2 << 40}, {"4096B", 4096},
	} {
		if got, err := parseMemoryLimit(tc.in); err != nil || got != tc.want {
			t.Errorf("parseMemoryLimit(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"MiB", "120MB", "-1MiB", "0", "1.5GiB", "abc", "9999999TiB"} {
		if got, err := parseMemoryLimit(bad); err == nil {
			t.Errorf("parseMemoryLimit(%q) = %d, want an error", bad, got)
		}
	}
}
