package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// startSim starts a simulator on a loopback port and closes it with the test.
func startSim(t testing.TB, cfg Config) *Simulator {
	t.Helper()
	sim, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := sim.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// client is a raw HTTP client for one simulator, closed with the test.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
	user string
	pass string
	tok  string
}

func newClient(t testing.TB, base string) *client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, base: base, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}, user: "admin", pass: "password"}
}

// do sends a request with Basic auth (or the session token) and returns
// the status, headers and decoded JSON body (nil if not JSON).
func (c *client) do(method, path string, body any, hdr map[string]string) (int, http.Header, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = bytes.NewBufferString(b)
		default:
			raw, err := json.Marshal(b)
			if err != nil {
				c.t.Fatal(err)
			}
			rd = bytes.NewReader(raw)
		}
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.tok != "":
		req.Header.Set("X-Auth-Token", c.tok)
	case c.user != "":
		req.SetBasicAuth(c.user, c.pass)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			out = nil
		}
	}
	return resp.StatusCode, resp.Header, out
}

// get fetches path and fails the test unless it answers 200.
func (c *client) get(path string) map[string]any {
	c.t.Helper()
	st, _, body := c.do(http.MethodGet, path, nil, nil)
	if st != http.StatusOK {
		c.t.Fatalf("GET %s: status %d: %v", path, st, body)
	}
	return body
}

// messageID returns the first MessageId of a Redfish error body.
func messageID(body map[string]any) string {
	ext, _ := getObj(body, "error")["@Message.ExtendedInfo"].([]any)
	if len(ext) == 0 {
		return ""
	}
	return getStr(getObj(ext[0]), "MessageId")
}

// fakeClock is a settable clock for Config.Now.
type fakeClock struct{ ch chan time.Time }

func newFakeClock() *fakeClock {
	c := &fakeClock{ch: make(chan time.Time, 1)}
	c.ch <- time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return c
}

func (c *fakeClock) Now() time.Time { t := <-c.ch; c.ch <- t; return t }

func (c *fakeClock) Advance(d time.Duration) { t := <-c.ch; c.ch <- t.Add(d) }

// toJSON renders v for string checks.
func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
