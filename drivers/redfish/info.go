package redfish

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// driver_info keys, with Ironic's names.
const (
	// InfoAddress is the BMC: an http(s) URL, a bare host (HTTPS), or a
	// Metal3 BMC URL (redfish://, redfish+http://, redfish+https://,
	// redfish-virtualmedia://, redfish-virtualmedia+http(s)://) whose path
	// may name the system. Required.
	InfoAddress = "redfish_address"
	// InfoSystemID is the ComputerSystem: its path (/redfish/v1/Systems/1)
	// or its id (1). Optional when the address names it or the BMC has a
	// single system.
	InfoSystemID = "redfish_system_id"
	// InfoUsername and InfoPassword are the BMC credentials.
	InfoUsername = "redfish_username"
	InfoPassword = "redfish_password"
	// InfoVerifyCA is true (default), false, or the path of a CA bundle
	// file or of a directory of PEM certificates.
	InfoVerifyCA = "redfish_verify_ca"
	// InfoAuthType is basic, session or auto (default: session, falling
	// back to basic where the BMC has no session service).
	InfoAuthType = "redfish_auth_type"
	// InfoTimeout bounds each HTTP request to the BMC: seconds, or a Go
	// duration such as "1m30s" (default Options.RequestTimeout).
	InfoTimeout = "redfish_timeout"
)

var infoKeys = []string{InfoAddress, InfoSystemID, InfoUsername, InfoPassword, InfoVerifyCA, InfoAuthType, InfoTimeout}

// AuthType is how the driver authenticates to a BMC.
type AuthType string

// Authentication types, the values of redfish_auth_type.
const (
	// AuthAuto logs in to a Redfish session, or uses HTTP Basic where the
	// BMC has no usable session service.
	AuthAuto AuthType = "auto"
	// AuthBasic sends HTTP Basic credentials with every request.
	AuthBasic AuthType = "basic"
	// AuthSession logs in to a Redfish session and sends its token.
	AuthSession AuthType = "session"
)

const (
	serviceRoot = "/redfish/v1/"
	systemsPath = "/redfish/v1/Systems"
)

// maxRequestTimeout bounds redfish_timeout: a request that may take longer
// than this is a hung BMC.
const maxRequestTimeout = 10 * time.Minute

// target is a node's driver_info, parsed: where its BMC is, how to talk to it
// and which system it is.
type target struct {
	// endpoint is scheme://host[:port], without credentials.
	endpoint string
	// systemPath is the ComputerSystem's path; "" means the BMC's only one.
	systemPath string
	username   string
	password   string
	// insecure skips TLS verification; caPath, if set, is the trusted CAs.
	insecure bool
	caPath   string
	auth     AuthType
	// timeout bounds each request.
	timeout time.Duration
}

// display names the BMC (and the system when known) for messages. It never
// holds credentials.
func (t *target) display() string {
	return t.endpoint + t.systemPath
}

// clientKey identifies the client a target shares with other nodes: one
// per BMC, user and TLS settings. The password is not part of it: a changed
// password replaces the client's.
func (t *target) clientKey() string {
	return strings.Join([]string{t.endpoint, t.username, t.tlsKey(), string(t.auth)}, "\x00")
}

// tlsKey identifies the TLS settings, and so the HTTP transport, a target
// shares with the other BMCs that have the same.
func (t *target) tlsKey() string {
	switch {
	case t.insecure:
		return "insecure"
	case t.caPath != "":
		return "ca:" + t.caPath
	}
	return "verify"
}

// schemes maps the address schemes the driver accepts to the HTTP scheme
// used, and whether the URL's path names the system (Metal3 BMC URLs) or is
// the service root (plain http/https, as in Ironic).
var schemes = map[string]struct {
	http       string
	systemPath bool
}{
	"https":                      {"https", false},
	"http":                       {"http", false},
	"redfish":                    {"https", true},
	"redfish+https":              {"https", true},
	"redfish+http":               {"http", true},
	"redfish-virtualmedia":       {"https", true},
	"redfish-virtualmedia+https": {"https", true},
	"redfish-virtualmedia+http":  {"http", true},
}

