package api

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// The API shows driver_info and instance_info masked (drivers.Mask): a
// secret key's value as "******", a URL's password as "******". A client
// that reads a node, changes it and sends it back (or a JSON Patch applied
// to the masked document) sends those masks back; unmask puts the stored
// values in their place.

// checkDriverInfo checks a node's new driver_info against its stored one
// (old is nil on creation):
//
//   - a value the client sent masked gets its stored value back; one with
//     no stored value is refused;
//   - if the BMC's address changed (any *_address or *_port key, or the
//     driver), a secret the request did not supply (it is still masked) is
//     dropped instead: the new address must come with its credentials, so
//     that a client who only ever saw "******" cannot point the node at a
//     host it controls and have the agent send it the password. This goes
//     further than Ironic, which keeps the password (docs/api.md);
//   - a URL with a password in a value whose key does not name a secret
//     (redfish://admin:pw@bmc, admin:pw@bmc) is refused: it would be stored
//     where only its password is masked, and the drivers refuse it anyway.
func checkDriverInfo(info, old map[string]any, addressChanged bool) error {
	if err := unmask("driver_info", info, old, addressChanged); err != nil {
		return err
	}
	return refuseURLPasswords("driver_info", info)
}

// checkInstanceInfo puts back the secrets of instance_info a client sent
// masked (URLs with credentials are allowed there, as in Ironic: an image
// URL may carry them; they are shown masked).
func checkInstanceInfo(info, old map[string]any) error {
	return unmask("instance_info", info, old, false)
}

// endpointChanged reports whether the BMC a node's driver_info points at
// differs between old and next: another driver, or another value (or
// presence) of any key naming an address or a port.
func endpointChanged(oldDriver, newDriver string, old, next map[string]any) bool {
	if oldDriver != newDriver {
		return true
	}
	for _, m := range []map[string]any{old, next} {
		for k := range m {
			if isEndpointKey(k) && !reflect.DeepEqual(old[k], next[k]) {
				return true
			}
		}
	}
	return false
}

func isEndpointKey(k string) bool {
	k = strings.ToLower(k)
	return k == "address" || strings.HasSuffix(k, "_address") || strings.HasSuffix(k, "_port") ||
		strings.HasSuffix(k, "_host") || strings.HasSuffix(k, "_url")
}

// unmask walks m (decoded JSON, changed in place) beside old, the stored
// value at the same place.
func unmask(path string, m, old map[string]any, drop bool) error {
	for k, v := range m {
		p := path + "/" + k
		prev, had := old[k]
		switch t := v.(type) {
		case string:
			if t == drivers.Redacted && drivers.IsSecretKey(k) {
				switch {
				case drop:
					delete(m, k)
				case had && prev != nil:
					m[k] = prev
				default:
					return badRequest("%s cannot be set to %q: that is how the agent shows a secret it keeps, and it keeps none there", truncate(p, 128), drivers.Redacted)
				}
				continue
			}
			if c, ok := drivers.ParseURLCredentials(t); ok && c.HasPassword && c.Password == drivers.Redacted {
				ps, _ := prev.(string)
				if !had || drivers.RedactURLPassword(ps) != t || drop {
					return badRequest("%s holds a URL whose password is %q, as the agent shows it: send the URL with its password", truncate(p, 128), drivers.Redacted)
				}
				m[k] = ps
			}
		case map[string]any:
			pm, _ := prev.(map[string]any)
			if err := unmask(p, t, pm, drop); err != nil {
				return err
			}
		case []any:
			pa, _ := prev.([]any)
			if err := unmaskList(p, t, pa, drop); err != nil {
				return err
			}
		}
	}
	return nil
}

func unmaskList(path string, list, old []any, drop bool) error {
	for i, v := range list {
		var prev any
		if i < len(old) {
			prev = old[i]
		}
		// Wrap the element so that unmask sees it as a member; an array
		// element has no key that names a secret.
		m, o := map[string]any{"": v}, map[string]any{}
		if prev != nil {
			o[""] = prev
		}
		if err := unmask(fmt.Sprintf("%s/%d", path, i), m, o, drop); err != nil {
			return err
		}
		list[i] = m[""]
	}
	return nil
}

// refuseURLPasswords refuses a URL with a password anywhere in m under a
// key that does not name a secret.
func refuseURLPasswords(path string, m map[string]any) error {
	for k, v := range m {
		p := path + "/" + k
		switch t := v.(type) {
		case string:
			if drivers.URLPassword(t) && !drivers.IsSecretKey(k) {
				return badRequest("The field %s must not hold a password in its URL: give the credentials in the driver's username and password fields", truncate(p, 128))
			}
		case map[string]any:
			if err := refuseURLPasswords(p, t); err != nil {
				return err
			}
		case []any:
			for i, x := range t {
				if err := refuseURLPasswords(p, map[string]any{fmt.Sprint(i): x}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
