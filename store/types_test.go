package store

import "testing"

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{
		"6f1b1c5e-0000-4000-8000-000000000000":  true,
		"6F1B1C5E-ABCD-4000-8000-00000000000F":  true,
		"6f1b1c5e-0000-4000-8000-00000000000":   false,
		"6f1b1c5e-0000-4000-8000-0000000000000": false,
		"6f1b1c5e00000-4000-8000-000000000000":  false,
		"6f1b1c5g-0000-4000-8000-000000000000":  false,
		"node-1":                                false,
		"":                                      false,
	} {
		if got := IsUUID(s); got != want {
			t.Errorf("IsUUID(%q) = %v, want %v", s, got, want)
		}
	}
}
