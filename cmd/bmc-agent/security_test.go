package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/ipmisim"
)

// endpoints reads every path and method docs/openapi.yaml describes: the
// API's and those the program serves beside it. A test driven by it covers
// an endpoint as soon as it is documented, and the API's own test makes
// sure that every endpoint it serves is.
func endpoints(t *testing.T) [][2]string {
	t.Helper()
	f, err := os.Open("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pathRE := regexp.MustCompile(`^  (/[^:]*):$`)
	methodRE := regexp.MustCompile(`^    (get|put|post|patch|delete|head|options):`)
	var out [][2]string
	path := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := pathRE.FindStringSubmatch(sc.Text()); m != nil {
			path = m[1]
		} else if m := methodRE.FindStringSubmatch(sc.Text()); m != nil && path != "" {
			out = append(out, [2]string{strings.ToUpper(m[1]), path})
		} else if !strings.HasPrefix(sc.Text(), " ") {
			path = ""
		}
	}
	return out
}

// With --auth-strategy http_basic, every documented endpoint and method,
// and any other path, refuses an anonymous request with 401, except GET
// /healthz; with the right credentials none does. (Wrong credentials cost a
// bcrypt comparison each: TestServeHTTPBasic tries them on a few paths.)
func TestEveryEndpointNeedsAuthentication(t *testing.T) {
	const user, password = "ops", "api-Walrus-55531"
	base, stop := startServe(t, "--database", filepath.Join(t.TempDir(), "a.db"), "--agent-id", "auth-agent", "--sync-interval", "0",
		"--listen", "127.0.0.1:0", "--auth-strategy", "http_basic", "--htpasswd", writeHtpasswd(t, user, password))
	eps := endpoints(t)
	if len(eps) < 40 {
		t.Fatalf("read only %d endpoints from docs/openapi.yaml", len(eps))
	}
	for _, extra := range []string{"/v1/portgroups", "/v1/nodes/n1/bios", "/nonexistent", "/v1/chassis"} {
		eps = append(eps, [2]string{"GET", extra})
	}
	eps = append(eps, [2]string{"HEAD", "/v1/nodes"}, [2]string{"OPTIONS", "/v1/nodes"})
	params := regexp.MustCompile(`\{[^}]*\}`)
	c := newAPIClient(t, base)
	for _, ep := range eps {
		method, path := ep[0], params.ReplaceAllString(ep[1], "missing-1")
		body := ""
		if method == "PUT" || method == "POST" || method == "PATCH" {
			body = "{}"
		}
		c.user, c.pass = "", ""
		status, out, err := c.do(method, path, body)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		open := method == "GET" && path == "/healthz"
		if open && status != http.StatusOK || !open && status != http.StatusUnauthorized {
			t.Errorf("anonymous %s %s: %d %s", method, path, status, out)
		}
		c.user, c.pass = user, password
		if status, out, _ := c.do(method, path, body); status == http.StatusUnauthorized {
			t.Errorf("%s %s with the right credentials: %d %s", method, path, status, out)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// cmdlines records the command line of every process on the machine, as
// often as it can, until stopped.
type cmdlines struct {
	mu   sync.Mutex
	seen map[string]bool
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func watchCmdlines() *cmdlines {
	w := &cmdlines{seen: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				if e.Name()[0] < '0' || e.Name()[0] > '9' {
					continue
				}
				b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
				if err != nil || len(b) == 0 {
					continue
				}
				s := strings.ReplaceAll(string(b), "\x00", " ")
				w.mu.Lock()
				w.seen[s] = true
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// matching returns the command lines seen that contain s.
func (w *cmdlines) matching(s string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for c := range w.seen {
		if strings.Contains(c, s) {
			out = append(out, c)
		}
	}
	return out
}

func (w *cmdlines) close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// A full run with a distinctive BMC password on Redfish, IPMI and fake
// nodes (enroll, read, update, validate, power, boot device, the power
// sync; BMCs that refuse the login; driver_info the drivers refuse), with
// the agent logging at debug level as text and as JSON: the password is in
// no API answer (bodies and errors), no line of the log, not in /metrics and
// on the command line of no process of the machine, ipmitool's included.
// Neither is the API user's password.
func TestPasswordsNeverShown(t *testing.T) {
	ctx := context.Background()
	sim, err := simulator.New(simulator.Config{Systems: 4, Username: "admin", Password: bmcPassword})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	face := ipmisim.New(sim, ipmisim.Config{Username: "admin", Password: bmcPassword})
	if err := face.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	for _, id := range []string{"sys-00003", "sys-00004"} {
		if err := sim.SetFault(id, simulator.Fault{RefuseLogin: true}); err != nil {
			t.Fatal(err)
		}
	}
	htpasswd := writeHtpasswd(t, apiUser, apiPassword)
	procs := watchCmdlines()
	defer procs.close()

	// Two agents, one logging text and one JSON, at once on the same BMCs.
	t.Run("agents", func(t *testing.T) {
		for _, format := range []string{"text", "json"} {
			t.Run(format, func(t *testing.T) {
				t.Parallel()
				passwordScenario(t, format, sim, face, procs, htpasswd)
			})
		}
	})
	procs.close()
	for _, secret := range []string{bmcPassword, apiPassword} {
		if m := procs.matching(secret); len(m) > 0 {
			t.Errorf("a password is on a command line: %q", m)
		}
	}
	t.Logf("%d command lines seen, %d of ipmitool", len(procs.seen), len(procs.matching("ipmitool")))
}

const (
	bmcPassword          = "Pw-Zebra-91827-Qx" // IPMI passwords have at most 20 bytes
	apiUser, apiPassword = "ops", "api-Walrus-55531"
)

// passwordScenario is TestPasswordsNeverShown's run of one agent logging
// in format.
func passwordScenario(t *testing.T, format string, sim *simulator.Simulator, face *ipmisim.Face, procs *cmdlines, htpasswd string) {
	a := startAgent(t, "--database", filepath.Join(t.TempDir(), "agent.db"), "--agent-id", "secret-keeper",
		"--auth-strategy", "http_basic", "--htpasswd", htpasswd, "--log-format", format, "--log-level", "debug",
		"--sync-interval", "1s", "--heartbeat-interval", "500ms", "--heartbeat-timeout", "2s")
	c := newAPIClient(t, a.URL)
	c.user, c.pass = apiUser, apiPassword
	redfishNode := func(name, id string) string {
		return fmt.Sprintf(`{"name": %q, "driver": "redfish", "driver_info": {"redfish_address": %q, "redfish_system_id": %q,
					"redfish_username": "admin", "redfish_password": %q}}`, name, sim.Endpoint(id), id, bmcPassword)
	}
	ipmiNode := func(name, id, password string) string {
		return fmt.Sprintf(`{"name": %q, "driver": "ipmi", "driver_info": {"ipmi_address": "127.0.0.1", "ipmi_port": %d,
					"ipmi_username": "admin", "ipmi_password": %q, "ipmi_cipher_suite": "3"}}`, name, face.Port(id), password)
	}
	for _, body := range []string{
		redfishNode("rf", "sys-00001"),
		ipmiNode("ipmi", "sys-00002", bmcPassword),
		redfishNode("rf-refused", "sys-00003"),
		ipmiNode("ipmi-refused", "sys-00004", bmcPassword),
		ipmiNode("ipmi-long", "sys-00002", bmcPassword+bmcPassword), // longer than IPMI allows
		`{"name": "fk", "driver": "fake", "driver_info": {"fake_password": "placeholder"}}`,
	} {
		if out := c.must(t, http.StatusCreated, "POST", "/v1/nodes", body); !strings.Contains(out, "******") {
			t.Errorf("a created node shows no redacted secret: %s", out)
		}
	}
	// A password in an address is refused, naming the field.
	status, out, _ := c.do("POST", "/v1/nodes", fmt.Sprintf(`{"name": "rf-url", "driver": "redfish", "driver_info":
				{"redfish_address": "http://admin:%s@127.0.0.1:1"}}`, bmcPassword))
	if status != http.StatusBadRequest || !strings.Contains(out, "redfish_address") {
		t.Errorf("an address with a password: %d %s", status, out)
	}
	c.must(t, http.StatusOK, "PATCH", "/v1/nodes/fk", fmt.Sprintf(`[{"op": "replace", "path": "/driver_info/fake_password", "value": %q}]`, bmcPassword))
	c.must(t, http.StatusOK, "GET", "/v1/nodes/detail", "")
	nodes := []string{"rf", "ipmi", "rf-refused", "ipmi-refused", "ipmi-long", "fk"}
	for _, n := range nodes {
		c.must(t, http.StatusOK, "GET", "/v1/nodes/"+n, "")
		c.must(t, http.StatusOK, "GET", "/v1/nodes/"+n+"/validate", "")
		c.do("PUT", "/v1/nodes/"+n+"/states/power", `{"target": "power on"}`)
	}
	for _, n := range nodes {
		c.waitNode(t, n, "done", func(n map[string]any) bool { return n["target_power_state"] == nil })
	}
	for _, n := range []string{"rf-refused", "ipmi-refused"} {
		if le := str(c.node(t, n), "last_error"); !strings.Contains(le, "BMC refused the credentials") {
			t.Errorf("%s: last_error %q does not name the refused login", n, le)
		} else if format == "text" {
			t.Logf("%s: %s", n, le)
		}
	}
	for _, n := range []string{"rf", "ipmi"} {
		c.must(t, http.StatusOK, "GET", "/v1/nodes/"+n+"/management/boot_device", "")
		c.must(t, http.StatusNoContent, "PUT", "/v1/nodes/"+n+"/management/boot_device", `{"boot_device": "pxe"}`)
		c.must(t, http.StatusAccepted, "PUT", "/v1/nodes/"+n+"/states/power", `{"target": "power off"}`)
		c.waitNode(t, n, "off", func(n map[string]any) bool { return str(n, "power_state") == "power off" && unlocked(n) })
	}
	for _, p := range []string{"/metrics", "/v1/conductors?detail=true", "/v1/drivers?detail=true", "/readyz"} {
		c.must(t, http.StatusOK, "GET", p, "")
	}
	// ipmitool must have been seen running for this agent's IPMI node
	// (else the command line check proves nothing): read its boot device
	// until it was.
	ours := func() (n int) {
		for _, c := range procs.matching("ipmitool") {
			if strings.Contains(c, fmt.Sprintf(" %d ", face.Port("sys-00002"))) {
				n++
			}
		}
		return n
	}
	for i := 0; ours() == 0; i++ {
		if i == 100 {
			t.Fatal("never saw ipmitool running")
		}
		c.must(t, http.StatusOK, "GET", "/v1/nodes/ipmi/management/boot_device", "")
	}
	c.user = "intruder"
	c.do("GET", "/v1/nodes", "")

	a.signal(t, syscall.SIGTERM)
	if code := a.wait(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	log := a.stderr.String()
	if debug := map[string]string{"text": "level=DEBUG", "json": `"level":"DEBUG"`}[format]; !strings.Contains(log, debug) {
		t.Fatalf("the log has no debug lines:\n%s", log)
	}
	for _, secret := range []string{bmcPassword, apiPassword} {
		for what, text := range map[string]string{"log": log, "output": a.stdout.String(), "API answers": c.seen.String()} {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("a password is in the agent's %s: ...%s...", what, text[max(0, i-200):min(len(text), i+50)])
			}
		}
	}
	if !strings.Contains(c.seen.String(), "bmc_agent_") {
		t.Error("/metrics was not read")
	}
}

// Request bodies are limited to 1 MiB on every endpoint that takes one,
// whether the client announces the length or streams it: 413, in Ironic's
// shape, and the agent goes on serving.
func TestRequestBodyLimit(t *testing.T) {
	base, stop := startServe(t, "--database", filepath.Join(t.TempDir(), "a.db"), "--agent-id", "limit-agent", "--sync-interval", "0", "--listen", "127.0.0.1:0")
	c := newAPIClient(t, base)
	c.createNode(t, `{"name": "n1", "driver": "fake"}`)
	huge := `{"driver": "fake", "extra": {"blob": "` + strings.Repeat("x", 2<<20) + `"}}`
	for _, r := range [][2]string{{"POST", "/v1/nodes"}, {"PATCH", "/v1/nodes/n1"}, {"PUT", "/v1/nodes/n1/states/power"}, {"POST", "/v1/ports"}} {
		for _, streamed := range []bool{false, true} {
			var body io.Reader = strings.NewReader(huge)
			if streamed {
				body = io.MultiReader(body) // no length known: sent chunked
			}
			req, _ := http.NewRequest(r[0], base+r[1], body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-OpenStack-Ironic-API-Version", "latest")
			resp, err := c.c.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", r[0], r[1], err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(out), "larger than 1048576 bytes") {
				t.Errorf("%s %s with 2 MiB (streamed %v): %d %.200s", r[0], r[1], streamed, resp.StatusCode, out)
			}
		}
	}
	c.must(t, http.StatusOK, "GET", "/v1/nodes/n1", "")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
