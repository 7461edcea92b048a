package redfish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// client is the driver's connection to one BMC for one user and one set of
// TLS settings, shared by every node, call and task that uses them: the HTTP
// client of its TLS settings (connection reuse), the session token, and the
// semaphore that bounds concurrent requests to the BMC. A fleet has one per
// BMC, so it holds nothing it can share or make when needed.
//
// It keeps no caller's context: every request carries the context of the
// call that makes it (see call).
type client struct {
	d        *Driver
	endpoint string
	username string
	auth     AuthType
	hc       *http.Client
	sem      chan struct{}

	// loginMu serialises logins; a channel so that waiting respects the
	// caller's context.
	loginMu chan struct{}

	mu         sync.Mutex
	password   string
	basic      bool            // auto mode settled on HTTP Basic
	token      string          // session token, "" when not logged in
	sessionURI string          // the session to DELETE at logout
	system     string          // the BMC's only system, once discovered
	expand     *expandFeatures // the BMC's $expand support, once read (telemetry.go)
	closed     bool
	actionInfo map[string][]string // allowable values read from ActionInfo resources
	sticky     sync.Map            // system path -> bootChange re-applied before each power on (bootonce.go)

	inflight atomic.Int32
	lastUsed atomic.Int64 // unix nanoseconds
}

func newClient(d *Driver, t *target) (*client, error) {
	hc, err := d.httpClientLocked(t)
	if err != nil {
		return nil, err
	}
	n := d.opts.MaxRequestsPerBMC
	c := &client{
		d:        d,
		endpoint: t.endpoint,
		username: t.username,
		auth:     t.auth,
		password: t.password,
		sem:      make(chan struct{}, n),
		loginMu:  make(chan struct{}, 1),
		hc:       hc,
	}
	c.touch()
	return c, nil
}

