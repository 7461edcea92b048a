package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bmc-agent/bmc-agent/api"
	"github.com/bmc-agent/bmc-agent/cluster"
	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/events"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/metrics"
	"github.com/bmc-agent/bmc-agent/powersync"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/taskmanager"
	"github.com/bmc-agent/bmc-agent/telemetry"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// serveConfig is everything `bmc-agent serve` is told.
type serveConfig struct {
	listen          string
	database        string
	agentID         string
	group           string
	workers         int
	lockAttempts    int
	lockInterval    time.Duration
	hbInterval      time.Duration
	hbTimeout       time.Duration
	leaseMargin     time.Duration
	leaseClockRate  float64
	shutdownTimeout time.Duration
	logFormat       string
	logLevel        string

	syncInterval    time.Duration
	syncWorkers     int
	syncTimeout     time.Duration
	forcePowerState bool
	syncMaxFailures int

	telemetryInterval, telemetryTimeout   time.Duration
	telemetryWorkers, telemetryMaxSensors int
	memoryLimit                           string
	telemetryHealthFault                  bool
	dbMaxConns                            int
	dbTimeout                             time.Duration
	writeTimeout                          time.Duration

	authStrategy      string
	htpasswd          string
	allowRemoteNoauth bool
	tlsCert           string
	tlsKey            string
	demo              bool

	inspectAddPorts  string
	inspectOverwrite bool

	// Driver tuning per site (docs/drivers.md).
	ipmiMinInterval    time.Duration
	redfishMaxRequests int
	powerTimeout       time.Duration

	events          eventFlags    // Redfish events (events.go)
	newNodeInterval time.Duration // newnodes.go
}

