package simulator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Simulator. The zero value is one native system with
// user "admin" and password "password", no power delay and no faults.
type Config struct {
	// Systems is the number of native systems (default 1). Ignored with
	// MockupDir, where the bundle decides.
	Systems int
	// Username and Password are the credentials every system accepts unless
	// given its own with System.SetCredentials (default admin/password).
	Username, Password string
	// PowerDelay is how long a power transition takes; meanwhile the power
	// state reads the old value.
	PowerDelay time.Duration
	// OSIgnoresGracefulShutdown starts every system with an OS that ignores
	// graceful shutdown and restart requests.
	OSIgnoresGracefulShutdown bool
	// Fault is the fleet-wide fault at start.
	Fault Fault
	// MockupDir, if set, serves a DMTF mockup bundle instead of native
	// systems (see mockup.go).
	MockupDir string
	// Profile is the vendor profile of every native system (default
	// "generic"; see Profiles and profile.go).
	Profile string
	// ProfileMix, if set, mixes profiles in one fleet instead: contiguous
	// blocks in the order given, sized by weight (see ParseProfiles).
	ProfileMix []ProfileShare
	// PortPerSystem makes Start also give every system its own listener,
	// where it looks like a BMC serving one system.
	PortPerSystem bool
	// RequestLogSize is how many mutations each system's request log keeps
	// (default 64; negative keeps none; overlaps are counted regardless).
	RequestLogSize int
	// SessionTimeout expires unused sessions (default 30 minutes).
	SessionTimeout time.Duration
	// MaxSessions bounds the live sessions (default 4 per system, at least
	// 1024); beyond it session creation fails with 503.
	MaxSessions int
	// Logger receives the simulator's logs (default: discarded). Credentials
	// are never logged.
	Logger *slog.Logger
	// Now is the clock for power transitions and sessions (default
	// time.Now). Tests can move time forward with it.
	Now func() time.Time
	// TLS, if set, makes Start serve HTTPS (HTTP/1.1) on every listener
	// (see SelfSignedCert); URLs then begin with https://.
	TLS *tls.Config
	// Events tunes the EventService's deliveries (eventservice.go).
	Events EventConfig
}

// fleet is what all systems of a simulator share.
type fleet struct {
	now        func() time.Time
	powerDelay time.Duration
	logSize    int
	creds      *credentials
	fault      atomic.Pointer[Fault]
	events     *eventService

	credMu sync.Mutex
	extra  []*credentials // per-system credentials, for session logins
}

func (f *fleet) addCredentials(c *credentials) {
	f.credMu.Lock()
	defer f.credMu.Unlock()
	for _, e := range f.extra {
		if e.same(c) {
			return
		}
	}
	f.extra = append(f.extra, c)
}

// findCredentials returns the credentials object matching user and
// password among the default and every per-system set.
func (f *fleet) findCredentials(user, password string) *credentials {
	sum := credSum(user, password)
	if f.creds.matchSum(sum) {
		return f.creds
	}
	f.credMu.Lock()
	defer f.credMu.Unlock()
	for _, c := range f.extra {
		if c.matchSum(sum) {
			return c
		}
	}
	return nil
}

// Simulator serves a fleet of simulated Redfish BMCs. Create it with New,
// serve it with Start (or mount Handler yourself), stop it with Close.
type Simulator struct {
	cfg      Config
	log      *slog.Logger
	fleet    *fleet
	systems  []*System
	byID     map[string]*System
	model    model
	sessions *sessionStore
	done     chan struct{} // closed by Close: releases hung requests
	inflight atomic.Int64  // requests being handled
	requests atomic.Int64  // Redfish requests received (Requests)
	bufs     sync.Pool     // *[]byte render buffers
	links    linkCache     // Link headers by @odata.type
	admin    *http.ServeMux

	mu        sync.Mutex
	state     int // 0 new, 1 started, 2 closed
	srv       *http.Server
	baseURL   string
	sysURLs   map[*System]string // PortPerSystem: each system's own base URL
	listeners []net.Listener
	serveWG   sync.WaitGroup
	shutOnce  sync.Once
}

