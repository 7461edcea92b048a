package redfish

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// TestRefusedPostIsRetried: a POST whose connection was refused never
// reached the BMC, so it is sent again like a read.
func TestRefusedPostIsRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	d := New(Options{RetryBackoff: time.Millisecond})
	defer d.Close(context.Background())
	var waited int
	d.sleep = func(ctx context.Context, _ time.Duration) error { waited++; return ctx.Err() }
	tg := &target{endpoint: endpoint, auth: AuthBasic, timeout: time.Second}
	c, err := d.client(tg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.inflight.Add(-1)
	cl := &call{ctx: context.Background(), c: c, t: tg, timeout: tg.timeout}
	_, err = cl.Post("/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", map[string]string{"ResetType": "On"})
	if !errors.Is(err, drivers.ErrBMCUnreachable) || waited != 3 || d.Stats().Requests != 4 {
		t.Fatalf("refused POST: %v after %d waits and %d requests", err, waited, d.Stats().Requests)
	}
}

func TestRetryAfter(t *testing.T) {
	for _, c := range []struct {
		header string
		min    time.Duration
		max    time.Duration
	}{
		{"", 0, 0},
		{"3", 3 * time.Second, 3 * time.Second},
		{"junk", 0, 0},
		{time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), 50 * time.Minute, time.Hour}, // far enough ahead that no stall of the test matters
		{time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), 0, 0},
	} {
		if got := retryAfter(c.header); got < c.min || got > c.max {
			t.Errorf("Retry-After %q: %s, want %s..%s", c.header, got, c.min, c.max)
		}
	}
	for n := 1; n < 20; n++ {
		if w := backoff(250*time.Millisecond, n); w <= 0 || w > 15*time.Second {
			t.Errorf("backoff(%d) = %s", n, w)
		}
	}
}
