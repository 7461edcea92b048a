package redfish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stmcginnis/gofish/common"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// call is one driver operation's view of a BMC client, and the
// common.Client gofish's resources use: every request it makes carries the
// operation's context, is bounded by the node's per-request timeout, waits
// for a slot of the BMC's semaphore, and is retried as the policy allows.
// gofish objects fetched through a call keep it, so their actions (Reset,
// InsertMedia, ...) run under the same context.
type call struct {
	ctx     context.Context
	c       *client
	t       *target
	timeout time.Duration
	// idempotentPost marks the operation's POSTs as safe to repeat
	// (ejecting media): they are retried like GETs.
	idempotentPost bool

	mu    sync.Mutex
	first error // the first request that failed, for errors gofish flattens
}

// request is one HTTP exchange as the driver sees it.
type request struct {
	method string
	path   string
	body   []byte
	header map[string]string
	// anon sends no credentials (service root, login, logout).
	anon bool
}

// maxBody bounds an answer's body; Redfish resources are small.
const maxBody = 16 << 20

// withContext returns a call like cl under another context (a power wait's).
func (cl *call) withContext(ctx context.Context) *call {
	return &call{ctx: ctx, c: cl.c, t: cl.t, timeout: cl.timeout, idempotentPost: cl.idempotentPost}
}

// exchange sends r, retrying it as the policy allows, and returns the
// answer with its body read (so the connection is free for reuse) or a
// classified error.
func (cl *call) exchange(r request) (*http.Response, error) {
	d := cl.c.d
	idempotent := r.method != http.MethodPost || cl.idempotentPost
	renewed := false
	for attempt := 1; ; attempt++ {
		resp, token, retry, err := cl.send(r, idempotent)
		if err == nil {
			return resp, nil
		}
		var re *ResponseError
		if errors.As(err, &re) && re.Status == http.StatusUnauthorized && token != "" && !renewed {
			// The session expired or was deleted: log in again (once)
			// and resend; a login that fails is the answer.
			renewed = true
			d.log.Debug("redfish session rejected, logging in again", "bmc", cl.c.endpoint)
			if lerr := cl.c.login(cl, token); lerr != nil {
				return nil, cl.record(lerr)
			}
			attempt--
			continue
		}
		if !retry.ok || attempt > d.opts.MaxRetries {
			setAttempts(err, attempt)
			return nil, cl.record(err)
		}
		wait := backoff(d.opts.RetryBackoff, attempt)
		if retry.after > 0 {
			wait = max(wait, min(retry.after, d.opts.MaxRetryAfter))
		}
		if dl, ok := cl.ctx.Deadline(); ok && time.Until(dl) < wait {
			setAttempts(err, attempt)
			return nil, cl.record(err) // no time left to wait for another try
		}
		d.stats.retries.Add(1)
		d.log.Debug("redfish request retried", "bmc", cl.c.endpoint, "request", r.method+" "+r.path, "attempt", attempt, "wait", wait, "err", err)
		if serr := d.sleep(cl.ctx, wait); serr != nil {
			setAttempts(err, attempt)
			return nil, cl.record(cl.ctxError(r.method, r.path, serr, attempt))
		}
	}
}

// retryAdvice says whether a failed request may be sent again, and after how
// long the BMC asked the client to wait (Retry-After).
type retryAdvice struct {
	ok    bool
	after time.Duration
}