func newServeCmd() *cobra.Command {
	var c serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the agent: the HTTP API over the node inventory",
		Long: "Run the agent. With no flags it listens on 127.0.0.1:6385 (Ironic's port) and keeps\n" +
			"its inventory in ./bmc-agent.db, an embedded database created on first start.\n" +
			"Give --database postgres://... to share nodes and locks with other agents." + envHelp("BMC_AGENT_"),
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd, "BMC_AGENT_"); err != nil {
				return err
			}
			return noNegativeDurations(cmd.Flags())
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), c, cmd.OutOrStdout())
		},
	}
	host, _ := os.Hostname()
	f := cmd.Flags()
	f.StringVar(&c.listen, "listen", "127.0.0.1:6385", "address the HTTP API listens on")
	f.StringVar(&c.database, "database", "./bmc-agent.db", "embedded database file, or a postgres:// URL")
	f.StringVar(&c.agentID, "agent-id", host, "this agent's id, the holder name of the locks it takes (unique per agent)")
	f.StringVar(&c.group, "group", "", "the agent group whose nodes this agent manages")
	f.IntVar(&c.workers, "workers", 100, "background workers (power and provisioning actions) running at once")
	f.IntVar(&c.lockAttempts, "lock-attempts", lock.DefaultPolicy.Attempts, "tries to take a locked node before giving up")
	f.DurationVar(&c.lockInterval, "lock-interval", lock.DefaultPolicy.Interval, "pause between tries to take a locked node")
	f.DurationVar(&c.hbInterval, "heartbeat-interval", 10*time.Second, "interval between this agent's heartbeats")
	f.StringVar(&c.inspectAddPorts, "inspect-add-ports", "pxe", "which inspected NICs become ports: all, active (link up), pxe (the PXE NIC; active where unknown) or disabled, as Ironic's [inspector]add_ports")
	f.BoolVar(&c.inspectOverwrite, "inspect-overwrite-properties", false, "let inspection replace cpus, cpu_arch, memory_mb and local_gb the operator set")
	f.DurationVar(&c.hbTimeout, "heartbeat-timeout", 60*time.Second, "an agent without a heartbeat for this long is dead and its locks are released")
	f.DurationVar(&c.leaseMargin, "lease-margin", 0, "the agent stops all work when its last heartbeat to reach the database is older than the heartbeat timeout minus this margin (default a quarter of the timeout; see docs/operations.md)")
	f.Float64Var(&c.leaseClockRate, "lease-clock-rate", 1, "testing only: run the lease's monotonic clock at this rate (a host whose clock is fast or slow)")
	f.MarkHidden("lease-clock-rate")
	f.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long running work may take to finish")
	f.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.DurationVar(&c.writeTimeout, "write-timeout", 2*time.Minute, "how long an answer may take to write, the request's own work included (longer than the API's 60s bound on BMC calls a client waits for): a client that stops reading cannot hold the answer's buffers longer")
	f.DurationVar(&c.dbTimeout, "db-timeout", sqlstore.DefaultStatementTimeout, "PostgreSQL: how long one statement may take (connecting included) before the database counts as unavailable (503)")
	f.IntVar(&c.dbMaxConns, "db-max-conns", 0, "database connections: PostgreSQL's pool (default 16), or the embedded database's readers (default twice the CPUs, at least 4; each keeps a page cache of a few MB)")
	f.DurationVar(&c.syncInterval, "sync-interval", powersync.DefaultInterval, "interval of the power-state sync of the nodes this agent owns; 0 disables it")
	f.IntVar(&c.syncWorkers, "sync-workers", powersync.DefaultWorkers, "power-state sync: BMC reads in flight at once")
	f.DurationVar(&c.syncTimeout, "sync-timeout", powersync.DefaultCallTimeout, "power-state sync: how long one BMC read may take")
	f.BoolVar(&c.forcePowerState, "force-power-state", false, "power-state sync: power a node back to its recorded state instead of recording the BMC's")
	f.IntVar(&c.syncMaxFailures, "sync-max-failures", powersync.DefaultMaxFailures, "power-state sync: consecutive failed cycles after which a node goes into maintenance (fault \"power failure\")")
	f.DurationVar(&c.telemetryInterval, "telemetry-interval", telemetry.DefaultInterval, "interval between two reads of each owned node's BMC telemetry (health, power, sensors; served at /metrics and GET /v1/nodes/{node}/telemetry), spread over it; 0 disables it")
	f.IntVar(&c.telemetryWorkers, "telemetry-workers", telemetry.DefaultWorkers, "telemetry: reads in flight at once (one per BMC at most)")
	f.DurationVar(&c.telemetryTimeout, "telemetry-timeout", telemetry.DefaultCallTimeout, "telemetry: how long one node's read may take")
	f.IntVar(&c.telemetryMaxSensors, "telemetry-max-sensors", telemetry.DefaultMaxSensors, "telemetry: sensors kept per node (and power supplies, and health parts, each); more are dropped and counted (bmc_sensors_dropped_total)")
	f.StringVar(&c.memoryLimit, "memory-limit", "", "soft limit of the agent's Go memory, as GOMEMLIMIT (e.g. 100MiB): the garbage collector runs more often near it; default GOMEMLIMIT's, else none (see docs/operations.md)")
	f.BoolVar(&c.telemetryHealthFault, "telemetry-health-maintenance", true, "telemetry: put a node whose health rollup reads Critical into maintenance with fault \"health failure\", and take it out when it reads OK")
	f.DurationVar(&c.ipmiMinInterval, "ipmi-min-command-interval", ipmi.DefaultMinCommandInterval, "IPMI: least time between two commands to one BMC (Ironic's [ipmi]min_command_interval)")
	f.IntVar(&c.redfishMaxRequests, "redfish-max-requests-per-bmc", redfish.DefaultMaxRequestsPerBMC, "Redfish: requests in flight to one BMC at once")
	f.DurationVar(&c.powerTimeout, "power-timeout", ipmi.DefaultPowerTimeout, "how long a power action waits for the BMC to reach the target state (IPMI and Redfish)")
	f.StringVar(&c.authStrategy, "auth-strategy", "noauth", "API authentication: noauth (loopback listen addresses only) or http_basic (with --htpasswd)")
	f.StringVar(&c.htpasswd, "htpasswd", "", "htpasswd file of bcrypt hashes (htpasswd -B) for --auth-strategy http_basic")
	f.BoolVar(&c.allowRemoteNoauth, "allow-remote-noauth", false, "serve without authentication on a non-loopback address (anyone who reaches it controls every BMC)")
	f.StringVar(&c.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; needs --tls-key")
	f.StringVar(&c.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	f.StringVar(&c.events.listen, "event-listen", "", "listen for Redfish events on this address (host:port) and subscribe the owned nodes' BMCs; empty: no events, the power sync alone")
	f.StringVar(&c.events.url, "event-url", "", "the base URL the BMCs post events to (default http://<the --event-listen address>)")
	f.StringVar(&c.events.keyFile, "event-key-file", "", "file of the key the per-node event secrets derive from, created on first start (default bmc-agent-events.key next to the embedded database, or in the working directory)")
	f.DurationVar(&c.events.interval, "event-resync", events.DefaultInterval, "how often the agent checks each owned Redfish BMC's event subscription and re-creates a missing one")
	f.DurationVar(&c.newNodeInterval, "new-node-interval", defaultNewNodeInterval, "how often the agent looks (in the database) for nodes it has just come to own, to subscribe to their events and read their telemetry at once rather than at the next passes; 0: leave them to those")
	f.BoolVar(&c.demo, "demo", false, "first run: also start a Redfish simulator on a free loopback port and enroll its systems as nodes")
	return cmd
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, &usageError{fmt.Errorf("--log-level: %w", err)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, &usageError{fmt.Errorf("--log-format must be text or json, not %q", format)}
}

// noNegativeDurations refuses a negative value for any duration flag
// (from the command line or the environment). Each flag gives 0 its
// documented meaning (off, or the default); a negative value used to mean
// the same silently, so a typo such as --telemetry-interval -3m turned a
// feature off without a word.
func noNegativeDurations(f *pflag.FlagSet) error {
	var errs []error
	f.VisitAll(func(fl *pflag.Flag) {
		if fl.Value.Type() != "duration" {
			return
		}
		if d, err := time.ParseDuration(fl.Value.String()); err == nil && d < 0 {
			errs = append(errs, fmt.Errorf("--%s must not be negative (%s); 0 means what its help says", fl.Name, d))
		}
	})
	if len(errs) > 0 {
		return &usageError{errors.Join(errs...)}
	}
	return nil
}

// serve runs the agent until ctx ends, then shuts down in order: stop
// accepting requests, let running work finish (up to the shutdown timeout),
// release locks, leave the cluster, close the database.
func serve(ctx context.Context, c serveConfig, out io.Writer) error {
	log, err := newLogger(c.logFormat, c.logLevel)
	if err != nil {
		return err
	}
	if err := applyMemoryLimit(c.memoryLimit, log); err != nil {
		return &usageError{err}
	}
	c.group = strings.ToLower(c.group) // as the API stores a node's conductor_group
	if c.agentID == "" {
		return &usageError{errors.New("--agent-id is empty and the hostname is unknown")}
	}
	auth, tlsConf, err := c.httpSecurity()
	if err != nil {
		return err
	}
	db, err := sqlstore.Open(ctx, c.database, sqlstore.Options{MaxConns: c.dbMaxConns, StatementTimeout: c.dbTimeout})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	// --demo's simulator stops last: the agent unsubscribes from its events
	// and its drivers log out of it first.
	var dm *demo
	defer func() { dm.close() }()

	reg, err := drivers.NewRegistry(fake.New(), fake.NewHardware(),
		redfish.New(redfish.Options{Logger: log, MaxRequestsPerBMC: c.redfishMaxRequests, PowerTimeout: c.powerTimeout}),
		ipmi.New(ipmi.Config{Logger: log, MinCommandInterval: c.ipmiMinInterval, PowerTimeout: c.powerTimeout}))
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := reg.Close(cctx); err != nil {
			log.Error("closing drivers", "err", err)
		}
	}()
	mreg := metrics.New(log)
	driverMetrics, lockMetrics, syncMetrics := metrics.NewDriver(), metrics.NewLock(), metrics.NewSync()
	locker := lock.NewLocker(db, lock.Policy{Attempts: c.lockAttempts, Interval: c.lockInterval}, lockMetrics)
	host, _ := os.Hostname()
	var tm *taskmanager.Manager
	member, err := cluster.New(cluster.Config{
		Agent:    store.Agent{ID: c.agentID, Hostname: host, Group: c.group},
		Interval: c.hbInterval, Timeout: c.hbTimeout, LeaseMargin: c.leaseMargin,
		Clock: cluster.NewRateClock(c.leaseClockRate), Logger: log,
	}, db, cluster.RecoverFunc(func(ctx context.Context, d time.Duration) ([]string, error) { return tm.RecoverStale(ctx, d) }))
	if err != nil {
		return &usageError{err}
	}
	tm, err = taskmanager.New(taskmanager.Config{
		AgentID: c.agentID, Store: db, Locker: locker, Drivers: reg, Workers: c.workers,
		Middleware: []drivers.Middleware{driverMetrics.Middleware(), drivers.Timeout(2 * time.Minute)}, Logger: log,
		Lease: member.Lease(),
	})
	if err != nil {
		return err
	}
	// Claim the id first: recovery then touches only the locks of an id
	// whose previous holder is gone.
	if err := member.Join(ctx); err != nil {
		return fmt.Errorf("join the cluster: %w", err)
	}
	if _, err := tm.Recover(ctx); err != nil {
		return err
	}
	syncLoop, err := powersync.New(powersync.Config{
		AgentID: c.agentID, Group: c.group, Interval: c.syncInterval, Workers: c.syncWorkers,
		CallTimeout: c.syncTimeout, ForcePowerState: c.forcePowerState, MaxFailures: c.syncMaxFailures,
		Logger: log, Observer: syncMetrics,
	}, tm, db, member)
	if err != nil {
		return &usageError{err}
	}
	if err := mreg.Register(driverMetrics, lockMetrics, syncMetrics, metrics.NewPool(tm), metrics.NewNodes(db, c.group, 0)); err != nil {
		return err
	}
	var tel *telemetry.Collector
	var telAPI api.TelemetrySource // nil interface when disabled
	if c.telemetryInterval > 0 {
		if tel, err = telemetry.New(telemetry.Config{
			AgentID: c.agentID, Group: c.group, Interval: c.telemetryInterval, Workers: c.telemetryWorkers,
			CallTimeout: c.telemetryTimeout, MaxSensors: c.telemetryMaxSensors, HealthFault: c.telemetryHealthFault, Logger: log,
		}, tm, db, member); err != nil {
			return &usageError{err}
		}
		if err := mreg.RegisterStream(metrics.NewTelemetry(tel.Cache())); err != nil {
			return err
		}
		telAPI = tel
	}
	if c.demo {
		if dm, err = startDemo(ctx, db, reg); err != nil {
			return err
		}
		dm.firstReads(ctx, log, syncLoop, tel)
		if c.events.listen == "" {
			c.events.listen = "127.0.0.1:0" // the demo's simulator posts its events on loopback
		}
	}

	addPorts, err := api.ParseAddPorts(c.inspectAddPorts)
	if err != nil {
		return err
	}
	apiHandler, err := api.New(api.Config{Store: db, Tasks: tm, Drivers: reg, HeartbeatTimeout: c.hbTimeout, Group: c.group, Logger: log,
		InspectAddPorts: addPorts, InspectOverwrite: c.inspectOverwrite, Telemetry: telAPI})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsConf != nil {
		ln, scheme = tls.NewListener(ln, tlsConf), "https"
	}
	srv := &http.Server{
		Handler:           newHandler(readiness{db, member.Lease()}, apiHandler, mreg.Handler(), auth),
		ReadHeaderTimeout: 10 * time.Second,
		// A request body (at most 1 MiB) has a minute to arrive; an idle
		// keep-alive connection is closed after two.
		ReadTimeout:  time.Minute,
		WriteTimeout: c.writeTimeout,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(out, "bmc-agent %s: agent %q listening on %s://%s, database %s\n", version, c.agentID, scheme, ln.Addr(), db)
	if dm != nil {
		dm.describe(out, scheme+"://"+ln.Addr().String())
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var ev *eventRuntime
	if c.events.listen != "" {
		// An event reads the node's power state, and its telemetry when the
		// collector runs: a power or health change shows in both at once.
		var refresh events.Refresher = syncLoop
		if tel != nil {
			refresh = events.Refreshers(syncLoop, tel)
		}
		if ev, err = startEvents(bg, c, log, tm, syncLoop, refresh, reg); err != nil {
			ln.Close()
			return err
		}
		if err := mreg.Register(metrics.NewEvents(ev.listener)); err != nil {
			ev.stop(ctx)
			ln.Close()
			return err
		}
	}

	memberDone := make(chan struct{})
	memberErr := make(chan error, 1)
	go func() { defer close(memberDone); memberErr <- member.Run(bg) }()
	syncCtx, stopSync := context.WithCancel(bg)
	defer stopSync()
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		if c.syncInterval > 0 {
			syncLoop.Run(syncCtx)
		}
	}()

	telDone := make(chan struct{})
	go func() {
		defer close(telDone)
		if tel != nil {
			tel.Run(syncCtx)
		}
	}()

	newNodesDone := startNewNodes(syncCtx, c, log, syncLoop, ev, tel)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var stopErr error
	select {
	case err := <-served:
		if ev != nil {
			ev.stop(context.Background())
		}
		stopBG()
		<-memberDone
		<-syncDone
		<-telDone
		newNodesDone()
		return err
	case <-ctx.Done():
	case stopErr = <-memberErr:
		// Another agent took over this agent's id: stop, with the error.
		log.Error("stopping: this agent's id belongs to another agent now", "err", stopErr)
	}

	log.Info("shutting down", "deadline", c.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("HTTP shutdown", "err", err)
	}
	if ev != nil {
		ev.stop(sctx) // deletes the agent's subscriptions, with tasks
	}
	stopSync() // a read in flight is cancelled; a lock it holds is released
	<-syncDone
	<-telDone
	newNodesDone()
	if err := tm.Shutdown(sctx); err != nil {
		log.Warn("background work", "err", err)
	}
	stopBG()
	<-memberDone
	lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer lcancel()
	if err := member.Leave(lctx); err != nil {
		log.Warn("leave the cluster", "err", err)
	}
	log.Info("stopped")
	return stopErr
}

// readiness is /readyz's check: the lease held (see cluster.Lease) and the
// database answering.
type readiness struct {
	db    interface{ Ping(context.Context) error }
	lease *cluster.Lease
}

func (r readiness) Ping(ctx context.Context) error {
	if err := r.lease.Held(); err != nil {
		return err
	}
	return r.db.Ping(ctx)
}

// newHandler composes everything the agent serves. /healthz is always open;
// everything else (/readyz, /metrics and the API) sits behind the
// authentication when it is on. Every request gets an id (RequestID).
func newHandler(db interface{ Ping(context.Context) error }, apiHandler, metricsHandler http.Handler, auth *api.Authenticator) http.Handler {
	open := http.NewServeMux()
	open.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})

	guarded := http.NewServeMux()
	guarded.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := db.Ping(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	guarded.Handle("GET /metrics", metricsHandler)
	guarded.Handle("/", apiHandler)

	var h http.Handler = guarded
	if auth != nil {
		h = api.Authenticate(auth, h)
	}
	open.Handle("/", h)
	return api.RequestID(open)
}

// httpSecurity checks the authentication and TLS flags: http_basic needs an
// htpasswd file; noauth is refused on an address other machines can reach
// unless --allow-remote-noauth says so; TLS needs a certificate and its key.
func (c serveConfig) httpSecurity() (*api.Authenticator, *tls.Config, error) {
	var auth *api.Authenticator
	switch c.authStrategy {
	case "noauth":
		if c.htpasswd != "" {
			return nil, nil, &usageError{errors.New("--htpasswd needs --auth-strategy http_basic")}
		}
		if !isLoopback(c.listen) && !c.allowRemoteNoauth {
			return nil, nil, &usageError{fmt.Errorf("refusing to serve without authentication on %s, an address other machines can reach: "+
				"use --auth-strategy http_basic --htpasswd FILE, listen on 127.0.0.1, or force it with --allow-remote-noauth", c.listen)}
		}
	case "http_basic":
		if c.htpasswd == "" {
			return nil, nil, &usageError{errors.New("--auth-strategy http_basic needs --htpasswd FILE (bcrypt hashes: htpasswd -B)")}
		}
		var err error
		if auth, err = api.LoadHtpasswd(c.htpasswd); err != nil {
			return nil, nil, &usageError{err}
		}
	default:
		return nil, nil, &usageError{fmt.Errorf("--auth-strategy must be noauth or http_basic, not %q", c.authStrategy)}
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, nil, &usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	if c.tlsCert == "" {
		return auth, nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
	if err != nil {
		return nil, nil, &usageError{fmt.Errorf("--tls-cert/--tls-key: %w", err)}
	}
	return auth, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// isLoopback reports whether a listen address is reachable from this
// machine only.
func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
