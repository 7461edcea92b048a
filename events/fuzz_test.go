package events

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzListener posts what a hostile or broken sender might to the
// listener: any node id in the path, with the node's token or a wrong one,
// any body and content type. The listener never panics and never answers
// 5xx; what it accepts carries the node's token, and a wrong token is
// refused before the body is read.
func FuzzListener(f *testing.F) {
	const agent = "agent-a"
	node := "3f0c0f5a-0000-4000-8000-000000000001"
	for _, seed := range []struct {
		node  string
		token bool
		body  string
		ctype string
	}{
		{node, true, fmt.Sprintf(powerEvent, subContext(agent, node, "k")), "application/json"},
		{node, true, `{"Events":[{"MessageId":"ResourceEvent.1.0.ResourceStatusChangedCritical"}]}`, ""},
		{node, true, `{"Events":null}`, "text/plain"},
		{node, true, `{"Context":"bmc-agent/agent-a/other/k","Events":[]}`, "application/json"},
		{node, true, `{"Context":"bmc-agent/%zz/x/k","Events":[{"MessageId":"."}]}`, ""},
		{node, true, `{"Events":[{"MessageId":"ResourceEvent."}]}`, ""},
		{node, true, `[`, "application/xml"},
		{node, false, `{"Events":[]}`, "application/json"},
		{"", true, `{}`, ""},
		{"..%2f..", true, `{"Events":[1]}`, ""},
		{"n\x00\xff", true, `{"Events":[{"OriginOfCondition":[[[]]]}]}`, ""},
	} {
		f.Add(seed.node, seed.token, []byte(seed.body), seed.ctype)
	}
	key := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	l, err := NewListener(ListenerConfig{AgentID: agent, Key: key, Refresher: newCounter(false), Workers: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, node string, token bool, body []byte, ctype string) {
		req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/events/"+url.PathEscape(node), bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		if token {
			req.Header.Set(TokenHeader, key.Secret(agent, node))
		} else {
			req.Header.Set(TokenHeader, key.Secret(agent, node+"x"))
		}
		req.Header.Set("Content-Type", ctype)
		before := l.Stats()
		rec := httptest.NewRecorder()
		l.ServeHTTP(rec, req)
		after := l.Stats()
		if rec.Code >= 500 {
			t.Fatalf("status %d for node %q body %q", rec.Code, node, body)
		}
		if !token && (rec.Code < 400 || after.Accepted != before.Accepted) {
			t.Fatalf("a wrong token: status %d, accepted %d -> %d", rec.Code, before.Accepted, after.Accepted)
		}
		if rec.Code == http.StatusNoContent && after.Accepted != before.Accepted+1 {
			t.Fatalf("204 without counting an accepted event")
		}
	})
}
