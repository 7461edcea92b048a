package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/internal/ipmitest"
)

// TestSimIPMI runs `bmc-agent sim --ipmi` with per-system credentials and
// talks IPMI to the ports it prints.
func TestSimIPMI(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(creds, []byte("sys-00002 ops s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pr := runSimCmd(t, "--listen", "127.0.0.1:0", "--systems", "3", "--ipmi", "--credentials", creds)
	ports := map[string]int{}
	re := regexp.MustCompile(`^  (sys-\d+)  127\.0\.0\.1:(\d+)$`)
	sc := bufio.NewScanner(pr)
	for len(ports) < 3 && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			ports[m[1]], _ = strconv.Atoi(m[2])
		}
	}
	go io.Copy(io.Discard, pr)
	if len(ports) != 3 {
		t.Fatalf("IPMI ports printed: %v", ports)
	}
	tctx, tcancel := context.WithTimeout(context.Background(), time.Minute)
	defer tcancel()
	for _, c := range []struct {
		id, user, pw string
	}{{"sys-00001", "admin", "password"}, {"sys-00002", "ops", "s3cret"}} {
		cl := ipmitest.Client{Host: "127.0.0.1", Port: ports[c.id], Username: c.user, Password: c.pw}
		if _, err := cl.Run(tctx, "chassis", "power", "on"); err != nil {
			t.Fatalf("%s: %v", c.id, err)
		}
		if on, err := cl.PowerOn(tctx); err != nil || !on {
			t.Fatalf("%s after power on: on=%v (%v)", c.id, on, err)
		}
	}
}
