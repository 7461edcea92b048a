package api

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// An unknown user is checked against a dummy hash of the cost the file's
// hashes have, so that its answer takes as long as a known user's: with the
// fixed cost 10 of before, a file hashed at cost 5 answered unknown names
// 25 times slower than known ones. (The test asserts the cause, the cost,
// not a time.)
func TestDummyHashCostMatchesFile(t *testing.T) {
	for _, tc := range []struct {
		costs []int
		want  int
	}{{[]int{bcrypt.MinCost}, bcrypt.MinCost}, {[]int{5, 5, 6}, 5}, {[]int{6, 5}, 6}} {
		var file strings.Builder
		for i, c := range tc.costs {
			h, err := bcrypt.GenerateFromPassword([]byte("pw"), c)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&file, "user%d:%s\n", i, h)
		}
		a, err := ParseHtpasswd(strings.NewReader(file.String()), "test")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := bcrypt.Cost(a.dummy); err != nil || got != tc.want {
			t.Errorf("file costs %v: dummy cost %d (%v), want %d", tc.costs, got, err, tc.want)
		}
		if a.Check("nobody", "pw") || !a.Check("user0", "pw") {
			t.Errorf("file costs %v: wrong answers", tc.costs)
		}
	}
}
