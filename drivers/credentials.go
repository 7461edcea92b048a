package drivers

import (
	"strings"
)

// URLCredentials are the credentials found in the authority of a URL-like
// string (scheme://user:password@host/...), as ParseURLCredentials reads
// them.
type URLCredentials struct {
	User     string
	Password string
	// HasPassword is set when the userinfo holds a ':' (an empty password
	// is still a password field).
	HasPassword bool
	// start and end delimit the password in the string it came from.
	start, end int
}

// ParseURLCredentials finds the credentials of a URL-like string, the way
// an HTTP client or ipmitool would reach them and more leniently than
// net/url, which refuses (and so overlooks) a userinfo with a space, and
// ends the authority at a '/' that belongs to the password. It reads:
//
//   - scheme://user:password@host... with any characters in the password
//     (spaces and '/' included): the userinfo runs to the last '@' of the
//     string, unless a '/' comes before the first ':' (then the '@' is in
//     a path) or what follows the ':' is a port and a path;
//   - user:password@host with no scheme at all (a BMC address is often
//     written without one; the Redfish driver then assumes https://).
//
// The drivers refuse credentials in an address with it, the API refuses
// them in driver_info, and redaction hides the password it finds, so that
// all three agree on what a credential is.
func ParseURLCredentials(s string) (URLCredentials, bool) {
	off := 0
	if i := strings.Index(s, "://"); i > 0 && validScheme(s[:i]) {
		off = i + 3
	}
	rest := s[off:]
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return URLCredentials{}, false
	}
	userinfo := rest[:at]
	colon := strings.IndexByte(userinfo, ':')
	user := userinfo
	if colon >= 0 {
		user = userinfo[:colon]
	}
	if strings.ContainsAny(user, "/?#") {
		// host/path@... : the '@' is not in the authority.
		return URLCredentials{}, false
	}
	if off == 0 && colon < 0 {
		// "name@host" without a scheme is an e-mail address or a user
		// name alone, not a secret.
		return URLCredentials{}, false
	}
	c := URLCredentials{User: user}
	if colon >= 0 {
		pw := userinfo[colon+1:]
		if isPortThenPath(pw) {
			// host:8080/a@b : a port, and an '@' in the path.
			return URLCredentials{}, false
		}
		c.Password, c.HasPassword = pw, true
		c.start, c.end = off+colon+1, off+at
	}
	return c, true
}

// RedactURLPassword returns s with the password of its URL credentials,
// if any, replaced by Redacted.
func RedactURLPassword(s string) string {
	c, ok := ParseURLCredentials(s)
	if !ok || !c.HasPassword {
		return s
	}
	return s[:c.start] + Redacted + s[c.end:]
}

// URLPassword reports whether s is a URL (with or without a scheme) with a
// password in it (see ParseURLCredentials): a secret in a value whose key
// does not say so, such as a BMC address.
func URLPassword(s string) bool {
	c, ok := ParseURLCredentials(s)
	return ok && c.HasPassword
}

func validScheme(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// isPortThenPath: digits, then '/', '?' or '#'.
func isPortThenPath(s string) bool {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i > 0 && i < len(s) && strings.ContainsRune("/?#", rune(s[i]))
}

// secretKeyParts are the parts of a key that make its value a secret: at
// least the keys of oslo.utils' strutils._SANITIZE_KEYS, which Ironic's
// API masks with mask_dict_password in driver_info and instance_info
// (https://opendev.org/openstack/oslo.utils/src/branch/master/oslo_utils/strutils.py),
// matched as parts of a key like there ("new_pass", "sys_pswd",
// "passphrase", "encrypted_key", "configdrive", "rabbitcookie", ...).
var secretKeyParts = []string{
	"pass", "pswd", "secret", "token", "key", "credential", "configdrive",
	"cookie", "hashsuffix", "fsid",
}

// IsSecretKey reports whether a key names a secret (a password, a key, a
// token, ...), whose value must never be shown, logged or returned.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, s := range secretKeyParts {
		if strings.Contains(k, s) {
			// "key" is a secret unless it names a path to one, e.g. a CA bundle.
			return !(s == "key" && (strings.HasSuffix(k, "_file") || strings.HasSuffix(k, "_path")))
		}
	}
	return false
}

// Mask returns a copy of v, a decoded JSON value, in which every value of a
// secret key (IsSecretKey) at any depth is Redacted, and so is the
// password of every URL in a string (ParseURLCredentials). Objects and
// arrays are copied; v is not changed.
func Mask(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return maskMap(t)
	case Info:
		return Info(maskMap(t))
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = Mask(x)
		}
		return out
	case string:
		return RedactURLPassword(t)
	}
	return v
}

func maskMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if IsSecretKey(k) && v != nil && v != "" {
			if _, nested := v.(map[string]any); !nested {
				out[k] = Redacted
				continue
			}
		}
		out[k] = Mask(v)
	}
	return out
}