// parseInfo reads a node's driver_info without any I/O, collecting every
// problem. The target is usable only when there are none.
func parseInfo(info drivers.Info, opts *Options) (*target, drivers.Problems) {
	var p drivers.Problems
	t := &target{auth: opts.AuthType, timeout: opts.RequestTimeout}

	addr, _ := info.String(InfoAddress)
	addr = strings.TrimSpace(addr)
	var urlSystem string
	if addr == "" {
		p.Addf("%s is required (e.g. https://bmc.example.com or redfish://bmc.example.com/redfish/v1/Systems/1)", InfoAddress)
	} else {
		t.endpoint, urlSystem = parseAddress(addr, &p)
	}

	if id, ok := info.String(InfoSystemID); ok && strings.TrimSpace(id) != "" {
		path, err := systemPathOf(strings.TrimSpace(id))
		if err != nil {
			p.Addf("%s: %v", InfoSystemID, err)
		} else if urlSystem != "" && path != urlSystem {
			p.Addf("%s %q contradicts the system %q named by %s", InfoSystemID, path, urlSystem, InfoAddress)
		}
		t.systemPath = path
	} else {
		t.systemPath = urlSystem
	}

	t.username, _ = info.String(InfoUsername)
	t.password, _ = info.String(InfoPassword)
	switch {
	case t.username == "" && t.password != "":
		p.Addf("%s is set but %s is not", InfoPassword, InfoUsername)
	case t.username != "" && t.password == "":
		p.Addf("%s is set but %s is not", InfoUsername, InfoPassword)
	}

	if v, ok := info[InfoVerifyCA]; ok && v != nil {
		switch b := v.(type) {
		case bool:
			t.insecure = !b
		case string:
			if on, isBool := parseBool(b); isBool {
				t.insecure = !on
			} else if strings.TrimSpace(b) == "" {
				p.Addf("%s is empty: want true, false or the path of a CA bundle", InfoVerifyCA)
			} else {
				t.caPath = b
			}
		default:
			p.Addf("%s must be true, false or the path of a CA bundle, got %v", InfoVerifyCA, v)
		}
	}

	if s, ok := info.String(InfoAuthType); ok && s != "" {
		switch a := AuthType(strings.ToLower(strings.TrimSpace(s))); a {
		case AuthAuto, AuthBasic, AuthSession:
			t.auth = a
		default:
			p.Addf("%s must be one of basic, session or auto, got %q", InfoAuthType, s)
		}
	}

	if s, ok := info.String(InfoTimeout); ok && s != "" {
		d, err := parseTimeout(s)
		if err != nil {
			p.Addf("%s: %v", InfoTimeout, err)
		} else {
			t.timeout = d
		}
	}

	var unknown []string
	for k := range info {
		if strings.HasPrefix(k, "redfish_") && !slices.Contains(infoKeys, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		p.Addf("unknown keys %s (known: %s)", strings.Join(unknown, ", "), strings.Join(infoKeys, ", "))
	}
	return t, p
}

// parseAddress checks redfish_address and returns the endpoint and the
// system path the URL names, if any.
func parseAddress(addr string, p *drivers.Problems) (endpoint, system string) {
	if _, ok := drivers.ParseURLCredentials(addr); ok {
		p.Addf("%s must not hold credentials: put them in %s and %s", InfoAddress, InfoUsername, InfoPassword)
		return "", ""
	}
	if !strings.Contains(addr, "://") {
		addr = "https://" + addr // Ironic: a missing scheme means HTTPS
	}
	u, err := url.Parse(addr)
	if err != nil {
		p.Addf("%s %q is not a URL", InfoAddress, redactURL(addr))
		return "", ""
	}
	sc, ok := schemes[strings.ToLower(u.Scheme)]
	if !ok {
		names := make([]string, 0, len(schemes))
		for s := range schemes {
			names = append(names, s+"://")
		}
		slices.Sort(names)
		p.Addf("%s %q: scheme %q is not one of %s", InfoAddress, u.Redacted(), u.Scheme, strings.Join(names, ", "))
		return "", ""
	}
	if u.Host == "" || u.Hostname() == "" {
		p.Addf("%s %q has no host", InfoAddress, u.Redacted())
		return "", ""
	}
	if u.RawQuery != "" || u.Fragment != "" {
		p.Addf("%s %q must not have a query or fragment", InfoAddress, u.Redacted())
	}
	endpoint = sc.http + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	switch {
	case path == "" || path == "/redfish/v1":
		// the service root: the system comes from redfish_system_id or discovery
	case strings.HasPrefix(path, systemsPath+"/") && !strings.Contains(path[len(systemsPath)+1:], "/"):
		system = path
	case sc.systemPath:
		p.Addf("%s %q: the path must name a system, like /redfish/v1/Systems/1", InfoAddress, u.Redacted())
	default:
		p.Addf("%s %q: only the standard service root /redfish/v1 is supported; name the system in %s", InfoAddress, u.Redacted(), InfoSystemID)
	}
	return endpoint, system
}

// systemPathOf turns redfish_system_id (a path or an id) into a path.
func systemPathOf(id string) (string, error) {
	if strings.HasPrefix(id, "/") {
		path := strings.TrimSuffix(id, "/")
		if !strings.HasPrefix(path, "/redfish/v1/") || strings.ContainsAny(path, "?# ") {
			return "", fmt.Errorf("%q is not a path below /redfish/v1/, like /redfish/v1/Systems/1", id)
		}
		return path, nil
	}
	if strings.ContainsAny(id, "/?# ") {
		return "", fmt.Errorf("%q is neither a system id nor a path like /redfish/v1/Systems/1", id)
	}
	return systemsPath + "/" + url.PathEscape(id), nil
}

// parseTimeout reads whole or fractional seconds ("30", 2.5) or a Go
// duration ("1m30s").
func parseTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		d = time.Duration(f * float64(time.Second))
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("%q is neither seconds nor a duration like 30s", s)
	}
	if d <= 0 || d > maxRequestTimeout {
		return 0, fmt.Errorf("%q must be positive and at most %s", s, maxRequestTimeout)
	}
	return d, nil
}

// parseBool reads the strings Ironic accepts as booleans.
func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true, true
	case "0", "f", "false", "off", "n", "no":
		return false, true
	}
	return false, false
}

// loadCAs reads a CA bundle file, or every PEM file of a directory.
func loadCAs(path string) (*x509.CertPool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	files := []string{path}
	if fi.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("CA directory: %w", err)
		}
		files = files[:0]
		for _, e := range entries {
			if !e.IsDir() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	pool := x509.NewCertPool()
	found := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		if pool.AppendCertsFromPEM(b) {
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", path)
	}
	return pool, nil
}

// redactURL hides the password of a URL-like string for messages.
func redactURL(s string) string { return drivers.RedactURLPassword(s) }
