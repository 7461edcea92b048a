package events

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
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
// value in Base.PropertyValueFormatError). The secret shows in none of the
// logs, at debug level: the reconciler's, the task manager's, the
// driver's.
func TestSubscribeSecretNeverLogged(t *testing.T) {
	ctx := context.Background()
	sim, err := simulator.New(simulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	key := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	target, _ := url.Parse(sim.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	var echoed int
	var mu sync.Mutex
	bmc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/EventService/Subscriptions") {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			echoed++
			// The first answer echoes the body whole, the second pads it
			// so that the driver's 512-byte cut of the message falls in
			// the middle of the secret.
			msg := "The value in the request body is invalid: " + string(body)
			if echoed == 2 {
				var tok struct{ HttpHeaders []map[string]string }
				_ = json.Unmarshal(body, &tok)
				if len(tok.HttpHeaders) == 1 {
					at := strings.Index(msg, tok.HttpHeaders[0][TokenHeader])
					msg = strings.Repeat(".", max(0, 480-at)) + msg
				}
			}
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
				"code": "Base.1.8.PropertyValueFormatError", "message": msg}})
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(bmc.Close)

	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "agent.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := drivers.NewRegistry(redfish.New(redfish.Options{Logger: log}))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := taskmanager.New(taskmanager.Config{AgentID: "agent-a", Store: db, Drivers: reg, Logger: log,
		Locker: lock.NewLocker(db, lock.Policy{Attempts: 1, Interval: time.Millisecond}, nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tm.Shutdown(ctx)
		_ = reg.Close(ctx)
		db.Close()
	})
	id := sim.SystemIDs()[0]
	n := &store.Node{Name: id, Driver: redfish.Name, ProvisionState: taskmanager.StateAvailable, DriverInfo: store.JSON{
		redfish.InfoAddress: bmc.URL, redfish.InfoSystemID: sim.SystemPath(id), redfish.InfoUsername: "admin", redfish.InfoPassword: "password"}}
	if err := db.CreateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	r, err := NewReconciler(ReconcilerConfig{AgentID: "agent-a", URL: "http://127.0.0.1:9", Key: key, Logger: log}, tm, &owned{ids: []string{n.UUID}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := r.Pass(ctx)
	mu.Lock()
	defer mu.Unlock()
	if res.Failed != 1 || echoed == 0 {
		t.Fatalf("pass %+v after %d refused subscriptions, want one failed node", res, echoed)
	}
	out := logs.String()
	if secret := key.Secret("agent-a", n.UUID); strings.Contains(out, secret[:16]) {
		t.Fatalf("the node's event secret (or its first 16 characters) is in the logs:\n%s", out)
	}
	if !strings.Contains(out, "cannot subscribe") || !strings.Contains(out, "******") {
		t.Fatalf("the refusal is not logged, redacted:\n%s", out)
	}
}
