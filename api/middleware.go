package api

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/bmc-agent/bmc-agent/taskmanager"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
)

// HeaderRequestID carries a request's id, as in OpenStack services.
const HeaderRequestID = "X-Openstack-Request-Id"

// requestIDRE is what the agent accepts as a client's own request id: short
// and printable, so that it is safe in a log line.
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:\-]{1,64}$`)

// RequestID gives every request an id: the client's X-Openstack-Request-Id
// when it is a sane one, else a new "req-<uuid>". The id is put on the
// request's context (taskmanager.WithRequestID, so that task logs name it)
// and echoed in the response.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, withRequestID(w, r))
	})
}

// withRequestID is RequestID for one request; a request that has an id
// keeps it.
func withRequestID(w http.ResponseWriter, r *http.Request) *http.Request {
	if id := taskmanager.RequestID(r.Context()); id != "" {
		return r
	}
	id := r.Header.Get(HeaderRequestID)
	if !requestIDRE.MatchString(id) {
		id = "req-" + uuid.NewString()
	}
	w.Header().Set(HeaderRequestID, id)
	return r.WithContext(taskmanager.WithRequestID(r.Context(), id))
}

// Authenticator checks HTTP Basic credentials against an htpasswd file of
// bcrypt hashes, as Ironic's http_basic auth strategy does.
type Authenticator struct {
	users map[string][]byte // user -> bcrypt hash
	// ok remembers, per user, the SHA-256 of the last password that
	// matched, so that a client does not pay bcrypt's cost on every
	// request. Only a password that matched the hash is remembered.
	mu sync.Mutex
	ok map[string][sha256.Size]byte
	// dummy is compared against for an unknown user: a hash of the cost
	// most of the file's hashes have, so that an unknown name costs as
	// long as a known one and the answer's time does not tell them apart.
	dummy []byte
}

// LoadHtpasswd reads an htpasswd file: lines "user:hash", bcrypt hashes
// only ($2y$, $2a$, $2b$), blank lines and # comments ignored.
func LoadHtpasswd(path string) (*Authenticator, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	defer f.Close()
	return ParseHtpasswd(f, path)
}

// ParseHtpasswd reads htpasswd lines from r; name is for messages.
func ParseHtpasswd(r io.Reader, name string) (*Authenticator, error) {
	a := &Authenticator{users: map[string][]byte{}, ok: map[string][sha256.Size]byte{}}
	costs := map[int]int{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		user, hash, found := strings.Cut(s, ":")
		if !found || user == "" {
			return nil, fmt.Errorf("htpasswd %s:%d: expected user:hash", name, line)
		}
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return nil, fmt.Errorf("htpasswd %s:%d: user %q: only bcrypt hashes are accepted (htpasswd -B)", name, line, user)
		}
		a.users[user] = []byte(hash)
		costs[cost]++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("htpasswd %s: %w", name, err)
	}
	if len(a.users) == 0 {
		return nil, fmt.Errorf("htpasswd %s: no users", name)
	}
	cost := 0
	for c, n := range costs {
		if n > costs[cost] || n == costs[cost] && c > cost {
			cost = c
		}
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("not a password"), cost)
	if err != nil {
		return nil, fmt.Errorf("htpasswd %s: %w", name, err)
	}
	a.dummy = dummy
	return a, nil
}

// Check reports whether user and password match.
func (a *Authenticator) Check(user, password string) bool {
	hash, ok := a.users[user]
	if !ok {
		// Spend the same time as for a known user, so that the answer
		// does not tell which users exist.
		bcrypt.CompareHashAndPassword(a.dummy, []byte(password))
		return false
	}
	sum := sha256.Sum256([]byte(password))
	a.mu.Lock()
	known, seen := a.ok[user]
	a.mu.Unlock()
	if seen && subtle.ConstantTimeCompare(known[:], sum[:]) == 1 {
		return true
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return false
	}
	a.mu.Lock()
	a.ok[user] = sum
	a.mu.Unlock()
	return true
}

// Authenticate refuses requests without valid HTTP Basic credentials with
// 401 in Ironic's error shape. The program wraps everything but /healthz
// in it.
func Authenticate(a *Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if ok && a.Check(user, pass) {
			next.ServeHTTP(w, r)
			return
		}
		r = withRequestID(w, r)
		setVersionRange(w.Header())
		w.Header().Set("WWW-Authenticate", `Basic realm="Baremetal API"`)
		msg := "Authentication required: send HTTP Basic credentials"
		if ok {
			msg = "Incorrect username or password"
		}
		writeError(w, r, nil, newError(http.StatusUnauthorized, "%s", msg))
	})
}