// New builds a simulator; it does not listen yet.
func New(cfg Config) (*Simulator, error) {
	if cfg.Systems == 0 {
		cfg.Systems = 1
	}
	if cfg.Systems < 0 {
		return nil, &ValueError{Property: "Systems", Value: strconv.Itoa(cfg.Systems), Allowed: []string{">= 1"}}
	}
	if cfg.Username == "" && cfg.Password == "" {
		cfg.Username, cfg.Password = "admin", "password"
	}
	if cfg.RequestLogSize == 0 {
		cfg.RequestLogSize = 64
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 30 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := cfg.Fault.Validate(); err != nil {
		return nil, err
	}
	f := &fleet{
		now: cfg.Now, powerDelay: cfg.PowerDelay, logSize: cfg.RequestLogSize,
		creds: newCredentials(cfg.Username, cfg.Password),
	}
	if !cfg.Fault.IsZero() {
		fc := cfg.Fault
		f.fault.Store(&fc)
	}
	s := &Simulator{cfg: cfg, log: cfg.Logger, fleet: f, done: make(chan struct{})}
	f.events = newEventService(cfg.Events, cfg.Logger, func(sys *System) string { return s.model.systemPath(sys) })
	s.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	var err error
	if cfg.MockupDir != "" {
		s.model, s.systems, err = loadMockup(f, cfg.MockupDir)
	} else {
		var profs []*Profile
		profs, err = assignProfiles(cfg.Systems, cfg.Profile, cfg.ProfileMix)
		if err == nil {
			s.model, s.systems = newNative(f, profs)
		}
	}
	if err != nil {
		return nil, err
	}
	s.byID = make(map[string]*System, len(s.systems))
	for _, sys := range s.systems {
		if cfg.OSIgnoresGracefulShutdown {
			sys.osIgnores = true
		}
		s.byID[sys.id] = sys
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = max(1024, 4*len(s.systems))
		s.cfg.MaxSessions = cfg.MaxSessions
	}
	s.sessions = newSessionStore(cfg.SessionTimeout, cfg.MaxSessions, cfg.Now)
	s.admin = s.adminMux()
	return s, nil
}

// SystemIDs returns the ids of all systems, in order.
func (s *Simulator) SystemIDs() []string {
	ids := make([]string, len(s.systems))
	for i, sys := range s.systems {
		ids[i] = sys.id
	}
	return ids
}

// Len returns the number of systems.
func (s *Simulator) Len() int { return len(s.systems) }

// System returns the state of the system with the given id, or nil.
func (s *Simulator) System(id string) *System { return s.byID[id] }

func (s *Simulator) lookup(id string) (*System, error) {
	if sys := s.byID[id]; sys != nil {
		return sys, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownSystem, id)
}

// SetFault sets the fault of one system (see System.SetFault).
func (s *Simulator) SetFault(id string, f Fault) error {
	sys, err := s.lookup(id)
	if err != nil {
		return err
	}
	return sys.SetFault(f)
}

// SetFleetFault sets the fault of every system that has none of its own.
func (s *Simulator) SetFleetFault(f Fault) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if f.IsZero() {
		s.fleet.fault.Store(nil)
		return nil
	}
	s.fleet.fault.Store(&f)
	return nil
}

// FleetFault returns the fleet-wide fault.
func (s *Simulator) FleetFault() Fault {
	if f := s.fleet.fault.Load(); f != nil {
		return *f
	}
	return Fault{}
}

// Overlaps returns the overlap count of a system's mutations (see
// System.BeginMutation).
func (s *Simulator) Overlaps(id string) (int64, error) {
	sys, err := s.lookup(id)
	if err != nil {
		return 0, err
	}
	return sys.Overlaps(), nil
}

// RequestLog returns a system's request log (see System.RequestLog).
func (s *Simulator) RequestLog(id string) ([]LogEntry, error) {
	sys, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	return sys.RequestLog(), nil
}

// Handler returns the HTTP handler of the whole fleet: the Redfish service
// under /redfish and the admin endpoint under /sim/. Use it with
// httptest.NewServer or any server; Start is the batteries-included way.
func (s *Simulator) Handler() http.Handler { return &handler{sim: s} }

// SystemHandler returns a handler that looks like a BMC serving only the
// given system (what each port serves with PortPerSystem). It has no admin
// endpoint.
func (s *Simulator) SystemHandler(id string) (http.Handler, error) {
	sys, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	return &handler{sim: s, scope: sys}, nil
}

// scopeKey carries a per-system listener's system in a connection context.
type scopeKey struct{}

