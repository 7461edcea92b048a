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

// The account service of native systems: its predefined roles only, with
// the privileges DSP0266 ("Roles") gives them. They cannot be modified (a
// PATCH answers 405): the Redfish specification forbids changing a
// predefined role, and the Protocol Validator checks both.
const (
	accountServicePath = v1 + "/AccountService"
	rolesPath          = accountServicePath + "/Roles"
	accountServiceType = "#AccountService.v1_5_0.AccountService"
	roleCollectionType = "#RoleCollection.RoleCollection"
	roleType           = "#Role.v1_2_1.Role"
)

// predefinedRoles are the standard roles and their assigned privileges.
var predefinedRoles = []struct {
	id    string
	privs []string
}{
	{"Administrator", []string{"Login", "ConfigureManager", "ConfigureUsers", "ConfigureComponents", "ConfigureSelf"}},
	{"Operator", []string{"Login", "ConfigureComponents", "ConfigureSelf"}},
	{"ReadOnly", []string{"Login", "ConfigureSelf"}},
}

// resolveAccounts maps the AccountService subtree of a native service.
func resolveAccounts(rt route, rest string) route {
	seg, id := nextSeg(rest)
	switch {
	case rest == "":
		rt.kind = kAccountService
	case seg == "Roles" && id == "":
		rt.kind = kRoles
	case seg == "Roles":
		for i, r := range predefinedRoles {
			if r.id == id {
				rt.kind, rt.item = kRole, i
			}
		}
	}
	return rt
}

// renderAccounts renders the account service, its role collection and the
// predefined roles.
func renderAccounts(w *jw, rt route) string {
	const etag = `"a1"`
	switch rt.kind {
	case kAccountService:
		head(w, accountServiceType, accountServicePath, etag)
		w.kv("Id", "AccountService")
		w.kv("Name", "Account Service")
		w.key("ServiceEnabled")
		w.bool(true)
		w.link("Roles", rolesPath)
	case kRoles:
		head(w, roleCollectionType, rolesPath, etag)
		w.kv("Name", "Role Collection")
		ids := make([]string, len(predefinedRoles))
		for i, r := range predefinedRoles {
			ids[i] = r.id
		}
		members(w, rolesPath, ids)
	default:
		r := predefinedRoles[rt.item]
		head(w, roleType, rolesPath+"/"+r.id, etag)
		w.kv("Id", r.id)
		w.kv("Name", r.id+" Role")
		w.kv("RoleId", r.id)
		w.key("IsPredefined")
		w.bool(true)
		w.key("AssignedPrivileges")
		strs(w, r.privs)
	}
	w.end()
	return etag
}

// members writes Members@odata.count and Members, links to base/id.
func members(w *jw, base string, ids []string) {
	w.key("Members@odata.count")
	w.int(len(ids))
	w.key("Members")
	w.arr()
	for _, id := range ids {
		w.linkObj(base + "/" + id)
	}
	w.endArr()
}
