package ipmisim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/bmc-agent/bmc-agent/simulator"
)

// Config configures the IPMI face. The zero value serves every system with
// user "admin" and password "password", the simulator's own defaults.
type Config struct {
	// Username and Password are the IPMI credentials of every system,
	// unless Face.SetCredentials gave one its own. IPMI's RMCP+ login
	// needs the password itself (it keys the handshake's HMACs), which
	// package simulator keeps only as a digest, so the face is told it.
	Username, Password string
	// MaxSessions bounds the RMCP+ sessions of one BMC (default 32; the
	// IPMI specification asks for at least 4). Sessions that never finish
	// their handshake, as after a refused login, hold a slot until they
	// are idle for a minute, as on a real BMC.
	MaxSessions int
	// BMCResetTime is how long a BMC reset (Cold or Warm Reset) keeps the
	// BMC silent, as a real BMC reboots; zero answers at once again.
	BMCResetTime time.Duration
	// Logger receives the face's logs (default: discarded). Credentials
	// are never logged.
	Logger *slog.Logger
}

// Face serves IPMI v2.0 over LAN (RMCP+, cipher suites 3 and 17) for the
// systems of a simulator, each on its own UDP port, acting on the same
// *simulator.System the Redfish face acts on. Create it with New, serve it
// with Start, stop it with Close.
type Face struct {
	sim *simulator.Simulator
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	bmcs    map[string]*sysBMC
	own     map[string]credentials // per-system credentials
	started bool

	done      chan struct{} // closed by shutdown: releases held requests
	closeOnce sync.Once
	servers   sync.WaitGroup // Serve loops
	watchers  sync.WaitGroup // the goroutine that closes the face when Start's context ends

	// inflight counts requests inside the fault middleware, so that Close
	// returns only after held and delayed requests are released.
	inflightMu sync.Mutex
	inflight   int
	closing    bool
	idle       *sync.Cond
}

// New builds the IPMI face of sim's systems; it does not listen yet.
func New(sim *simulator.Simulator, cfg Config) *Face {
	if cfg.Username == "" && cfg.Password == "" {
		cfg.Username, cfg.Password = "admin", "password"
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 32
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Face{sim: sim, cfg: cfg, log: log.With("face", "ipmi"), bmcs: make(map[string]*sysBMC), done: make(chan struct{})}
	f.idle = sync.NewCond(&f.inflightMu)
	return f
}

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("ipmisim: closed")

// Start gives every system its own UDP listener on addr's host: port+i for
// the i-th system when addr's port is not 0, a port the kernel picks
// otherwise. It serves until ctx ends or Close is called. On error nothing
// is left listening.
func (f *Face) Start(ctx context.Context, addr string) error {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("ipmisim: listen address: %w", err)
	}
	base, err := strconv.Atoi(portStr)
	if err != nil || base < 0 || base > 65535 {
		return fmt.Errorf("ipmisim: bad port %q", portStr)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.done:
		return ErrClosed
	default:
	}
	if f.started {
		return errors.New("ipmisim: already started")
	}
	ids := f.sim.SystemIDs()
	var started []*sysBMC
	for i, id := range ids {
		port := 0
		if base != 0 {
			port = base + i
			if port > 65535 {
				err = fmt.Errorf("ipmisim: no port left for system %s", id)
				break
			}
		}
		var uc *net.UDPConn
		uc, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(host), Port: port})
		if err != nil && net.ParseIP(host) == nil {
			err = fmt.Errorf("ipmisim: host %q must be an IP address", host)
		}
		if err != nil {
			err = fmt.Errorf("ipmisim: system %s: %w", id, err)
			break
		}
		started = append(started, f.newSysBMC(f.sim.System(id), i, uc))
	}
	if err != nil {
		for _, b := range started {
			_ = b.conn.Close()
		}
		return err
	}
	for _, b := range started {
		f.bmcs[b.sys.ID()] = b
		f.servers.Add(1)
		go func() {
			defer f.servers.Done()
			if err := b.srv.Serve(context.Background()); err != nil {
				f.log.Warn("IPMI server stopped", "system", b.sys.ID(), "error", err)
			}
		}()
	}
	f.started = true
	f.watchers.Add(1)
	go func() {
		defer f.watchers.Done()
		select {
		case <-ctx.Done():
			f.shutdown()
		case <-f.done:
		}
	}()
	f.log.Info("IPMI face listening", "systems", len(started), "host", host)
	return nil
}

