package simulator

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// credentials is a user name and a digest of user name and password. The
// password itself is not kept, so it cannot leak into logs or dumps.
type credentials struct {
	user string
	sum  [sha256.Size]byte
}

func newCredentials(user, password string) *credentials {
	return &credentials{user: user, sum: credSum(user, password)}
}

// credSum digests user and password without allocating for short values.
func credSum(user, password string) [sha256.Size]byte {
	var stack [128]byte
	b := append(stack[:0], user...)
	b = append(b, 0)
	b = append(b, password...)
	return sha256.Sum256(b)
}

// match compares in constant time (for a given length of input).
func (c *credentials) match(user, password string) bool {
	return c.matchSum(credSum(user, password))
}

// matchSum compares a digest from credSum in constant time.
func (c *credentials) matchSum(sum [sha256.Size]byte) bool {
	return subtle.ConstantTimeCompare(c.sum[:], sum[:]) == 1
}

// same reports whether c and o are the same user and password.
func (c *credentials) same(o *credentials) bool {
	return c == o || subtle.ConstantTimeCompare(c.sum[:], o.sum[:]) == 1
}

// parseBasic decodes an HTTP Basic Authorization header value.
func parseBasic(h string) (user, password string, ok bool) {
	const prefix = "Basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	enc := h[len(prefix):]
	var stack [192]byte
	buf := stack[:]
	if n := base64.StdEncoding.DecodedLen(len(enc)); n > len(buf) {
		buf = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(buf, []byte(enc))
	if err != nil {
		return "", "", false
	}
	user, password, ok = strings.Cut(string(buf[:n]), ":")
	return user, password, ok
}

// session is a Redfish login session.
type session struct {
	id, token string
	creds     *credentials
	sys       *System // opened on this system's own port; nil on the fleet's
	created   time.Time
	lastUsed  atomic.Int64 // unix seconds
}

// sessionStore holds the live sessions of a simulator. Sessions expire after
// the timeout without use; expired ones are removed lazily.
type sessionStore struct {
	timeout time.Duration
	max     int
	now     func() time.Time

	mu      sync.RWMutex
	byToken map[string]*session
	byID    map[string]*session
}

func newSessionStore(timeout time.Duration, max int, now func() time.Time) *sessionStore {
	return &sessionStore{
		timeout: timeout, max: max, now: now,
		byToken: make(map[string]*session), byID: make(map[string]*session),
	}
}

// errTooManySessions is returned when the session limit is reached.
var errTooManySessions = &ValueError{Property: "Sessions", Value: "limit reached", Allowed: []string{"delete a session"}}

// create opens a session for c, on sys's own port when sys is not nil;
// such a session counts against sys's Quirks.SessionCap.
func (st *sessionStore) create(c *credentials, sys *System) (*session, error) {
	now := st.now()
	s := &session{id: randomHex(8), token: randomHex(16), creds: c, sys: sys, created: now}
	s.lastUsed.Store(now.Unix())
	st.mu.Lock()
	defer st.mu.Unlock()
	if sys != nil {
		if err := st.capLocked(sys, now); err != nil {
			return nil, err
		}
	}
	if len(st.byID) >= st.max {
		st.expireLocked(now)
		if len(st.byID) >= st.max {
			return nil, errTooManySessions
		}
	}
	st.byToken[s.token] = s
	st.byID[s.id] = s
	return s, nil
}

func (st *sessionStore) expired(s *session, now time.Time) bool {
	return now.Unix()-s.lastUsed.Load() > int64(st.timeout/time.Second)
}

func (st *sessionStore) expireLocked(now time.Time) {
	for id, s := range st.byID {
		if st.expired(s, now) {
			delete(st.byID, id)
			delete(st.byToken, s.token)
		}
	}
}

// lookup finds the live session with token and marks it used.
func (st *sessionStore) lookup(token string) *session {
	st.mu.RLock()
	s := st.byToken[token]
	st.mu.RUnlock()
	if s == nil {
		return nil
	}
	now := st.now()
	if st.expired(s, now) {
		st.remove(s.id)
		return nil
	}
	if u := now.Unix(); s.lastUsed.Load() != u {
		s.lastUsed.Store(u)
	}
	return s
}

// get returns the live session with id.
func (st *sessionStore) get(id string) *session {
	st.mu.RLock()
	s := st.byID[id]
	st.mu.RUnlock()
	if s == nil || st.expired(s, st.now()) {
		return nil
	}
	return s
}

// remove ends a session; it reports whether it existed.
func (st *sessionStore) remove(id string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byID[id]
	if ok {
		delete(st.byID, id)
		delete(st.byToken, s.token)
	}
	return ok
}

// list returns the ids of live sessions whose credentials are c (all when c
// is nil).
func (st *sessionStore) list(c *credentials) []string {
	now := st.now()
	st.mu.RLock()
	defer st.mu.RUnlock()
	ids := make([]string, 0, len(st.byID))
	for id, s := range st.byID {
		if !st.expired(s, now) && (c == nil || s.creds.same(c)) {
			ids = append(ids, id)
		}
	}
	return ids
}

// count returns the number of sessions held, expired ones included until
// they are swept.
func (st *sessionStore) count() int {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.byID)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
