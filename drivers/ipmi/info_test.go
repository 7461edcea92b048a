package ipmi

import (
	"errors"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
)

func TestParseInfo(t *testing.T) {
	for _, c := range []struct {
		name     string
		info     drivers.Info
		addr     string
		cipher   string
		problems []string // substrings, one per expected problem
	}{
		{"host and default port", drivers.Info{"ipmi_address": "10.0.0.5", "ipmi_username": "admin", "ipmi_password": "pw"}, "10.0.0.5:623", "", nil},
		{"port as JSON number", drivers.Info{"ipmi_address": "bmc1.example.com", "ipmi_port": float64(6230)}, "bmc1.example.com:6230", "", nil},
		{"URL", drivers.Info{"ipmi_address": "ipmi://10.0.0.5:6231"}, "10.0.0.5:6231", "", nil},
		{"URL without port", drivers.Info{"ipmi_address": "ipmi://[fd00::1]"}, "[fd00::1]:623", "", nil},
		{"IPv6", drivers.Info{"ipmi_address": "fd00::1", "ipmi_cipher_suite": "17"}, "[fd00::1]:623", "17", nil},
		{"all the options", drivers.Info{"ipmi_address": "h", "ipmi_priv_level": "administrator", "ipmi_protocol_version": "2.0", "ipmi_interface": "lanplus", "ipmi_cipher_suite": float64(3)}, "h:623", "3", nil},
		{"empty", drivers.Info{}, "", "", []string{"ipmi_address is required"}},
		{"everything wrong at once", drivers.Info{
			"ipmi_address": "-oProxyCommand=x", "ipmi_port": "70000", "ipmi_username": "-E", "ipmi_password": strings.Repeat("p", 21),
			"ipmi_priv_level": "USER", "ipmi_cipher_suite": "0", "ipmi_protocol_version": "1.5", "ipmi_interface": "lan",
		}, "", "", []string{"ipmi_address", "ipmi_port", "ipmi_username", "ipmi_password", "ipmi_priv_level", "ipmi_cipher_suite", "ipmi_protocol_version", "ipmi_interface"}},
		{"control characters", drivers.Info{"ipmi_address": "bmc\n-H evil", "ipmi_username": "ad\tmin"}, "", "", []string{"ipmi_address", "ipmi_username"}},
		{"URL with credentials", drivers.Info{"ipmi_address": "ipmi://admin:secret@10.0.0.5"}, "", "", []string{"credentials go in"}},
		{"URL port contradicts ipmi_port", drivers.Info{"ipmi_address": "ipmi://h:700", "ipmi_port": "701"}, "", "", []string{"contradicts"}},
		{"not a host", drivers.Info{"ipmi_address": "a..b"}, "", "", []string{"ipmi_address"}},
		{"cipher suite out of range", drivers.Info{"ipmi_address": "h", "ipmi_cipher_suite": "18"}, "", "", []string{"ipmi_cipher_suite"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, p := parseInfo(c.info)
			if len(p) != len(c.problems) {
				t.Fatalf("problems %q, want %d matching %q", p, len(c.problems), c.problems)
			}
			for i, want := range c.problems {
				if !strings.Contains(p[i], want) {
					t.Errorf("problem %d %q, want it to mention %q", i, p[i], want)
				}
			}
			if c.problems == nil && (b.addr() != c.addr || b.cipher != c.cipher) {
				t.Fatalf("parsed %s cipher %q, want %s cipher %q", b.addr(), b.cipher, c.addr, c.cipher)
			}
		})
	}
}

func TestValidateNeverShowsThePassword(t *testing.T) {
	const pw = "p-\x01secret-that-is-far-too-long"
	err := New(Config{}).Validate(drivers.PowerInterface, drivers.Node{Info: drivers.Info{"ipmi_address": "h", "ipmi_password": pw}})
	if !errors.Is(err, drivers.ErrInvalidInfo) {
		t.Fatalf("too long a password: %v", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("the error shows the password: %v", err)
	}
}

func TestValidateVirtualMedia(t *testing.T) {
	err := New(Config{}).Validate(drivers.VMediaInterface, drivers.Node{Info: drivers.Info{"ipmi_address": "h"}})
	var ue *drivers.UnsupportedError
	if !errors.As(err, &ue) || ue.Driver != Name {
		t.Fatalf("Validate(vmedia): %v, want an UnsupportedError naming the driver", err)
	}
}

func TestClassifyText(t *testing.T) {
	for _, c := range []struct {
		out       string
		kind      error
		transient bool
	}{
		{"Error: Unable to establish IPMI v2 / RMCP+ session", errSession, false},
		{"Error in open session response message : insufficient resources for session\nError: Unable to establish IPMI v2 / RMCP+ session", drivers.ErrBMCFailed, true},
		{"Set Chassis Power Control to Up/On failed: Node busy", drivers.ErrBMCFailed, true},
		{"Set Chassis Power Control to Diag failed: Invalid data field in request", drivers.ErrBMCRejected, false},
		{"Set Chassis Power Control to Diag failed: Command not supported in present state", drivers.ErrBMCRejected, false},
		{"Set Chassis Power Control to Up/On failed: Insufficient privilege level", drivers.ErrBMCAuth, false},
		{"Set Chassis Boot Parameter 5 failed: Unspecified error", drivers.ErrBMCFailed, false},
		{"something new", drivers.ErrBMCFailed, false},
	} {
		kind, transient := classifyText(c.out)
		if kind != c.kind || transient != c.transient {
			t.Errorf("%q: %v transient=%v, want %v transient=%v", c.out, kind, transient, c.kind, c.transient)
		}
	}
}

func TestParseBootParam(t *testing.T) {
	yes, no := true, false
	for _, c := range []struct {
		out        string
		dev        drivers.BootDevice
		persistent *bool
	}{
		{"Boot parameter version: 1\nBoot parameter 5 is valid/unlocked\nBoot parameter data: 0004000000\n Boot Flags :\n", drivers.BootPXE, nil},
		{"Boot parameter data: e008000000\n", drivers.BootDisk, &yes},
		{"Boot parameter data: a014000000\n", drivers.BootCDROM, &no},
		{"Boot parameter data: 8018000000\n", drivers.BootBIOS, &no},
		{"Boot parameter data: c00c000000\n", drivers.BootSafe, &yes},
		{"Boot parameter data: 0000000000\n", drivers.NoBootDevice, nil},
		{"Boot parameter data: 803c000000\n", drivers.NoBootDevice, &no}, // floppy: not an agent device
	} {
		st, err := parseBootParam(c.out)
		if err != nil || st.Device != c.dev || (st.Persistent == nil) != (c.persistent == nil) ||
			(st.Persistent != nil && *st.Persistent != *c.persistent) {
			t.Errorf("%q: %+v (%v), want %s persistent %v", c.out, st, err, c.dev, c.persistent)
		}
	}
	if _, err := parseBootParam("Error: nothing"); err == nil {
		t.Error("output without data parsed")
	}
}

func TestParsePower(t *testing.T) {
	for out, want := range map[string]drivers.PowerState{
		"Chassis Power is on\n":  drivers.PowerOn,
		"Chassis Power is off\n": drivers.PowerOff,
		"On":                     drivers.PowerError,
	} {
		if got := parsePower(out); got != want {
			t.Errorf("%q: %q, want %q", out, got, want)
		}
	}
}
