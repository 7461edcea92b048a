package events

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
)

// TokenHeader is the HTTP header that carries a node's secret in every
// event its BMC sends (set as the subscription's HttpHeaders).
const TokenHeader = "X-Bmc-Agent-Event-Token"

// keySize is the length of the key file's content.
const keySize = 32

// Key derives the per-node secrets. It prints as its id only.
type Key struct {
	key []byte
	id  string
}

// LoadKey reads the key file at path, or creates it (mode 0600, 32 random
// bytes) if it does not exist.
func LoadKey(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b = make([]byte, keySize)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return LoadKey(path) // another process made it meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("event key file: %w", err)
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return nil, fmt.Errorf("event key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("event key file: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("event key file: %w", err)
	}
	if len(b) < 16 {
		return nil, fmt.Errorf("event key file %s: %d bytes, want at least 16", path, len(b))
	}
	return NewKey(b), nil
}

// NewKey returns a Key over the given bytes.
func NewKey(b []byte) *Key {
	sum := sha256.Sum256(append([]byte("bmc-agent event key id\x00"), b...))
	return &Key{key: append([]byte(nil), b...), id: hex.EncodeToString(sum[:4])}
}

// ID is a short fingerprint of the key, safe to show and to put in a
// subscription's Context: it says which key a secret came from.
func (k *Key) ID() string { return k.id }

// String implements fmt.Stringer without showing the key.
func (k *Key) String() string { return "event key " + k.id }

// Secret returns the secret of the agent's subscription for a node.
func (k *Key) Secret(agent, node string) string {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(agent))
	m.Write([]byte{0})
	m.Write([]byte(node))
	return hex.EncodeToString(m.Sum(nil))
}

// Check reports, in constant time, whether token is the node's secret.
func (k *Key) Check(agent, node, token string) bool {
	return hmac.Equal([]byte(token), []byte(k.Secret(agent, node)))
}

// contextPrefix begins every Context this project writes.
const contextPrefix = "bmc-agent/"

// subContext is the Context of the agent's subscription for a node.
func subContext(agent, node, keyID string) string {
	return contextPrefix + url.PathEscape(agent) + "/" + url.PathEscape(node) + "/" + keyID
}

// parseContext reads a Context that subContext wrote; ok is false for any
// other (another client's).
func parseContext(s string) (agent, node, keyID string, ok bool) {
	rest, found := strings.CutPrefix(s, contextPrefix)
	parts := strings.Split(rest, "/")
	if !found || len(parts) != 3 {
		return "", "", "", false
	}
	a, err1 := url.PathUnescape(parts[0])
	n, err2 := url.PathUnescape(parts[1])
	if err1 != nil || err2 != nil || a == "" || n == "" {
		return "", "", "", false
	}
	return a, n, parts[2], true
}
