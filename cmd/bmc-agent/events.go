package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/events"
	"github.com/bmc-agent/bmc-agent/powersync"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// eventFlags are serve's Redfish event flags (docs/operations.md, Events).
type eventFlags struct {
	listen   string
	url      string
	keyFile  string
	interval time.Duration
}

// eventRuntime is the running event listener and subscription reconciler.
type eventRuntime struct {
	log      *slog.Logger
	srv      *http.Server
	listener *events.Listener
	rec      *events.Reconciler
	url      string
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// keyFile is where the event key lives: --event-key-file, else next to the
// embedded database, else (PostgreSQL) in the working directory.
func (f eventFlags) keyFileFor(database string) string {
	if f.keyFile != "" {
		return f.keyFile
	}
	if strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://") {
		return "bmc-agent-events.key"
	}
	return filepath.Join(filepath.Dir(database), "bmc-agent-events.key")
}

// startEvents listens for events on --event-listen and starts subscribing
// the owned nodes' BMCs. Events make the power sync read a node at once.
func startEvents(bg context.Context, c serveConfig, log *slog.Logger, tm *taskmanager.Manager, sync *powersync.Loop, refresh events.Refresher, reg *drivers.Registry) (*eventRuntime, error) {
	key, err := events.LoadKey(c.events.keyFileFor(c.database))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", c.events.listen)
	if err != nil {
		return nil, fmt.Errorf("--event-listen: %w", err)
	}
	u := c.events.url
	if u == "" {
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			ln.Close()
			return nil, &usageError{errors.New("--event-listen on all addresses needs --event-url: the URL the BMCs reach this agent at")}
		}
		u = "http://" + ln.Addr().String()
	}
	lis, err := events.NewListener(events.ListenerConfig{AgentID: c.agentID, Key: key, Refresher: refresh, Logger: log})
	if err != nil {
		ln.Close()
		return nil, err
	}
	rec, err := events.NewReconciler(events.ReconcilerConfig{AgentID: c.agentID, URL: u, Key: key, Interval: c.events.interval,
		CallTimeout: c.syncTimeout, Logger: log}, tm, sync, reg)
	if err != nil {
		ln.Close()
		return nil, &usageError{err}
	}
	ctx, cancel := context.WithCancel(bg)
	rt := &eventRuntime{log: log, listener: lis, rec: rec, url: u, cancel: cancel,
		srv: &http.Server{Handler: lis, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}}
	rt.wg.Add(3)
	go func() { defer rt.wg.Done(); lis.Run(ctx) }()
	go func() { defer rt.wg.Done(); rec.Run(ctx) }()
	go func() {
		defer rt.wg.Done()
		if err := rt.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("event listener stopped", "err", err)
		}
	}()
	log.Info("listening for Redfish events", "listen", ln.Addr().String(), "url", u, "key", key.ID(), "resync", c.events.interval)
	return rt, nil
}

// stop stops taking events, stops the reconciler and deletes the agent's
// subscriptions (before the task manager stops: it needs tasks).
func (rt *eventRuntime) stop(ctx context.Context) {
	if err := rt.srv.Shutdown(ctx); err != nil {
		rt.log.Warn("event listener shutdown", "err", err)
	}
	rt.cancel()
	rt.wg.Wait()
	if err := rt.rec.Close(ctx); err != nil {
		rt.log.Warn("deleting the agent's event subscriptions", "err", err)
	}
}
