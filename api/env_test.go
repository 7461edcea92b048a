package api_test

import (
	"context"
	"errors"
	"github.com/bmc-agent/bmc-agent/internal/testutil"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/api"
	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
	"github.com/bmc-agent/bmc-agent/telemetry"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/noauth"
)

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m))
}

// env is an agent's API on a real loopback listener, over an SQLite file,
// with the fake driver and any others given.
type env struct {
	URL  string
	db   *sqlstore.DB
	tm   *taskmanager.Manager
	fake *fake.Driver
	// store is what the API sees (db, unless a test wraps it).
	store store.Store
	logs  *testutil.Buffer
	// telemetry is the API's telemetry collector (envOptions.telemetry).
	telemetry *telemetry.Collector
}

type envOptions struct {
	workers  int
	attempts int
	drivers  []drivers.Driver
	// wrap replaces the store the API sees (the task manager keeps db).
	wrap func(store.Store) store.Store
	// auth wraps the API in HTTP Basic authentication.
	auth *api.Authenticator
	// dsn is the database (default: an SQLite file in a temporary directory).
	dsn string
	// callTimeout bounds every driver call (default 30s).
	callTimeout time.Duration
	// maxListBytes is api.Config.MaxListBytes.
	maxListBytes int
	// addPorts and overwrite are the inspection's settings.
	addPorts  api.AddPorts
	overwrite bool
	// telemetry gives the API a telemetry collector (env.telemetry).
	telemetry bool
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if o.attempts == 0 {
		o.attempts = 1
	}
	if o.callTimeout == 0 {
		o.callTimeout = 30 * time.Second
	}
	if o.dsn == "" {
		o.dsn = filepath.Join(t.TempDir(), "agent.db")
	}
	db, err := sqlstore.Open(context.Background(), o.dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := fake.New()
	reg, err := drivers.NewRegistry(append([]drivers.Driver{f}, o.drivers...)...)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	tm, err := taskmanager.New(taskmanager.Config{
		AgentID: "agent-test", Store: db, Drivers: reg, Workers: o.workers, Logger: log,
		Locker:     lock.NewLocker(db, lock.Policy{Attempts: o.attempts, Interval: 20 * time.Millisecond}, nil),
		Middleware: []drivers.Middleware{drivers.Timeout(o.callTimeout)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Heartbeat(context.Background(), store.Agent{ID: "agent-test", Hostname: "test-host", Group: ""}); err != nil {
		t.Fatal(err)
	}
	var st store.Store = db
	if o.wrap != nil {
		st = o.wrap(db)
	}
	var tel *telemetry.Collector
	var telSrc api.TelemetrySource // a nil interface without a collector
	if o.telemetry {
		if tel, err = telemetry.New(telemetry.Config{AgentID: "agent-test", HealthFault: true, Logger: log}, tm, db, nil); err != nil {
			t.Fatal(err)
		}
		telSrc = tel
	}
	a, err := api.New(api.Config{Store: st, Tasks: tm, Drivers: reg, Logger: log, SyncTimeout: 10 * time.Second, MaxListBytes: o.maxListBytes,
		InspectAddPorts: o.addPorts, InspectOverwrite: o.overwrite, Telemetry: telSrc})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = a
	if o.auth != nil {
		h = api.Authenticate(o.auth, h)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.RequestID(h), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("http shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		if err := tm.Shutdown(ctx); err != nil {
			t.Errorf("task manager shutdown: %v", err)
		}
		if err := reg.Close(ctx); err != nil {
			t.Errorf("close drivers: %v", err)
		}
		db.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return &env{URL: "http://" + ln.Addr().String(), db: db, tm: tm, fake: f, store: st, logs: logs, telemetry: tel}
}

// client is a gophercloud baremetal client of the env at microversion
// (empty: none sent).
func (e *env) client(t testing.TB, microversion string) *gophercloud.ServiceClient {
	t.Helper()
	c, err := noauth.NewBareMetalNoAuth(noauth.EndpointOpts{IronicEndpoint: e.URL + "/v1/"})
	if err != nil {
		t.Fatal(err)
	}
	c.Microversion = microversion
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c.HTTPClient = http.Client{Transport: tr, Timeout: 30 * time.Second}
	return c
}