// httpClientLocked returns the HTTP client (and transport) for t's TLS
// settings, shared by every BMC that has the same. Sharing bounds the idle
// connections the agent keeps across the whole fleet (Options.MaxIdleConns,
// oldest closed first) where a transport per BMC would keep one or more per
// BMC: at 10,000 BMCs that was half a gigabyte. d.mu must be held.
func (d *Driver) httpClientLocked(t *target) (*http.Client, error) {
	key := t.tlsKey()
	if hc, ok := d.transports[key]; ok {
		return hc, nil
	}
	tc := &tls.Config{InsecureSkipVerify: t.insecure} //nolint:gosec // the node's redfish_verify_ca=false asks for it
	if t.caPath != "" {
		pool, err := loadCAs(t.caPath)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   30 * time.Second,
		MaxIdleConns:          d.opts.MaxIdleConns,
		MaxIdleConnsPerHost:   d.opts.MaxRequestsPerBMC,
		IdleConnTimeout:       d.opts.IdleConnTimeout,
		ExpectContinueTimeout: time.Second,
		// A request is a line and a few headers (and a small JSON body
		// for an action): 1 KB instead of net/http's 4 KB writer per
		// connection; a larger body is written through. At 300
		// telemetry reads in flight, about 1,000 connections are open.
		WriteBufferSize: 1 << 10,
	}
	hc := &http.Client{
		Transport: tr,
		// A redirect could carry the session token to another host; a
		// BMC has no reason to send one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	d.transports[key] = hc
	return hc, nil
}

func (c *client) touch() { c.lastUsed.Store(time.Now().UnixNano()) }

// credentials returns the password and its scrubber (made on demand: only
// an error needs one).
func (c *client) credentials() (string, func(string) string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.password, scrubber(c.password)
}

// setPassword takes a node's (possibly changed) password. A change drops
// the session so that the next request logs in with the new one.
func (c *client) setPassword(pw string) (oldSession, oldToken string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pw == c.password {
		return "", ""
	}
	c.password = pw
	oldSession, oldToken = c.sessionURI, c.token
	c.token, c.sessionURI, c.basic = "", "", false
	return oldSession, oldToken
}

// authHeader returns the header that authenticates a request, logging in
// first when the client uses sessions and has none.
func (c *client) authHeader(cl *call) (name, value string, err error) {
	if c.username == "" {
		return "", "", nil
	}
	c.mu.Lock()
	basic, token, pw := c.auth == AuthBasic || c.basic, c.token, c.password
	c.mu.Unlock()
	if basic {
		req := http.Request{Header: http.Header{}}
		req.SetBasicAuth(c.username, pw)
		return "Authorization", req.Header.Get("Authorization"), nil
	}
	if token == "" {
		if err := c.login(cl, ""); err != nil {
			return "", "", err
		}
		return c.authHeader(cl) // now logged in, or settled on Basic
	}
	return "X-Auth-Token", token, nil
}

// usesSession reports whether token is the client's current session token.
func (c *client) usesSession(token string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return token != "" && c.token == token
}

// login creates a session unless another caller replaced the stale token
// already. In auto mode a BMC without a usable session service makes the
// client use HTTP Basic from then on.
func (c *client) login(cl *call, stale string) error {
	select {
	case c.loginMu <- struct{}{}:
	case <-cl.ctx.Done():
		return cl.ctxError("POST", "(session login)", cl.ctx.Err(), 1)
	}
	defer func() { <-c.loginMu }()

	c.mu.Lock()
	closed, token, pw, basic := c.closed, c.token, c.password, c.basic
	c.mu.Unlock()
	if closed {
		return errClosed
	}
	if token != stale || basic {
		return nil // someone else logged in (or settled on Basic) meanwhile
	}

	sessions, err := cl.sessionsPath()
	if err == nil {
		var resp *http.Response
		body, _ := json.Marshal(map[string]string{"UserName": c.username, "Password": pw})
		// A BMC at its session limit answers 503 until others log out:
		// retried within the deadline (quirks.go).
		err = cl.retrying(siteLogin, func(rc *call) error {
			var e error
			resp, e = rc.exchange(request{method: http.MethodPost, path: sessions, body: body, anon: true})
			return e
		})
		if err == nil {
			tok := resp.Header.Get("X-Auth-Token")
			loc := resp.Header.Get("Location")
			if u, perr := url.Parse(loc); perr == nil && u.Path != "" {
				loc = u.Path
			}
			if tok == "" {
				err = fmt.Errorf("session login: %w: no X-Auth-Token in the answer", errNoSession)
			} else {
				c.d.stats.logins.Add(1)
				c.mu.Lock()
				c.token, c.sessionURI = tok, loc
				c.mu.Unlock()
				c.d.log.Debug("redfish session created", "bmc", c.endpoint, "session", loc)
				return nil
			}
		}
	}
	var re *ResponseError
	if c.auth == AuthAuto && (errors.Is(err, errNoSession) ||
		errors.As(err, &re) && re.Status != http.StatusUnauthorized && re.Status != http.StatusForbidden && !reacts(siteLogin, err, retryLater)) {
		c.d.log.Debug("redfish session service unusable, using HTTP Basic", "bmc", c.endpoint, "err", err)
		c.mu.Lock()
		c.basic = true
		c.mu.Unlock()
		return nil
	}
	return err
}

// errNoSession: the BMC offers no session service.
var errNoSession = errors.New("no session service")

// logout ends the client's session, if it has one. The client refuses new
// sessions afterwards. (Its idle connections belong to the shared transport,
// which closes them on its own.)
func (c *client) logout(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	sess, token := c.sessionURI, c.token
	c.token, c.sessionURI = "", ""
	c.mu.Unlock()
	if token == "" || sess == "" {
		return nil
	}
	return c.deleteSession(ctx, sess, token)
}

// deleteSession ends a session with its own token.
func (c *client) deleteSession(ctx context.Context, sess, token string) error {
	cl := &call{ctx: ctx, c: c, timeout: c.d.opts.RequestTimeout}
	_, err := cl.exchange(request{method: http.MethodDelete, path: sess, anon: true, header: map[string]string{"X-Auth-Token": token}})
	if err != nil {
		var re *ResponseError
		if errors.As(err, &re) && (re.Status == http.StatusNotFound || re.Status == http.StatusUnauthorized) {
			return nil // already gone
		}
		return fmt.Errorf("logout from %s: %w", c.endpoint, err)
	}
	c.d.stats.logouts.Add(1)
	return nil
}

// sessionsPath finds the session collection from the (public) service root.
func (cl *call) sessionsPath() (string, error) {
	resp, err := cl.exchange(request{method: http.MethodGet, path: serviceRoot, anon: true})
	if err != nil {
		return "", err
	}
	var root struct {
		SessionService *struct {
			ID string `json:"@odata.id"`
		}
		Links struct {
			Sessions *struct {
				ID string `json:"@odata.id"`
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&root); err != nil {
		return "", fmt.Errorf("%w: service root: %v", errNoSession, err)
	}
	switch {
	case root.Links.Sessions != nil && root.Links.Sessions.ID != "":
		return root.Links.Sessions.ID, nil
	case root.SessionService != nil:
		return strings.TrimSuffix(root.SessionService.ID, "/") + "/Sessions", nil
	}
	return "", errNoSession
}

// allowedFromActionInfo reads the allowable values of an action parameter
// from an @Redfish.ActionInfo resource, caching them per client (they do not
// change while the BMC runs).
func (cl *call) allowedFromActionInfo(path, param string) ([]string, error) {
	key := path + "#" + param
	cl.c.mu.Lock()
	v, ok := cl.c.actionInfo[key]
	cl.c.mu.Unlock()
	if ok {
		return v, nil
	}
	resp, err := cl.Get(path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ai struct {
		Parameters []struct {
			Name            string
			AllowableValues []string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&ai); err != nil {
		return nil, err
	}
	for _, p := range ai.Parameters {
		if p.Name == param {
			v = p.AllowableValues
		}
	}
	cl.c.mu.Lock()
	if cl.c.actionInfo == nil {
		cl.c.actionInfo = make(map[string][]string)
	}
	cl.c.actionInfo[key] = v
	cl.c.mu.Unlock()
	return v, nil
}

// isTLSFailure reports a certificate or handshake problem, which no retry
// fixes.
func isTLSFailure(err error) bool {
	var (
		ua x509.UnknownAuthorityError
		ci x509.CertificateInvalidError
		he x509.HostnameError
		rh tls.RecordHeaderError
		ve *tls.CertificateVerificationError
	)
	return errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he) || errors.As(err, &rh) || errors.As(err, &ve)
}

// isDialFailure reports an error from before any byte of the request left:
// the BMC cannot have seen it.
func isDialFailure(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// drain reads a bounded body and closes it.
func drain(r io.ReadCloser, limit int64) ([]byte, error) {
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("answer larger than %d bytes", limit)
	}
	return b, err
}
