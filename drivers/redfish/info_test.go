package redfish_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
)

func TestValidateAcceptsAddressForms(t *testing.T) {
	d := redfish.New(redfish.Options{})
	for _, info := range []drivers.Info{
		{redfish.InfoAddress: "https://10.0.0.5", redfish.InfoSystemID: "/redfish/v1/Systems/1"},
		{redfish.InfoAddress: "10.0.0.5:8443", redfish.InfoSystemID: "1"}, // Ironic: no scheme means https
		{redfish.InfoAddress: "http://bmc.example.com/redfish/v1/"},
		{redfish.InfoAddress: "redfish://10.0.0.5/redfish/v1/Systems/1"},
		{redfish.InfoAddress: "redfish+http://10.0.0.5:8000/redfish/v1/Systems/sys-00001"},
		{redfish.InfoAddress: "redfish+https://[fd00::5]:443/redfish/v1/Systems/1", redfish.InfoSystemID: "/redfish/v1/Systems/1"},
		{redfish.InfoAddress: "redfish-virtualmedia://10.0.0.5/redfish/v1/Systems/System.Embedded.1"},
		{redfish.InfoAddress: "redfish-virtualmedia+http://10.0.0.5/redfish/v1/Systems/1"},
		{redfish.InfoAddress: "https://10.0.0.5", redfish.InfoVerifyCA: false, redfish.InfoAuthType: "basic", redfish.InfoTimeout: 45.0},
		{redfish.InfoAddress: "https://10.0.0.5", redfish.InfoVerifyCA: "no", redfish.InfoAuthType: "Session", redfish.InfoTimeout: "1m30s"},
	} {
		info[redfish.InfoUsername], info[redfish.InfoPassword] = user, pass
		for _, iface := range drivers.Interfaces {
			if err := d.Validate(iface, drivers.Node{Info: info}); err != nil {
				t.Errorf("Validate(%s, %v): %v", iface, info.Redacted(), err)
			}
		}
	}
}

// TestValidateReportsEveryProblem checks that one bad driver_info gives one
// error listing each problem, and no secret.
func TestValidateReportsEveryProblem(t *testing.T) {
	d := redfish.New(redfish.Options{})
	cases := []struct {
		name string
		info drivers.Info
		want []string
	}{
		{"empty", drivers.Info{}, []string{"redfish_address is required"}},
		{"many", drivers.Info{
			redfish.InfoAddress:  "redfish://10.0.0.5/redfish/v1/Systems/1",
			redfish.InfoSystemID: "2",
			redfish.InfoPassword: pass,
			redfish.InfoVerifyCA: 3.0,
			redfish.InfoAuthType: "kerberos",
			redfish.InfoTimeout:  "soon",
			"redfish_pasword":    "typo",
		}, []string{
			`redfish_system_id "/redfish/v1/Systems/2" contradicts`,
			"redfish_password is set but redfish_username is not",
			"redfish_verify_ca must be true, false or the path",
			"redfish_auth_type must be one of basic, session or auto",
			"redfish_timeout",
			"unknown keys redfish_pasword",
		}},
		{"scheme", drivers.Info{redfish.InfoAddress: "ipmi://10.0.0.5"}, []string{`scheme "ipmi" is not one of`}},
		{"credentials in the URL", drivers.Info{redfish.InfoAddress: "https://root:" + pass + "@10.0.0.5"}, []string{"must not hold credentials"}},
		{"metal3 path", drivers.Info{redfish.InfoAddress: "redfish://10.0.0.5/something"}, []string{"the path must name a system"}},
		{"root prefix", drivers.Info{redfish.InfoAddress: "https://10.0.0.5/api"}, []string{"only the standard service root"}},
		{"no host", drivers.Info{redfish.InfoAddress: "https://"}, []string{"has no host"}},
		{"system id", drivers.Info{redfish.InfoAddress: "10.0.0.5", redfish.InfoSystemID: "/Systems/1"}, []string{"not a path below /redfish/v1/"}},
		{"user without password", drivers.Info{redfish.InfoAddress: "10.0.0.5", redfish.InfoUsername: user}, []string{"redfish_username is set but redfish_password is not"}},
		{"timeout range", drivers.Info{redfish.InfoAddress: "10.0.0.5", redfish.InfoTimeout: -1.0}, []string{"must be positive"}},
		{"missing CA", drivers.Info{redfish.InfoAddress: "10.0.0.5", redfish.InfoVerifyCA: filepath.Join(t.TempDir(), "none.pem")}, []string{"redfish_verify_ca: CA bundle"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := d.Validate(drivers.PowerInterface, drivers.Node{Info: c.info})
			var ie *drivers.InvalidInfoError
			if !errors.As(err, &ie) || !errors.Is(err, drivers.ErrInvalidInfo) {
				t.Fatalf("Validate: %v, want an InvalidInfoError", err)
			}
			if len(ie.Problems) != len(c.want) {
				t.Errorf("%d problems, want %d: %q", len(ie.Problems), len(c.want), ie.Problems)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), pass) {
				t.Errorf("the password leaked: %q", err)
			}
		})
	}
}

func TestValidateCABundle(t *testing.T) {
	d := redfish.New(redfish.Options{})
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := d.Validate(drivers.PowerInterface, drivers.Node{Info: drivers.Info{redfish.InfoAddress: "10.0.0.5", redfish.InfoVerifyCA: junk}})
	if !errors.Is(err, drivers.ErrInvalidInfo) || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("a CA bundle without certificates: %v", err)
	}
	// A good bundle (and a directory holding it) is tested against a TLS
	// BMC in tls_test.go.
}
