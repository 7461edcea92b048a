package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSimProfiles runs `bmc-agent sim --profiles` and checks that the banner
// and the admin endpoint name which system got which profile.
func TestSimProfiles(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"sim", "--listen", "127.0.0.1:0", "--systems", "10", "--profiles", "dell-idrac=40,hpe-ilo=30,supermicro=30"}, pw, io.Discard)
		pw.CloseWithError(errors.New("sim returned"))
		done <- err
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(30 * time.Second):
			t.Error("sim did not stop")
		}
	}()
	var url, blocks string
	sc := bufio.NewScanner(pr)
	reURL := regexp.MustCompile(`listening on (http://\S+) `)
	for sc.Scan() {
		if m := reURL.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
		if b, ok := strings.CutPrefix(sc.Text(), "profiles: "); ok {
			blocks = b
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if want := "sys-00001..sys-00004 dell-idrac, sys-00005..sys-00007 hpe-ilo, sys-00008..sys-00010 supermicro"; blocks != want {
		t.Fatalf("banner profiles %q, want %q", blocks, want)
	}
	resp, err := http.Get(url + "/sim/systems/sys-00005/quirks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct{ Profile string }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got.Profile != "hpe-ilo" {
		t.Fatalf("admin profile of sys-00005: %q %v", got.Profile, err)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestSimProfileFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"sim", "--listen", "127.0.0.1:0", "--profile", "nope"},
		{"sim", "--listen", "127.0.0.1:0", "--profiles", "dell-idrac"},
		{"sim", "--listen", "127.0.0.1:0", "--profile", "ami", "--profiles", "ami=1"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Fatalf("%v: %v, want a usage error", args, err)
		}
	}
}
