package redfish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Name is the name the driver registers under.
const Name = "redfish"

// DefaultMaxRequestsPerBMC is Options.MaxRequestsPerBMC's default.
const DefaultMaxRequestsPerBMC = 4

// Options tune the driver. The zero value gives the defaults documented on
// each field.
type Options struct {
	// Logger receives debug and warning logs (default: discarded). It
	// never receives credentials.
	Logger *slog.Logger
	// AuthType is the authentication used when a node's driver_info has no
	// redfish_auth_type (default auto: a session, or HTTP Basic where the
	// BMC has no session service).
	AuthType AuthType
	// RequestTimeout bounds each HTTP request when a node's driver_info has
	// no redfish_timeout (default 30s). A hung request that times out is
	// retried if it was idempotent.
	RequestTimeout time.Duration
	// PowerTimeout is how long SetPowerState waits for the target state
	// when the caller passes zero (default 60s, Ironic's).
	PowerTimeout time.Duration
	// PollInterval is the first pause between power state polls; it grows
	// by half each time up to MaxPollInterval (defaults 250ms and 5s).
	PollInterval, MaxPollInterval time.Duration
	// MaxRetries is how many times a failed request is sent again (default
	// 3; negative: never). See the package documentation for which
	// failures are retried.
	MaxRetries int
	// RetryBackoff is the first wait before a retry, doubled for each
	// further one, with jitter (default 250ms). A longer Retry-After wins.
	RetryBackoff time.Duration
	// MaxRetryAfter caps the wait a Retry-After header can ask (default 30s).
	MaxRetryAfter time.Duration
	// MaxRequestsPerBMC bounds the requests in flight to one BMC (default
	// DefaultMaxRequestsPerBMC).
	MaxRequestsPerBMC int
	// IdleTimeout closes (logging out) the client of a BMC that no call
	// used for that long (default 15m).
	IdleTimeout time.Duration
	// MaxIdleConns bounds the idle keep-alive connections kept across all
	// BMCs (default 64); beyond it the oldest is closed. A fleet synced
	// every minute then reconnects to most BMCs once a cycle instead of
	// holding a connection (and its buffers and goroutines) per BMC. The
	// connections a call reuses are the ones it parked a moment ago (a
	// read's next requests, a power poll's next GET), the youngest of the
	// pool; the oldest are those of calls that have ended, which a BMC read
	// every minute or three never reuses: 64 keep the first and let the
	// others go (each holds about 40 KB: its buffers and two goroutines).
	MaxIdleConns int
	// IdleConnTimeout closes a keep-alive connection unused for that long
	// (default 30s).
	IdleConnTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.AuthType == "" {
		o.AuthType = AuthAuto
	}
	setDefault(&o.RequestTimeout, 30*time.Second)
	setDefault(&o.PowerTimeout, 60*time.Second)
	setDefault(&o.PollInterval, 250*time.Millisecond)
	setDefault(&o.MaxPollInterval, 5*time.Second)
	setDefault(&o.RetryBackoff, 250*time.Millisecond)
	setDefault(&o.MaxRetryAfter, 30*time.Second)
	setDefault(&o.IdleTimeout, 15*time.Minute)
	setDefault(&o.IdleConnTimeout, 30*time.Second)
	if o.MaxIdleConns <= 0 {
		o.MaxIdleConns = 64
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = 3
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.MaxRequestsPerBMC <= 0 {
		o.MaxRequestsPerBMC = DefaultMaxRequestsPerBMC
	}
	return o
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

// Driver is the Redfish driver. It is safe for concurrent use; create it
// with New and stop it with Close.
type Driver struct {
	opts Options
	log  *slog.Logger
	// sleep waits between retries; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error

	mu         sync.Mutex
	clients    map[string]*client
	transports map[string]*http.Client // and their transports, by TLS settings
	closed     bool
	lastSweep  time.Time
	retiring   sync.WaitGroup // clients being logged out in the background

	stats struct {
		requests, retries, logins, logouts atomic.Uint64
	}
	fired sync.Map // behaviour name -> *atomic.Uint64 (quirks.go)
}

// New returns a Redfish driver with no clients yet: a BMC's client is made
// by the first call that needs it.
func New(opts Options) *Driver {
	opts = opts.withDefaults()
	return &Driver{opts: opts, log: opts.Logger, sleep: sleepCtx, clients: make(map[string]*client),
		transports: make(map[string]*http.Client)}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Name implements drivers.Driver.
func (d *Driver) Name() string { return Name }

// Validate implements drivers.Driver: it checks the node's driver_info for
// any interface (they all need the same), reporting every problem at once.
// It reads a CA bundle named by redfish_verify_ca but never contacts the BMC.
func (d *Driver) Validate(iface drivers.Interface, n drivers.Node) error {
	t, p := parseInfo(n.Info, &d.opts)
	if t.caPath != "" {
		if _, err := loadCAs(t.caPath); err != nil {
			p.Addf("%s: %v", InfoVerifyCA, err)
		}
	}
	return p.Err(Name, iface)
}

// Stats are counters of the driver's work since New, for tests, benchmarks
// and metrics.
type Stats struct {
	// Clients is the number of BMC clients held now.
	Clients int
	// Requests counts HTTP requests sent, retries included.
	Requests uint64
	// Retries counts requests sent again after a failure.
	Retries uint64
	// Logins and Logouts count sessions created and deleted.
	Logins, Logouts uint64
	// Behaviours counts, by name, the BMC behaviours beyond the standard
	// that the driver handled (quirks.go).
	Behaviours map[string]uint64
}

// Stats returns the driver's counters.
func (d *Driver) Stats() Stats {
	d.mu.Lock()
	n := len(d.clients)
	d.mu.Unlock()
	return Stats{
		Clients:  n,
		Requests: d.stats.requests.Load(),
		Retries:  d.stats.retries.Load(),
		Logins:   d.stats.logins.Load(),
		Logouts:  d.stats.logouts.Load(),

		Behaviours: d.firedCounts(),
	}
}

// run performs one operation on a node's BMC: it parses the driver_info,
// finds the BMC's client and runs fn with a call bound to ctx. Any error is
// returned as a *drivers.DriverError naming op and the BMC.
func (d *Driver) run(ctx context.Context, n drivers.Node, iface drivers.Interface, op string, fn func(*call) error) error {
	t, p := parseInfo(n.Info, &d.opts)
	if err := p.Err(Name, iface); err != nil {
		return &drivers.DriverError{Driver: Name, Op: op, BMC: t.display(), Err: err}
	}
	c, err := d.client(t)
	if err != nil {
		return &drivers.DriverError{Driver: Name, Op: op, BMC: t.display(), Err: err}
	}
	defer c.inflight.Add(-1)
	cl := &call{ctx: ctx, c: c, t: t, timeout: t.timeout}
	if err := fn(cl); err != nil {
		return &drivers.DriverError{Driver: Name, Op: op, BMC: t.display(), Err: cl.explain(err)}
	}
	return nil
}

// client returns the client for t, making it on first use, and counts the
// caller in (the caller must decrement inflight).
func (d *Driver) client(t *target) (*client, error) {
	key := t.clientKey()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errClosed
	}
	d.sweepLocked()
	c, ok := d.clients[key]
	if !ok {
		var err error
		if c, err = newClient(d, t); err != nil {
			return nil, &drivers.InvalidInfoError{Driver: Name, Interface: drivers.PowerInterface, Problems: []string{fmt.Sprintf("%s: %v", InfoVerifyCA, err)}}
		}
		d.clients[key] = c
	} else if sess, token := c.setPassword(t.password); sess != "" {
		// The node's password changed: the old session belongs to the old
		// credentials. Delete it in the background.
		d.background(func(ctx context.Context) error { return c.deleteSession(ctx, sess, token) })
	}
	c.inflight.Add(1)
	c.touch()
	return c, nil
}

// sweepLocked retires the clients that no call used for IdleTimeout. It runs
// at most every IdleTimeout/4, from client lookups, so that an idle agent
// needs no timer goroutine.
func (d *Driver) sweepLocked() {
	now := time.Now()
	if now.Sub(d.lastSweep) < d.opts.IdleTimeout/4 {
		return
	}
	d.lastSweep = now
	limit := now.Add(-d.opts.IdleTimeout).UnixNano()
	for k, c := range d.clients {
		if c.inflight.Load() == 0 && c.lastUsed.Load() < limit {
			delete(d.clients, k)
			d.retire(c)
		}
	}
}

// retire logs a client out in the background.
func (d *Driver) retire(c *client) {
	d.background(c.logout)
}

// background runs a logout on its own deadline in a goroutine that Close
// waits for; a failure is logged (it has no caller to go to).
func (d *Driver) background(fn func(context.Context) error) {
	d.retiring.Add(1)
	go func() {
		defer d.retiring.Done()
		ctx, cancel := context.WithTimeout(context.Background(), d.opts.RequestTimeout)
		defer cancel()
		if err := fn(ctx); err != nil {
			d.log.Warn("redfish background logout failed", "err", err)
		}
	}()
}

// Close implements drivers.Closer: it logs out every session the driver
// holds and closes idle connections. Calls made afterwards fail.
func (d *Driver) Close(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	clients := d.clients
	d.clients = make(map[string]*client)
	d.mu.Unlock()

	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 64) // logouts in flight
	)
	for _, c := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.logout(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	d.retiring.Wait()
	d.mu.Lock()
	for _, hc := range d.transports {
		hc.CloseIdleConnections()
	}
	d.mu.Unlock()
	return errors.Join(errs...)
}

// Interface guards.
var (
	_ drivers.Driver           = (*Driver)(nil)
	_ drivers.Closer           = (*Driver)(nil)
	_ drivers.Checker          = (*Driver)(nil)
	_ drivers.PowerGetter      = (*Driver)(nil)
	_ drivers.PowerSetter      = (*Driver)(nil)
	_ drivers.NMIInjector      = (*Driver)(nil)
	_ drivers.BootDeviceGetter = (*Driver)(nil)
	_ drivers.BootDeviceSetter = (*Driver)(nil)
	_ drivers.BootModeGetter   = (*Driver)(nil)
	_ drivers.BootModeSetter   = (*Driver)(nil)
	_ drivers.MediaGetter      = (*Driver)(nil)
	_ drivers.MediaInserter    = (*Driver)(nil)
	_ drivers.MediaEjecter     = (*Driver)(nil)
)
