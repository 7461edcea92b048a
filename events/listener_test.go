package events

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// counter is a Refresher that counts its calls; block, when set, holds
// each call until released.
type counter struct {
	mu      sync.Mutex
	calls   map[string]int
	entered chan string
	release chan struct{}
}

func newCounter(block bool) *counter {
	c := &counter{calls: make(map[string]int), entered: make(chan string, 16)}
	if block {
		c.release = make(chan struct{})
	}
	return c
}

func (c *counter) Refresh(ctx context.Context, id string) error {
	c.mu.Lock()
	c.calls[id]++
	c.mu.Unlock()
	c.entered <- id
	if c.release != nil {
		select {
		case <-c.release:
		case <-ctx.Done():
		}
	}
	return nil
}

func (c *counter) n(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

const powerEvent = `{"@odata.type":"#Event.v1_7_0.Event","Context":"%s","Events":[{"MessageId":"ResourceEvent.1.0.ResourcePowerStateChanged","OriginOfCondition":{"@odata.id":"/redfish/v1/Systems/1"}}]}`

func startListener(t *testing.T, r Refresher) (*Listener, *httptest.Server, *Key) {
	t.Helper()
	key := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	l, err := NewListener(ListenerConfig{AgentID: "agent-a", Key: key, Refresher: r, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	srv := httptest.NewServer(l)
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return l, srv, key
}

func post(t *testing.T, url, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set(TokenHeader, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestListenerRefusesForgedEvents(t *testing.T) {
	c := newCounter(false)
	l, srv, key := startListener(t, c)
	node := "node-1"
	body := strings.Replace(powerEvent, "%s", subContext("agent-a", node, key.ID()), 1)
	for name, tok := range map[string]string{
		"no secret":           "",
		"wrong secret":        strings.Repeat("0", 64),
		"another node's":      key.Secret("agent-a", "node-2"),
		"another agent's":     key.Secret("agent-b", node),
		"another key's":       NewKey([]byte("fedcba9876543210fedcba9876543210")).Secret("agent-a", node),
		"the secret, cut off": key.Secret("agent-a", node)[:32],
	} {
		if st := post(t, srv.URL+"/events/"+node, tok, body); st != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, st)
		}
	}
	if st := l.Stats(); st.Refused != 6 || st.Accepted != 0 || c.n(node) != 0 {
		t.Fatalf("after forged events: %+v, %d reads", st, c.n(node))
	}
}

func TestListenerBadInput(t *testing.T) {
	c := newCounter(false)
	l, srv, key := startListener(t, c)
	tok := key.Secret("agent-a", "n1")
	for name, tc := range map[string]struct {
		body string
		want int
	}{
		"not JSON":        {"{", http.StatusBadRequest},
		"no Events":       {`{"Context":"x"}`, http.StatusBadRequest},
		"too large":       {`{"Events":[],"Pad":"` + strings.Repeat("x", MaxBody) + `"}`, http.StatusRequestEntityTooLarge},
		"other node ctx":  {strings.Replace(powerEvent, "%s", subContext("agent-a", "n2", key.ID()), 1), http.StatusBadRequest},
		"not power event": {`{"Events":[{"MessageId":"Base.1.0.Success"}]}`, http.StatusNoContent},
	} {
		if st := post(t, srv.URL+"/events/n1", tok, tc.body); st != tc.want {
			t.Errorf("%s: status %d, want %d", name, st, tc.want)
		}
	}
	resp, err := http.Get(srv.URL + "/events/n1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	if st := l.Stats(); st.Invalid != 4 || st.Ignored != 1 || st.Refreshes != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A burst of events while a read runs makes one more read, not one each.
func TestListenerCoalesces(t *testing.T) {
	c := newCounter(true)
	l, srv, key := startListener(t, c)
	tok := key.Secret("agent-a", "n1")
	body := strings.Replace(powerEvent, "%s", "", 1)
	if st := post(t, srv.URL+"/events/n1", tok, body); st != http.StatusNoContent {
		t.Fatalf("status %d", st)
	}
	<-c.entered // the first read runs (and blocks)
	for range 9 {
		if st := post(t, srv.URL+"/events/n1", tok, body); st != http.StatusNoContent {
			t.Fatalf("status %d", st)
		}
	}
	c.release <- struct{}{}
	<-c.entered // the one read again, for the events that came meanwhile
	c.release <- struct{}{}
	// Another node's event is served after: by then n1's second read has
	// ended and nothing more is queued for it.
	if st := post(t, srv.URL+"/events/n2", key.Secret("agent-a", "n2"), body); st != http.StatusNoContent {
		t.Fatalf("status %d", st)
	}
	<-c.entered
	c.release <- struct{}{}
	if n := c.n("n1"); n != 2 {
		t.Fatalf("n1 read %d times for 10 events during a read, want 2", n)
	}
	if st := l.Stats(); st.Accepted != 11 || st.Coalesced != 8 {
		t.Fatalf("stats %+v", st)
	}
}

func TestKeyFileSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.key")
	k1, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	k2, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if k1.Secret("a", "n") != k2.Secret("a", "n") || k1.ID() != k2.ID() {
		t.Fatal("the reloaded key derives other secrets")
	}
	if k1.Secret("a", "n") == k1.Secret("a", "m") || k1.Secret("a", "n") == k1.Secret("b", "n") {
		t.Fatal("secrets are not per agent and node")
	}
	if s := k1.String(); strings.Contains(s, k1.Secret("a", "n")) {
		t.Fatal("String shows a secret")
	}
	if _, err := LoadKey(filepath.Join(t.TempDir(), "missing-dir", "k")); err == nil {
		t.Fatal("a key file in a missing directory loaded")
	}
}

func TestContextRoundTrip(t *testing.T) {
	c := subContext("agent/x", "node 1", "abcd")
	a, n, k, ok := parseContext(c)
	if !ok || a != "agent/x" || n != "node 1" || k != "abcd" {
		t.Fatalf("%q -> %q %q %q %v", c, a, n, k, ok)
	}
	for _, other := range []string{"", "someone else", "bmc-agent/a/b", "bmc-agent//n/k", "bmc-agent/a/n/k/extra"} {
		if _, _, _, ok := parseContext(other); ok {
			t.Errorf("%q parsed as the agent's", other)
		}
	}
}

// A flood of events without the secret is counted whole but logged once a
// minute, with the count of those not logged: whoever reaches the listener
// cannot fill the agent's log.
func TestListenerRefusedLogLimited(t *testing.T) {
	var logs lockedBuffer
	key := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	l, err := NewListener(ListenerConfig{AgentID: "agent-a", Key: key, Refresher: newCounter(false),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	l.now = func() time.Time { return now }
	forge := func(n int) {
		for range n {
			req := httptest.NewRequest(http.MethodPost, "/events/node-1", strings.NewReader(`{"Events":[]}`))
			req.Header.Set(TokenHeader, strings.Repeat("0", 64))
			rec := httptest.NewRecorder()
			l.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("a forged event: %d", rec.Code)
			}
		}
	}
	forge(100)
	if n := strings.Count(logs.String(), "event refused"); n != 1 {
		t.Fatalf("100 forged events logged %d times, want once:\n%s", n, logs.String())
	}
	now = now.Add(refusedLogEvery)
	forge(1)
	if n := strings.Count(logs.String(), "event refused"); n != 2 || !strings.Contains(logs.String(), "refused_unlogged=99") {
		t.Fatalf("a minute later: %d warnings, want 2, the second counting the 99 not logged:\n%s", n, logs.String())
	}
	if st := l.Stats(); st.Refused != 101 {
		t.Fatalf("refused %d, want 101", st.Refused)
	}
}
