package simulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// FuzzEventServiceSubscribe posts any body to the Subscriptions collection:
// the simulator never panics and answers a client's mistake with a 4xx (a
// 503 only for the per-system limit, as bmcweb does); what it takes, it
// can also delete.
func FuzzEventServiceSubscribe(f *testing.F) {
	for _, seed := range []string{
		`{"Destination":"http://127.0.0.1:1/ev","Protocol":"Redfish"}`,
		`{"Destination":"http://127.0.0.1:1/ev","Protocol":"Redfish","HttpHeaders":[{"X-Token":"s"},{"Bad Name\r\n":"v\n"}]}`,
		`{"Destination":"http://127.0.0.1:1/ev","Protocol":"Redfish","HttpHeaders":[{"Host":"evil","Content-Length":"9"}]}`,
		`{"Destination":"http://127.0.0.1:1/ev","Protocol":"Redfish","HttpHeaders":null,"OriginResources":[{"@odata.id":"/redfish/v1/Systems/../Systems/1"}]}`,
		`{"Destination":"http://user:pw@127.0.0.1:1/ev","Protocol":"Redfish","Context":"` + string(bytes.Repeat([]byte("\u00e9"), 200)) + `"}`,
		`{"Destination":"http://[::1]:1/ev","Protocol":"Redfish","DeliveryRetryPolicy":"TerminateAfterRetries","RegistryPrefixes":[]}`,
		`{"Destination":"https://192.168.1.50/Destination1","Protocol":"Redfish","EventTypes":["Alert"]}`,
		`{"Destination":":","Protocol":"Redfish"}`, `{"Destination":1}`, `{"HttpHeaders":[1]}`, `[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	sim := startSim(f, Config{})
	hc := &http.Client{Timeout: 10 * time.Second}
	do := func(t *testing.T, method, url string, body []byte) (*http.Response, map[string]any) {
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("admin", "password")
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, out := do(t, http.MethodPost, sim.URL()+subscriptionsPath, body)
		switch {
		case resp.StatusCode == http.StatusCreated:
			loc := resp.Header.Get("Location")
			if r, _ := do(t, http.MethodDelete, sim.URL()+loc, nil); r.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE %s: %d", loc, r.StatusCode)
			}
		case resp.StatusCode >= 500:
			t.Fatalf("status %d %v for %q", resp.StatusCode, out, body)
		}
	})
}
