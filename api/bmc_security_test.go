package api_test

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// BMC certificates are verified unless the node says otherwise: against
// the simulator behind TLS with a certificate of its own, a node without
// redfish_verify_ca fails (validate and power, naming the certificate, and
// the BMC is not touched); with the BMC's CA given as redfish_verify_ca, or
// with redfish_verify_ca false, the same power change works.
func TestBMCCertificateVerified(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Systems: 3, Username: "admin", Password: bmcPassword})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(sim.Handler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(func() { srv.Close(); sim.Close() })
	ca := filepath.Join(t.TempDir(), "bmc-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	rf := redfish.New(redfish.Options{MaxRetries: -1, PollInterval: 10 * time.Millisecond, PowerTimeout: 10 * time.Second})
	e := newEnv(t, envOptions{drivers: []drivers.Driver{rf}})
	ids := sim.SystemIDs()
	node := func(name, id, verify string) string {
		v := ""
		if verify != "" {
			v = `, "redfish_verify_ca": ` + verify
		}
		return createNode(t, e, fmt.Sprintf(`{"name": %q, "driver": "redfish", "driver_info": {"redfish_address": %q,
			"redfish_system_id": %q, "redfish_username": "admin", "redfish_password": %q%s}}`, name, srv.URL, id, bmcPassword, v))
	}
	node("strict", ids[0], "")
	node("with-ca", ids[1], fmt.Sprintf("%q", ca))
	node("insecure", ids[2], "false")

	resp, b := call(t, "GET", e.URL+"/v1/nodes/strict/validate", "1.89", "")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(faultString(t, b), "certificate") {
		t.Errorf("validate against an unknown certificate: %d %s", resp.StatusCode, b)
	}
	for _, name := range []string{"strict", "with-ca", "insecure"} {
		if resp, b := call(t, "PUT", e.URL+"/v1/nodes/"+name+"/states/power", "1.89", `{"target": "power on"}`); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("power on %s: %d %s", name, resp.StatusCode, b)
		}
	}
	n := waitIdle(t, e, "strict")
	if le, _ := n["last_error"].(string); n["power_state"] != nil || !strings.Contains(le, "certificate") {
		t.Errorf("power on against an unknown certificate: power %v, last_error %q", n["power_state"], le)
	}
	if st := sim.System(ids[0]).PowerState(); st != simulator.PowerOff {
		t.Errorf("the BMC with the unverified certificate was powered: %s", st)
	}
	for i, name := range []string{"with-ca", "insecure"} {
		if n := waitIdle(t, e, name); n["power_state"] != "power on" || n["last_error"] != nil {
			t.Errorf("%s: %v", name, n)
		}
		if st := sim.System(ids[i+1]).PowerState(); st != simulator.PowerOn {
			t.Errorf("%s: the simulator reads %s", name, st)
		}
	}
}

// driver_info values that ipmitool could read as options of its own are
// refused before any ipmitool runs: a power or boot device change is a 400
// naming the field, and validate reports the field as the power
// interface's problem.
func TestDriverInfoOptionSmuggling(t *testing.T) {
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	fakeIpmitool := filepath.Join(dir, "ipmitool")
	if err := os.WriteFile(fakeIpmitool, []byte("#!/bin/sh\necho \"$@\" >> "+ran+"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{drivers: []drivers.Driver{ipmi.New(ipmi.Config{Ipmitool: fakeIpmitool, Retries: -1})}})
	for _, tc := range []struct {
		field string
		info  string
	}{
		{"ipmi_address", `"ipmi_address": "-oProxyCommand=touch /tmp/pwned"`},
		{"ipmi_address", `"ipmi_address": "bmc.example\n-H evil"`},
		{"ipmi_address", `"ipmi_address": "ipmi://-evil:623"`},
		{"ipmi_username", `"ipmi_address": "10.0.0.5", "ipmi_username": "-E"`},
		{"ipmi_port", `"ipmi_address": "10.0.0.5", "ipmi_port": "623 -L ADMINISTRATOR"`},
		{"ipmi_cipher_suite", `"ipmi_address": "10.0.0.5", "ipmi_cipher_suite": "3 -I lan"`},
		{"ipmi_interface", `"ipmi_address": "10.0.0.5", "ipmi_interface": "lan -U root"`},
		{"ipmi_priv_level", `"ipmi_address": "10.0.0.5", "ipmi_priv_level": "USER -f /etc/shadow"`},
	} {
		id := createNode(t, e, `{"driver": "ipmi", "driver_info": {`+tc.info+`}}`)
		for _, req := range [][3]string{
			{"PUT", "/states/power", `{"target": "power on"}`},
			{"PUT", "/management/boot_device", `{"boot_device": "pxe"}`},
		} {
			resp, b := call(t, req[0], e.URL+"/v1/nodes/"+id+req[1], "1.89", req[2])
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(faultString(t, b), tc.field) {
				t.Errorf("%s %s with %s: %d %s, want 400 naming %s", req[0], req[1], tc.info, resp.StatusCode, b, tc.field)
			}
		}
		resp, b := call(t, "GET", e.URL+"/v1/nodes/"+id+"/validate", "1.89", "")
		var v map[string]struct {
			Result *bool
			Reason *string
		}
		json.Unmarshal(b, &v)
		if p := v["power"]; resp.StatusCode != http.StatusOK || p.Result == nil || *p.Result || p.Reason == nil || !strings.Contains(*p.Reason, tc.field) {
			t.Errorf("validate with %s: %d %s", tc.info, resp.StatusCode, b)
		}
		if n := readNode(t, e, id); n["target_power_state"] != nil || n["reservation"] != nil {
			t.Errorf("a refused request left the node busy: %v", n)
		}
	}
	if out, err := os.ReadFile(ran); err == nil {
		t.Errorf("ipmitool ran: %s", out)
	}
}
