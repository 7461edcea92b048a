package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// gophercloud's own baremetal acceptance tests, the ones Ironic's CI runs
// against a real Ironic: package internal/acceptance/openstack/baremetal/
// {noauth,httpbasic} of the gophercloud module this project depends on,
// build tag "acceptance", unchanged. They read IRONIC_ENDPOINT,
// OS_USERNAME, OS_PASSWORD and OS_BRANCH.
const acceptancePkg = "github.com/gophercloud/gophercloud/v2/internal/acceptance/openstack/baremetal/"

// acceptanceSkipped are the acceptance tests of resources the agent does
// not serve, each with the reason; every other test must pass.
var acceptanceSkipped = map[string]string{
	"TestAllocationsCreateDestroy": "the agent does not serve allocations (/v1/allocations answers 404; docs/api.md, what the agent does not serve)",
}

// TestGophercloudAcceptance runs gophercloud's baremetal acceptance tests
// with `go test -tags acceptance` against `bmc-agent serve --demo` (the
// agent with its Redfish simulator), once without authentication and once
// with http_basic and an htpasswd file. The skipped tests are named in the
// output with their reason; any other skip, or a failure, fails this test.
func TestGophercloudAcceptance(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Fatalf("the go command is needed to run gophercloud's acceptance tests: %v", err)
		}
	}
	for _, auth := range []string{"noauth", "httpbasic"} {
		t.Run(auth, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--listen", "127.0.0.1:0", "--database", filepath.Join(dir, "agent.db"),
				"--agent-id", "acceptance-agent", "--demo", "--sync-interval", "0"}
			env := []string{"OS_USERNAME=acceptance", "OS_BRANCH=master"}
			if auth == "httpbasic" {
				args = append(args, "--auth-strategy", "http_basic", "--htpasswd", writeHtpasswd(t, "acceptance", "s3cret pass"))
				env = append(env, "OS_PASSWORD=s3cret pass")
			}
			base, stop := startServe(t, args...)
			env = append(env, "IRONIC_ENDPOINT="+base+"/v1")

			skip := slices.Sorted(func(yield func(string) bool) {
				for k := range acceptanceSkipped {
					if !yield(k) {
						return
					}
				}
			})
			for _, name := range skip {
				t.Logf("skipped by name: %s: %s", name, acceptanceSkipped[name])
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, goBin, "test", "-count=1", "-v", "-tags", "acceptance",
				"-skip", "^("+strings.Join(skip, "|")+")$", acceptancePkg+auth)
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			passed, bad := readGoTestResults(string(out))
			for _, line := range bad {
				t.Errorf("%s", line)
			}
			if err != nil || len(bad) > 0 || len(passed) == 0 {
				t.Fatalf("go test %s%s: %v; passed %v\n%s", acceptancePkg, auth, err, passed, out)
			}
			t.Logf("gophercloud %s acceptance: passed %v", auth, passed)
			if err := stop(); err != nil {
				t.Fatalf("serve: %v", err)
			}
		})
	}
}

var resultLine = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// readGoTestResults reads `go test -v` output: the tests that passed, and a
// line for each that failed or skipped itself.
func readGoTestResults(out string) (passed, bad []string) {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		m := resultLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		switch m[1] {
		case "PASS":
			passed = append(passed, m[2])
		default:
			bad = append(bad, m[1]+" "+m[2]+": only tests of resources the agent does not serve may be left out, by name")
		}
	}
	return passed, bad
}
