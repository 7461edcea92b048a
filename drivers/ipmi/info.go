package ipmi

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// driver_info keys the IPMI driver reads, with Ironic's names.
const (
	// InfoAddress is the BMC's host name or IP address, or an
	// ipmi://host[:port] URL.
	InfoAddress = "ipmi_address"
	// InfoPort is the BMC's UDP port (default 623).
	InfoPort = "ipmi_port"
	// InfoUsername is the IPMI user; empty or absent is the null user.
	InfoUsername = "ipmi_username"
	// InfoPassword is the IPMI password (at most 20 bytes). It is handed to
	// ipmitool through its environment, never on its command line.
	InfoPassword = "ipmi_password"
	// InfoPrivLevel is the session privilege level. Only ADMINISTRATOR, the
	// level ipmitool asks for by default, can be honoured: the driver, like
	// bmclib's provider, passes no -L.
	InfoPrivLevel = "ipmi_priv_level"
	// InfoCipherSuite pins the RMCP+ cipher suite (1-17). Without it, the
	// driver tries suite 17, then 3, and keeps the one that worked.
	InfoCipherSuite = "ipmi_cipher_suite"
	// InfoProtocolVersion is the IPMI version: only "2.0" (lanplus).
	InfoProtocolVersion = "ipmi_protocol_version"
	// InfoInterface is ipmitool's interface: only "lanplus".
	InfoInterface = "ipmi_interface"
)

// DefaultPort is IPMI's UDP port.
const DefaultPort = 623

// IPMI's limits on user names and passwords (IPMI v2.0 §22.28, §22.30).
const (
	maxUsername = 16
	maxPassword = 20
)

// bmc is the parsed driver_info of one node: where its BMC is and how to log
// in. It is what every call needs; it never leaves the package, so the
// password cannot reach a log or an error by accident.
type bmc struct {
	host     string
	port     int
	user     string
	password string
	// cipher is "" (17, then 3) or the pinned suite.
	cipher string
}

// addr is the BMC's address for messages and the per-BMC gate: host:port,
// no credentials.
func (b bmc) addr() string { return net.JoinHostPort(b.host, strconv.Itoa(b.port)) }

// parseInfo reads and checks a node's driver_info without any I/O. It
// reports every problem at once.
func parseInfo(info drivers.Info) (bmc, drivers.Problems) {
	var p drivers.Problems
	b := bmc{port: DefaultPort}

	raw, ok := info.String(InfoAddress)
	portFromURL := false
	switch {
	case !ok || strings.TrimSpace(raw) == "":
		p.Addf("%s is required", InfoAddress)
	case strings.HasPrefix(strings.ToLower(raw), "ipmi://"):
		host, port, msg := parseURL(raw)
		if msg != "" {
			p.Addf("%s: %s", InfoAddress, msg)
		}
		b.host = host
		if port != 0 {
			b.port, portFromURL = port, true
		}
	case drivers.URLPassword(raw):
		p.Addf("%s: credentials go in %s and %s, not in the address", InfoAddress, InfoUsername, InfoPassword)
	default:
		if msg := checkHost(raw); msg != "" {
			p.Addf("%s %q: %s", InfoAddress, printable(raw), msg)
		}
		b.host = strings.Trim(raw, "[]")
	}

	if s, ok := info.String(InfoPort); ok && s != "" {
		port, err := strconv.Atoi(s)
		switch {
		case err != nil || port < 1 || port > 65535:
			p.Addf("%s must be a port number from 1 to 65535, got %q", InfoPort, printable(s))
		case portFromURL && port != b.port:
			p.Addf("%s %d contradicts the port %d of %s", InfoPort, port, b.port, InfoAddress)
		default:
			b.port = port
		}
	}

	if s, ok := info.String(InfoUsername); ok {
		switch {
		case len(s) > maxUsername:
			p.Addf("%s is longer than IPMI's %d bytes", InfoUsername, maxUsername)
		case strings.HasPrefix(s, "-"):
			p.Addf("%s must not start with '-'", InfoUsername)
		case hasControl(s):
			p.Addf("%s must not contain control characters", InfoUsername)
		}
		b.user = s
	}
	if s, ok := info.String(InfoPassword); ok {
		// Never quote the password in a problem.
		switch {
		case len(s) > maxPassword:
			p.Addf("%s is longer than IPMI 2.0's %d bytes", InfoPassword, maxPassword)
		case strings.ContainsRune(s, 0):
			p.Addf("%s must not contain a NUL byte", InfoPassword)
		}
		b.password = s
	}

	if s, ok := info.String(InfoPrivLevel); ok && s != "" && !strings.EqualFold(s, "ADMINISTRATOR") {
		p.Addf("%s %q is not supported: bmclib's ipmitool provider always asks for ADMINISTRATOR", InfoPrivLevel, printable(s))
	}
	if s, ok := info.String(InfoCipherSuite); ok && s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || n < 0 || n > 17:
			p.Addf("%s must be a cipher suite from 1 to 17, got %q", InfoCipherSuite, printable(s))
		case n == 0:
			p.Addf("%s 0 is refused: it authenticates nobody", InfoCipherSuite)
		default:
			b.cipher = strconv.Itoa(n)
		}
	}
	if s, ok := info.String(InfoProtocolVersion); ok && s != "" && s != "2.0" {
		p.Addf("%s %q is not supported: only 2.0 (lanplus); bmclib's ipmitool provider does not speak IPMI 1.5", InfoProtocolVersion, printable(s))
	}
	if s, ok := info.String(InfoInterface); ok && s != "" && s != "lanplus" {
		p.Addf("%s %q is not supported: only lanplus", InfoInterface, printable(s))
	}
	return b, p
}

// parseURL reads ipmi://host[:port]. Credentials, paths and queries are
// refused: credentials belong in their own keys.
func parseURL(raw string) (host string, port int, problem string) {
	if _, ok := drivers.ParseURLCredentials(raw); ok {
		return "", 0, "credentials go in " + InfoUsername + " and " + InfoPassword + ", not in the URL"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0, "not a valid ipmi://host[:port] URL"
	}
	switch {
	case u.User != nil:
		return "", 0, "credentials go in " + InfoUsername + " and " + InfoPassword + ", not in the URL"
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "", 0, "an ipmi:// URL has only a host and a port"
	}
	host = u.Hostname()
	if msg := checkHost(host); msg != "" {
		return "", 0, "host " + strconv.Quote(printable(host)) + ": " + msg
	}
	if s := u.Port(); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return host, 0, "port must be from 1 to 65535"
		}
		port = n
	}
	return host, port, ""
}

// checkHost accepts an IP address (v6 with or without brackets) or a DNS
// name, and nothing that ipmitool could read as an option.
func checkHost(h string) string {
	h = strings.TrimSpace(h)
	switch {
	case h == "":
		return "empty host"
	case strings.HasPrefix(h, "-"):
		return "must not start with '-'"
	case hasControl(h) || strings.ContainsAny(h, " \t"):
		return "must not contain spaces or control characters"
	}
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return ""
	}
	if len(h) > 253 {
		return "host name longer than 253 characters"
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return "not an IP address or a valid host name"
		}
		for _, r := range label {
			if !(r == '-' || r == '_' || r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
				return "not an IP address or a valid host name"
			}
		}
	}
	return ""
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return !utf8.ValidString(s)
}

// printable makes a value safe to quote in a message: control characters
// become '?', and it is cut at 64 bytes.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}