// Addr returns the UDP address (host:port) of a system's BMC, "" before
// Start or for an unknown id.
func (f *Face) Addr(id string) string {
	if b := f.bmc(id); b != nil {
		return b.conn.LocalAddr().String()
	}
	return ""
}

// Port returns the UDP port of a system's BMC, 0 before Start or for an
// unknown id.
func (f *Face) Port(id string) int {
	if b := f.bmc(id); b != nil {
		return b.conn.LocalAddr().(*net.UDPAddr).Port
	}
	return 0
}

func (f *Face) bmc(id string) *sysBMC {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bmcs[id]
}

// SetCredentials gives one system's BMC its own IPMI user name and password
// (the Redfish face is told separately, with System.SetCredentials). It
// works before and after Start.
func (f *Face) SetCredentials(id, username, password string) error {
	sys := f.sim.System(id)
	if sys == nil {
		return fmt.Errorf("%w: %q", simulator.ErrUnknownSystem, id)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.own == nil {
		f.own = make(map[string]credentials)
	}
	c := credentials{username, password}
	f.own[id] = c
	if b := f.bmcs[id]; b != nil {
		return b.setUser(c)
	}
	return nil
}

// BMCResets returns how many BMC resets (Cold or Warm Reset) a system's BMC
// received.
func (f *Face) BMCResets(id string) int {
	if b := f.bmc(id); b != nil {
		return int(b.resets.Load())
	}
	return 0
}

// SetDCMI gives one system's BMC the DCMI power reading (the default) or
// takes it away: without, it answers DCMI commands with Invalid Command, as
// a BMC that does not implement DCMI does. Only after Start.
func (f *Face) SetDCMI(id string, enabled bool) error {
	b := f.bmc(id)
	if b == nil {
		return fmt.Errorf("%w: %q", simulator.ErrUnknownSystem, id)
	}
	b.noDCMI.Store(!enabled)
	return nil
}

// Requests returns how many IPMI requests a system's BMC received since
// Start, by command name ("Get SDR", "Get Sensor Reading", "Get DCMI Power
// Reading", ..., "NetFn 0x2c Cmd 0x00" for commands the face has no
// handler for), session setup and teardown included: what a client's
// operation costs the BMC. RMCP+ session-opening messages (RAKP), which
// are not commands, are not counted.
func (f *Face) Requests(id string) map[string]int {
	b := f.bmc(id)
	if b == nil {
		return nil
	}
	b.reqMu.Lock()
	defer b.reqMu.Unlock()
	return maps.Clone(b.requests)
}

// Close stops serving: it closes every listener, releases held and delayed
// requests and waits for the servers and handlers to return. It is safe to
// call more than once and without Start.
func (f *Face) Close() error {
	f.shutdown()
	f.watchers.Wait()
	return nil
}

func (f *Face) shutdown() {
	f.closeOnce.Do(func() {
		close(f.done)
		f.mu.Lock()
		bmcs := make([]*sysBMC, 0, len(f.bmcs))
		for _, b := range f.bmcs {
			bmcs = append(bmcs, b)
		}
		f.mu.Unlock()
		for _, b := range bmcs {
			_ = b.srv.Close() // closes the listener too
		}
		f.servers.Wait()
		f.inflightMu.Lock()
		f.closing = true
		for f.inflight > 0 {
			f.idle.Wait()
		}
		f.inflightMu.Unlock()
	})
}

// enter counts a request into the fault middleware; false once closing.
func (f *Face) enter() bool {
	f.inflightMu.Lock()
	defer f.inflightMu.Unlock()
	if f.closing {
		return false
	}
	f.inflight++
	return true
}

func (f *Face) leave() {
	f.inflightMu.Lock()
	defer f.inflightMu.Unlock()
	f.inflight--
	if f.inflight == 0 {
		f.idle.Broadcast()
	}
}

// credentials are one BMC user's name and password.
type credentials struct{ user, password string }

// credentialsOf returns the credentials of a system; f.mu must be held.
func (f *Face) credentialsOf(id string) credentials {
	if c, ok := f.own[id]; ok {
		return c
	}
	return credentials{f.cfg.Username, f.cfg.Password}
}
