package ipmi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// redfishPower reads a ComputerSystem's PowerState over HTTP.
func redfishPower(t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctxFor(t), http.MethodGet, url, nil)
	req.SetBasicAuth("admin", "password")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sys struct{ PowerState string }
	if err := json.NewDecoder(resp.Body).Decode(&sys); err != nil {
		t.Fatal(err)
	}
	return sys.PowerState
}

// redfishReset posts ComputerSystem.Reset over HTTP.
func redfishReset(t *testing.T, url, kind string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctxFor(t), http.MethodPost, url+"/Actions/ComputerSystem.Reset",
		strings.NewReader(`{"ResetType":"`+kind+`"}`))
	req.SetBasicAuth("admin", "password")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("Redfish reset %s: %s", kind, resp.Status)
	}
}