// Start listens on addr (host:port; port 0 picks one) and serves until ctx
// ends or Close is called. With Config.PortPerSystem every system also gets
// its own listener on the same host: port+1+i when addr's port is not 0,
// otherwise a port picked by the system.
func (s *Simulator) Start(ctx context.Context, addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case 1:
		return errors.New("simulator: already started")
	case 2:
		return ErrClosed
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("simulator: listen address: %w", err)
	}
	base, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("simulator: listen port: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	scheme := "http://"
	if s.cfg.TLS != nil {
		scheme = "https://"
	}
	s.listeners = append(s.listeners, ln)
	s.baseURL = scheme + ln.Addr().String()
	if s.cfg.PortPerSystem {
		s.sysURLs = make(map[*System]string, len(s.systems))
		for i, sys := range s.systems {
			port := 0
			if base != 0 {
				port = base + 1 + i
			}
			l, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				s.closeListenersLocked()
				return fmt.Errorf("simulator: port for system %s: %w", sys.id, err)
			}
			s.listeners = append(s.listeners, &systemListener{Listener: l, sys: sys})
			s.sysURLs[sys] = scheme + l.Addr().String()
		}
	}
	fleetHandler := &handler{sim: s}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sys, ok := r.Context().Value(scopeKey{}).(*System); ok {
				(&handler{sim: s, scope: sys}).ServeHTTP(w, r)
				return
			}
			fleetHandler.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn()
			}
			if sc, ok := c.(*systemConn); ok {
				return context.WithValue(ctx, scopeKey{}, sc.sys)
			}
			return ctx
		},
	}
	for _, l := range s.listeners {
		s.serveWG.Add(1)
		go func() {
			defer s.serveWG.Done()
			_ = s.srv.Serve(tlsListener(l, s.cfg.TLS)) // returns http.ErrServerClosed on Close
		}()
	}
	s.state = 1
	s.serveWG.Add(1)
	go func() {
		defer s.serveWG.Done()
		select {
		case <-ctx.Done():
			s.shutdown()
		case <-s.done:
		}
	}()
	s.log.Info("simulator listening", "url", s.baseURL, "systems", len(s.systems),
		"port_per_system", s.cfg.PortPerSystem, "mockup", s.cfg.MockupDir)
	return nil
}

func (s *Simulator) closeListenersLocked() {
	for _, l := range s.listeners {
		_ = l.Close()
	}
	s.listeners = nil
}

// shutdown closes the listeners and every connection and releases hung
// requests, without waiting.
func (s *Simulator) shutdown() {
	s.shutOnce.Do(func() {
		close(s.done)
		s.mu.Lock()
		srv := s.srv
		if srv == nil {
			s.closeListenersLocked()
		}
		s.state = 2
		s.mu.Unlock()
		if srv != nil {
			_ = srv.Close()
		}
	})
}

// Close stops serving: it closes the listeners and every connection,
// releases hung requests and waits for the handlers to return. It is safe to
// call more than once and without Start.
func (s *Simulator) Close() error {
	s.shutdown()
	s.serveWG.Wait()
	// Handlers see s.done or their closed connection; wait for them so that
	// nothing of the simulator outlives Close.
	deadline := time.Now().Add(5 * time.Second)
	for s.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s.fleet.events.close() // event deliveries and their timers
	return nil
}

// Requests returns the number of Redfish requests the simulator received
// (the admin endpoint's are not counted): a test proves that something made
// no BMC request by reading it before and after.
func (s *Simulator) Requests() int64 { return s.requests.Load() }

// Sessions returns the number of Redfish sessions the simulator holds
// (expired ones included until they are swept), as GET /sim reports it: a
// client that leaks sessions shows here.
func (s *Simulator) Sessions() int { return s.sessions.count() }

// URL returns the base URL of the service (http://host:port), empty before
// Start.
func (s *Simulator) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}

// Endpoint returns the service URL a client should use for the system: its
// own port with PortPerSystem, else the fleet's. Empty before Start or for
// an unknown id.
func (s *Simulator) Endpoint(id string) string {
	sys := s.byID[id]
	if sys == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.sysURLs[sys]; ok {
		return u
	}
	return s.baseURL
}

// SystemURL returns the full URL of the system's ComputerSystem resource,
// e.g. http://127.0.0.1:8000/redfish/v1/Systems/<id>. Empty before Start or
// for an unknown id.
func (s *Simulator) SystemURL(id string) string {
	ep := s.Endpoint(id)
	if ep == "" {
		return ""
	}
	sys := s.byID[id]
	s.mu.Lock()
	_, own := s.sysURLs[sys]
	s.mu.Unlock()
	if p, ok := sys.ownSystemPath(); own && ok {
		return ep + p // its own port shows the vendor's ids
	}
	return ep + s.model.systemPath(sys)
}

// SystemPath returns the path of the system's ComputerSystem resource.
func (s *Simulator) SystemPath(id string) string {
	sys := s.byID[id]
	if sys == nil {
		return ""
	}
	return s.model.systemPath(sys)
}

// systemListener tags accepted connections with their system and resets
// connections at once while the system is unreachable.
type systemListener struct {
	net.Listener
	sys *System
}

type systemConn struct {
	net.Conn
	sys *System
}

func (l *systemListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if f := l.sys.effectiveFault(); (f != nil && f.Unreachable) || l.sys.bmcRefusing() {
			resetConn(c)
			continue
		}
		return &systemConn{Conn: c, sys: l.sys}, nil
	}
}

// resetConn closes c with a TCP reset where it can.
func resetConn(c net.Conn) {
	if tc, ok := rawConn(c).(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// Interface guards.
var (
	_ net.Listener = (*systemListener)(nil)
	_ net.Conn     = (*systemConn)(nil)
)
