package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// writeHtpasswd writes an htpasswd file with one bcrypt user.
func writeHtpasswd(t *testing.T, user, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte("# agents' users\n"+user+":"+string(h)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func get(t *testing.T, c *http.Client, url, user, password string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-OpenStack-Ironic-API-Version", "latest")
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// With http_basic, every endpoint but /healthz refuses anonymous requests
// and wrong credentials with 401 in Ironic's shape; the right ones pass.
func TestServeHTTPBasic(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, "--listen", "127.0.0.1:0", "--database", filepath.Join(dir, "a.db"), "--agent-id", "auth-agent",
		"--auth-strategy", "http_basic", "--htpasswd", writeHtpasswd(t, "ops", "correct horse"))
	c := &http.Client{}
	defer c.CloseIdleConnections()

	if resp, body := get(t, c, base+"/healthz", "", ""); resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz without credentials: %d %q", resp.StatusCode, body)
	}
	for _, path := range []string{"/", "/v1", "/v1/nodes", "/v1/conductors", "/readyz", "/metrics", "/v1/portgroups"} {
		for _, cred := range [][2]string{{"", ""}, {"ops", "wrong"}, {"eve", "correct horse"}} {
			resp, body := get(t, c, base+path, cred[0], cred[1])
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s as %q: %d, want 401", path, cred[0], resp.StatusCode)
				continue
			}
			if !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") || !strings.Contains(body, `"error_message"`) {
				t.Errorf("GET %s as %q: 401 without a Basic challenge or Ironic body: %v %s", path, cred[0], resp.Header, body)
			}
			if strings.Contains(body, "correct horse") {
				t.Errorf("GET %s: the answer repeats a password", path)
			}
		}
	}
	for _, path := range []string{"/v1/nodes", "/v1/conductors", "/readyz", "/metrics"} {
		resp, body := get(t, c, base+path, "ops", "correct horse")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with credentials: %d %s", path, resp.StatusCode, body)
		}
		if resp.Header.Get("X-Openstack-Request-Id") == "" {
			t.Errorf("GET %s: no request id", path)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// noauth is refused on an address other machines reach, and the refusal
// says how to proceed; bad auth and TLS flags are usage errors.
func TestServeSecurityFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "0.0.0.0:0"}, "--allow-remote-noauth"},
		{[]string{"--listen", ":0"}, "--auth-strategy http_basic"},
		{[]string{"--auth-strategy", "http_basic"}, "--htpasswd"},
		{[]string{"--auth-strategy", "keystone"}, "noauth or http_basic"},
		{[]string{"--htpasswd", "x"}, "needs --auth-strategy http_basic"},
		{[]string{"--auth-strategy", "http_basic", "--htpasswd", filepath.Join(dir, "missing")}, "htpasswd"},
		{[]string{"--tls-cert", "c.pem"}, "--tls-key"},
	} {
		args := append([]string{"serve", "--database", filepath.Join(dir, "x.db")}, tc.args...)
		err := run(context.Background(), args, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a usage error mentioning %q", tc.args, err, tc.want)
		}
	}
	for listen, want := range map[string]bool{"127.0.0.1:6385": true, "localhost:1": true, "[::1]:1": true, "0.0.0.0:1": false, ":1": false, "10.0.0.1:1": false} {
		if got := isLoopback(listen); got != want {
			t.Errorf("isLoopback(%q) = %v", listen, got)
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bmc-agent test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// With a certificate and key the agent serves the API over HTTPS.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	base, stop := startServe(t, "--listen", "127.0.0.1:0", "--database", filepath.Join(t.TempDir(), "a.db"),
		"--agent-id", "tls-agent", "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("serving on %s", base)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	c := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	resp, body := get(t, c, base+"/v1", "", "")
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("GET /v1 over TLS: %d %s", resp.StatusCode, body)
	}
	var doc struct {
		Version struct{ Version string } `json:"version"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Version.Version == "" {
		t.Fatalf("GET /v1: %s (%v)", body, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