// send makes one attempt. It returns the token it authenticated with, so
// that a 401 can tell a stale session from wrong credentials.
func (cl *call) send(r request, idempotent bool) (resp *http.Response, token string, retry retryAdvice, err error) {
	c, d := cl.c, cl.c.d
	u, err := cl.url(r.path)
	if err != nil {
		return nil, "", retryAdvice{}, err
	}
	var authName, authValue string
	if !r.anon {
		if authName, authValue, err = c.authHeader(cl); err != nil {
			return nil, "", retryAdvice{}, err
		}
		if authName == "X-Auth-Token" {
			token = authValue
		}
	}

	// The semaphore is taken after authenticating: a login needs a slot too.
	select {
	case c.sem <- struct{}{}:
	case <-cl.ctx.Done():
		return nil, token, retryAdvice{}, cl.ctxError(r.method, r.path, cl.ctx.Err(), 1)
	}
	defer func() { <-c.sem }()

	rctx, cancel := context.WithTimeout(cl.ctx, cl.timeout)
	defer cancel()
	var wrote atomic.Bool
	if !idempotent {
		rctx = httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
		})
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(rctx, r.method, u, body)
	if err != nil {
		return nil, token, retryAdvice{}, fmt.Errorf("%w: %s %s: %v", drivers.ErrBMCFailed, r.method, r.path, err)
	}
	h := req.Header
	h.Set("Accept", "application/json")
	h.Set("OData-Version", "4.0")
	h.Set("User-Agent", "bmc-agent")
	if r.body != nil {
		h.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		if k != "" && v != "" {
			h.Set(k, v)
		}
	}
	if authName != "" {
		h.Set(authName, authValue)
	}

	if r.method != http.MethodGet && r.method != http.MethodHead {
		// The last instant to find that the task may no longer act
		// (drivers.Preflight): nothing has been sent.
		if err := drivers.Preflight(cl.ctx); err != nil {
			return nil, token, retryAdvice{}, fmt.Errorf("%s %s not sent: %w", r.method, r.path, err)
		}
	}
	d.stats.requests.Add(1)
	hr, err := c.hc.Do(req)
	var b []byte
	if err == nil {
		b, err = drain(hr.Body, maxBody)
	}
	if err != nil {
		switch {
		case cl.ctx.Err() != nil:
			return nil, token, retryAdvice{}, cl.ctxError(r.method, r.path, cl.ctx.Err(), 1)
		case rctx.Err() != nil:
			cause := fmt.Errorf("no answer within %s: %w", cl.timeout, context.DeadlineExceeded)
			return nil, token, retryAdvice{ok: idempotent}, &transportError{kind: drivers.ErrBMCTimeout, method: r.method, path: r.path, attempts: 1, cause: cause}
		case isTLSFailure(err):
			return nil, token, retryAdvice{}, &transportError{kind: drivers.ErrBMCUnreachable, method: r.method, path: r.path, attempts: 1, cause: err}
		}
		// A request that never left (refused, unresolvable) is safe to
		// repeat whatever it is; one that was written may have been acted on.
		ok := idempotent || isDialFailure(err) || !wrote.Load()
		return nil, token, retryAdvice{ok: ok}, &transportError{kind: drivers.ErrBMCUnreachable, method: r.method, path: r.path, attempts: 1, cause: err}
	}
	if hr.StatusCode >= 200 && hr.StatusCode < 300 {
		hr.Body = io.NopCloser(bytes.NewReader(b))
		hr.ContentLength = int64(len(b))
		return hr, token, retryAdvice{}, nil
	}
	_, scrub := c.credentials()
	kind := statusKind(hr.StatusCode)
	if hr.StatusCode < 400 {
		kind = drivers.ErrBMCFailed // a redirect or an informational answer: not Redfish
	}
	rerr := responseError(kind, r.method, r.path, hr.StatusCode, b, scrub)
	rerr.Attempts = 1
	if hr.StatusCode >= 500 {
		// A 503 says the BMC did not take the request on; any other 5xx to
		// a POST may have been acted upon.
		retry = retryAdvice{ok: idempotent || hr.StatusCode == http.StatusServiceUnavailable, after: retryAfter(hr.Header.Get("Retry-After"))}
	}
	return nil, token, retry, rerr
}

// url resolves a path (or a URL on the same BMC) against the endpoint.
func (cl *call) url(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: the BMC gave no URI for the resource", drivers.ErrUnsupported)
	}
	if strings.HasPrefix(p, "/") {
		return cl.c.endpoint + p, nil
	}
	if strings.HasPrefix(p, cl.c.endpoint+"/") {
		return p, nil
	}
	return "", fmt.Errorf("%w: the BMC pointed at %q, outside %s", drivers.ErrBMCFailed, redactURL(p), cl.c.endpoint)
}

