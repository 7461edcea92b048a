package events

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a log sink for several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSubscribeSecretNeverLogged subscribes through a BMC that refuses the
// subscription with a 400 whose message echoes the request body, the
// HttpHeaders with the node's secret among it (BMCs quote the offending
// value in Base.PropertyValueFormatError), the second time padded so that
// the driver's 512-byte cut of the message falls inside the secret. No part
// of the secret shows in the logs, at debug level: the reconciler's, the
// task manager's, the driver's.
func TestSubscribeSecretNeverLogged(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var mu sync.Mutex
	echoed := 0
	e := newRecEnvWith(t, 1, recOptions{log: log, front: func(sim http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/EventService/Subscriptions") {
				sim.ServeHTTP(w, r)
				return
			}
			body, _ := io.ReadAll(r.Body)
			msg := "The value in the request body is invalid: " + string(body)
			mu.Lock()
			echoed++
			if echoed == 2 {
				var req struct{ HttpHeaders []map[string]string }
				_ = json.Unmarshal(body, &req)
				if len(req.HttpHeaders) == 1 {
					at := strings.Index(msg, req.HttpHeaders[0][TokenHeader])
					msg = strings.Repeat(".", max(0, 480-at)) + msg
				}
			}
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
				"code": "Base.1.8.PropertyValueFormatError", "message": msg}})
		})
	}})
	key := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	r, err := NewReconciler(ReconcilerConfig{AgentID: "agent-a", URL: "http://127.0.0.1:9", Key: key, Logger: log}, e.tm, &owned{ids: e.nodes}, e.reg)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := r.Pass(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if res.Failed != 1 || echoed != 2 {
		t.Fatalf("pass %+v after %d refused subscriptions, want one failed node after 2 (with and without OriginResources)", res, echoed)
	}
	out := logs.String()
	if secret := key.Secret("agent-a", e.nodes[0]); strings.Contains(out, secret[:16]) {
		t.Fatalf("the node's event secret (or its first 16 characters) is in the logs:\n%s", out)
	}
	if !strings.Contains(out, "cannot subscribe") || !strings.Contains(out, "******") {
		t.Fatalf("the refusal is not logged, redacted:\n%s", out)
	}
}
