package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"
)

// TestSimTLS runs `bmc-agent sim --tls`: it serves HTTPS with a certificate
// generated at start whose fingerprint the banner prints, and Basic
// authentication and session creation work over it.
func TestSimTLS(t *testing.T) {
	pr := runSimCmd(t, "--listen", "127.0.0.1:0", "--tls")
	urlRe := regexp.MustCompile(`listening on (https://127\.0\.0\.1:\d+) `)
	fpRe := regexp.MustCompile(`SHA-256 fingerprint ([0-9a-f]{64})$`)
	var base, fp string
	sc := bufio.NewScanner(pr)
	for (base == "" || fp == "") && sc.Scan() {
		if m := urlRe.FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
		}
		if m := fpRe.FindStringSubmatch(sc.Text()); m != nil {
			fp = m[1]
		}
	}
	go io.Copy(io.Discard, pr)
	if base == "" || fp == "" {
		t.Fatalf("banner: url %q fingerprint %q", base, fp)
	}
	// Trust exactly the certificate the banner names.
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			sum := sha256.Sum256(raw[0])
			if hex.EncodeToString(sum[:]) != fp {
				return fmt.Errorf("certificate fingerprint %x, banner said %s", sum, fp)
			}
			return nil
		},
	}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, base+"/redfish/v1/Systems/sys-00001", nil)
	req.SetBasicAuth("admin", "password")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET system over HTTPS: %d", resp.StatusCode)
	}
	resp, err = hc.Post(base+"/redfish/v1/SessionService/Sessions", "application/json",
		bytes.NewBufferString(`{"UserName":"admin","Password":"password"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Auth-Token") == "" {
		t.Fatalf("session over HTTPS: %d", resp.StatusCode)
	}
}

func TestSimTLSUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"sim", "--listen", "127.0.0.1:0", "--tls-cert", "cert.pem"},
		{"sim", "--listen", "127.0.0.1:0", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

// runSimCmd runs `bmc-agent sim args...` until the test ends and returns
// its standard output.
func runSimCmd(t *testing.T, args ...string) io.Reader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"sim"}, args...), pw, io.Discard)
		pw.CloseWithError(errors.New("sim returned"))
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		go io.Copy(io.Discard, pr) // let the banner writer finish
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(30 * time.Second):
			t.Error("sim did not stop")
		}
	})
	return pr
}
