package redfish_test

import (
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/redfish"
	"github.com/bmc-agent/bmc-agent/simulator"
)

// TestTLS drives the simulator behind an HTTPS server with a self-signed
// certificate: verification is on by default, redfish_verify_ca=false turns
// it off, and a CA bundle (file or directory) makes the certificate trusted.
func TestTLS(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	ts := httptest.NewUnstartedServer(sim.Handler())
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	ts.StartTLS()
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bmc-ca.pem")
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(bundle, pemCert, 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, fastOptions())
	w := &waits{}
	w.install(d)
	host := strings.TrimPrefix(ts.URL, "https://")

	_, err := d.PowerState(ctx(t), nodeOf(ts.URL, id, nil))
	checkErr(t, err, drivers.ErrBMCUnreachable)
	if !strings.Contains(err.Error(), "certificate") || len(w.list()) != 0 {
		t.Fatalf("an untrusted certificate: %v (retries %v)", err, w.list())
	}
	for _, info := range []drivers.Info{
		{redfish.InfoVerifyCA: false},
		{redfish.InfoVerifyCA: "False"},
		{redfish.InfoVerifyCA: bundle},
		{redfish.InfoVerifyCA: dir},
		{redfish.InfoVerifyCA: bundle, redfish.InfoAddress: "redfish://" + host + "/redfish/v1/Systems/" + id},
		{redfish.InfoVerifyCA: bundle, redfish.InfoAddress: host}, // no scheme: HTTPS
	} {
		n := nodeOf(ts.URL, id, info)
		if err := d.Validate(drivers.PowerInterface, n); err != nil {
			t.Fatalf("%v: %v", info, err)
		}
		if err := d.SetPowerState(ctx(t), n, drivers.ActionPowerOn, 0); err != nil {
			t.Fatalf("%v: %v", info, err)
		}
	}
	if simPower(sim, id) != drivers.PowerOn {
		t.Fatal("not powered on over HTTPS")
	}
}
