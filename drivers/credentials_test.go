package drivers_test

import (
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// ParseURLCredentials finds a password where a client would send one,
// including where net/url does not (a space or '/' in it, no scheme), and
// not in an '@' of a path, a port, or a user name alone.
func TestParseURLCredentials(t *testing.T) {
	for _, tc := range []struct {
		in, redacted string
		password     bool
	}{
		{"https://admin:pw@bmc", "https://admin:******@bmc", true},
		{"https://admin:p w@bmc/redfish/v1", "https://admin:******@bmc/redfish/v1", true},
		{"https://admin:pa/ss@bmc", "https://admin:******@bmc", true},
		{"admin:pw@10.0.0.1", "admin:******@10.0.0.1", true},
		{"ipmi://root:@bmc:623", "ipmi://root:******@bmc:623", true},
		{"https://admin@bmc", "https://admin@bmc", false},
		{"user@example.com", "user@example.com", false},
		{"https://bmc:8443/a@b", "https://bmc:8443/a@b", false},
		{"https://bmc/path/user@x", "https://bmc/path/user@x", false},
		{"10.0.0.1", "10.0.0.1", false},
	} {
		if got := drivers.URLPassword(tc.in); got != tc.password {
			t.Errorf("URLPassword(%q) = %v", tc.in, got)
		}
		if got := drivers.RedactURLPassword(tc.in); got != tc.redacted {
			t.Errorf("RedactURLPassword(%q) = %q, want %q", tc.in, got, tc.redacted)
		}
	}
}

// Mask covers nested objects, arrays, Ironic's keys and URL passwords, and
// leaves paths to secrets and everything else alone.
func TestMask(t *testing.T) {
	in := map[string]any{
		"passphrase": "a", "sys_pswd": "b", "nested": map[string]any{"password": "c", "user": "u"},
		"list": []any{map[string]any{"private_key": "d"}, "https://u:e@h/x"}, "configdrive": "f",
		"ca_key_file": "/etc/ca", "image_checksum": "sum", "empty_password": "",
	}
	out := drivers.Mask(in).(map[string]any)
	want := map[string]any{
		"passphrase": "******", "sys_pswd": "******", "configdrive": "******", "ca_key_file": "/etc/ca",
		"image_checksum": "sum", "empty_password": "",
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("%s: %v, want %v", k, out[k], v)
		}
	}
	if n := out["nested"].(map[string]any); n["password"] != "******" || n["user"] != "u" {
		t.Errorf("nested: %v", n)
	}
	if l := out["list"].([]any); l[0].(map[string]any)["private_key"] != "******" || l[1] != "https://u:******@h/x" {
		t.Errorf("list: %v", l)
	}
	if in["passphrase"] != "a" || in["nested"].(map[string]any)["password"] != "c" {
		t.Error("Mask changed its input")
	}
}
