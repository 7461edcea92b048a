package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/api"
	"golang.org/x/crypto/bcrypt"
)

// HTTP Basic against an htpasswd file: anonymous and wrong credentials get
// 401 in Ironic's shape with a Basic challenge; the right ones pass, and
// again from the remembered digest.
func TestAuthenticate(t *testing.T) {
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	auth, err := api.ParseHtpasswd(strings.NewReader("# users\n\nops:"+string(h)+"\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{auth: auth})
	for _, tc := range []struct {
		user, pass string
		status     int
	}{{"", "", 401}, {"ops", "wrong", 401}, {"nobody", "pw", 401}, {"ops", "pw", 200}, {"ops", "pw", 200}, {"ops", "pw2", 401}} {
		req, _ := http.NewRequest("GET", e.URL+"/v1/nodes", nil)
		if tc.user != "" {
			req.SetBasicAuth(tc.user, tc.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Fatalf("%q/%q: %d, want %d", tc.user, tc.pass, resp.StatusCode, tc.status)
		}
		if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Fatalf("401 without a Basic challenge: %v", resp.Header)
		}
	}
	for _, bad := range []string{"ops:{SHA}abc\n", "ops\n", "", "ops:$apr1$x$y\n"} {
		if _, err := api.ParseHtpasswd(strings.NewReader(bad), "bad"); err == nil {
			t.Errorf("htpasswd %q accepted", bad)
		}
	}
}