// ctxError reports that the call's own context ended.
func (cl *call) ctxError(method, path string, err error, attempts int) error {
	kind := drivers.ErrBMCTimeout
	if errors.Is(err, context.Canceled) {
		kind = context.Canceled
	}
	return &transportError{kind: kind, method: method, path: path, attempts: attempts, cause: err}
}

// record keeps the first failure of the call: gofish flattens the errors of
// collection members into one string, and the driver reports this instead.
func (cl *call) record(err error) error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.first == nil {
		cl.first = err
	}
	return err
}

// explain turns whatever an operation returned into a classified error.
func (cl *call) explain(err error) error {
	if classified(err) || errors.Is(err, context.Canceled) {
		return err
	}
	cl.mu.Lock()
	first := cl.first
	cl.mu.Unlock()
	if first != nil {
		return first
	}
	_, scrub := cl.c.credentials()
	return fmt.Errorf("%w: unexpected answer: %s", drivers.ErrBMCFailed, scrub(err.Error()))
}

func setAttempts(err error, n int) {
	var re *ResponseError
	var te *transportError
	switch {
	case errors.As(err, &re):
		re.Attempts = n
	case errors.As(err, &te):
		te.attempts = n
	}
}

// backoff is the wait before retry n (1-based): base doubling, with
// jitter so that many clients do not retry in step, at most 10 s.
func backoff(base time.Duration, n int) time.Duration {
	w := min(base<<min(n-1, 10), 10*time.Second)
	return w/2 + rand.N(w)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// The common.Client methods gofish calls.

// Get implements common.Client.
func (cl *call) Get(url string) (*http.Response, error) { return cl.GetWithHeaders(url, nil) }

// GetWithHeaders implements common.Client.
func (cl *call) GetWithHeaders(url string, h map[string]string) (*http.Response, error) {
	return cl.exchange(request{method: http.MethodGet, path: url, header: h})
}

// Post implements common.Client.
func (cl *call) Post(url string, payload any) (*http.Response, error) {
	return cl.PostWithHeaders(url, payload, nil)
}

// PostWithHeaders implements common.Client.
func (cl *call) PostWithHeaders(url string, payload any, h map[string]string) (*http.Response, error) {
	return cl.withBody(http.MethodPost, url, payload, h)
}

// PostMultipart implements common.Client; the driver uploads nothing.
func (cl *call) PostMultipart(url string, _ map[string]io.Reader) (*http.Response, error) {
	return nil, unsupported("multipart upload to %s", url)
}

// PostMultipartWithHeaders implements common.Client; the driver uploads nothing.
func (cl *call) PostMultipartWithHeaders(url string, _ map[string]io.Reader, _ map[string]string) (*http.Response, error) {
	return nil, unsupported("multipart upload to %s", url)
}

// Patch implements common.Client.
func (cl *call) Patch(url string, payload any) (*http.Response, error) {
	return cl.PatchWithHeaders(url, payload, nil)
}

// PatchWithHeaders implements common.Client.
func (cl *call) PatchWithHeaders(url string, payload any, h map[string]string) (*http.Response, error) {
	return cl.withBody(http.MethodPatch, url, payload, h)
}

// Put implements common.Client.
func (cl *call) Put(url string, payload any) (*http.Response, error) {
	return cl.PutWithHeaders(url, payload, nil)
}

// PutWithHeaders implements common.Client.
func (cl *call) PutWithHeaders(url string, payload any, h map[string]string) (*http.Response, error) {
	return cl.withBody(http.MethodPut, url, payload, h)
}

// Delete implements common.Client.
func (cl *call) Delete(url string) (*http.Response, error) { return cl.DeleteWithHeaders(url, nil) }

// DeleteWithHeaders implements common.Client.
func (cl *call) DeleteWithHeaders(url string, h map[string]string) (*http.Response, error) {
	return cl.exchange(request{method: http.MethodDelete, path: url, header: h})
}

func (cl *call) withBody(method, url string, payload any, h map[string]string) (*http.Response, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("%s %s: encoding the request: %w", method, url, err)
	}
	return cl.exchange(request{method: method, path: url, body: b, header: h})
}

var _ common.Client = (*call)(nil)
