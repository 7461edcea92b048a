package simulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/redfish"
)

// These tests pin, with raw HTTP, what DMTF's Redfish Protocol Validator
// checks and the simulator once failed (see scripts/dmtf-validate.sh, which
// runs the validators themselves where they are available).

// conformanceTargets are the services every conformance test runs
// against: the generated fleet and each DMTF bundle.
func conformanceTargets() map[string]Config {
	out := map[string]Config{"generic": {Systems: 2}}
	for _, b := range []string{"public-rackmount1", "public-bladed", "public-tower"} {
		out[b] = Config{MockupDir: filepath.Join(mockupsDir, b)}
	}
	return out
}

// rawDo sends an unauthenticated request and returns status, headers and
// body.
func rawDo(t *testing.T, c *client, method, path string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// TestODataDocumentsPublic: $metadata (XML with an EntityContainer) and
// the OData service document are served without credentials (DSP0266 "OData
// service and metadata document requests"), in both modes.
func TestODataDocumentsPublic(t *testing.T) {
	for name, cfg := range conformanceTargets() {
		t.Run(name, func(t *testing.T) {
			sim := startSim(t, cfg)
			c := newClient(t, sim.URL())
			st, hdr, body := rawDo(t, c, http.MethodGet, metadataPath, nil)
			if st != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "application/xml") {
				t.Fatalf("GET $metadata without credentials: %d %q", st, hdr.Get("Content-Type"))
			}
			var edmx struct {
				Refs []struct {
					URI string `xml:"Uri,attr"`
				} `xml:"Reference"`
				Containers []struct {
					Name string `xml:"Name,attr"`
				} `xml:"DataServices>Schema>EntityContainer"`
			}
			if err := xml.Unmarshal(body, &edmx); err != nil {
				t.Fatalf("$metadata is not XML: %v", err)
			}
			if len(edmx.Containers) != 1 || len(edmx.Refs) == 0 {
				t.Errorf("$metadata: %d EntityContainers, %d references", len(edmx.Containers), len(edmx.Refs))
			}
			if hdr.Get("Allow") != "GET, HEAD" {
				t.Errorf("$metadata Allow %q", hdr.Get("Allow"))
			}

			c.user = ""
			st, hdr, doc := c.do(http.MethodGet, v1+"/odata", nil, nil)
			if st != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Fatalf("GET odata without credentials: %d %q", st, hdr.Get("Content-Type"))
			}
			if getStr(doc, "@odata.context") != metadataPath {
				t.Errorf("odata @odata.context %q", getStr(doc, "@odata.context"))
			}
			vals, _ := doc["value"].([]any)
			urls := map[string]bool{}
			for _, v := range vals {
				urls[getStr(getObj(v), "url")] = true
			}
			if !urls[v1+"/"] || !urls[systemsPath] {
				t.Errorf("odata value lacks the service root or Systems: %v", urls)
			}
		})
	}
}

// TestODataVersionHeader: a request for an OData version other than 4.0 is
// refused with 412 (DSP0266 "Request headers"); 4.0 or none is served.
func TestODataVersionHeader(t *testing.T) {
	for name, cfg := range conformanceTargets() {
		t.Run(name, func(t *testing.T) {
			sim := startSim(t, cfg)
			c := newClient(t, sim.URL())
			for _, tc := range []struct {
				value string
				want  int
			}{{"", http.StatusOK}, {"4.0", http.StatusOK}, {"4.1", http.StatusPreconditionFailed}, {"3.0", http.StatusPreconditionFailed}} {
				hdr := map[string]string{}
				if tc.value != "" {
					hdr["OData-Version"] = tc.value
				}
				st, rh, body := c.do(http.MethodGet, v1+"/", nil, hdr)
				if st != tc.want {
					t.Errorf("OData-Version %q: %d, want %d", tc.value, st, tc.want)
				}
				if tc.want == http.StatusPreconditionFailed && messageID(body) != registryPrefix+"HeaderInvalid" {
					t.Errorf("OData-Version %q: MessageId %q", tc.value, messageID(body))
				}
				if rh.Get("OData-Version") != "4.0" {
					t.Errorf("OData-Version %q: response OData-Version %q", tc.value, rh.Get("OData-Version"))
				}
			}
		})
	}
}

// TestResponseHeaders: GET and HEAD carry Allow (HEAD wherever GET is),
// Cache-Control, and a Link rel=describedby naming the JSON schema of the
// resource's own @odata.type version (DSP0266 "Response headers", "Link
// header").
func TestResponseHeaders(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	c := newClient(t, sim.URL())
	id := sim.SystemIDs()[0]
	for _, tc := range []struct {
		path, allow, typ string
	}{
		{v1 + "/", "GET, HEAD", "ServiceRoot.v1_11_0"},
		{systemsPath, "GET, HEAD", "ComputerSystemCollection"},
		{sim.SystemPath(id), "GET, HEAD, PATCH", "ComputerSystem.v1_20_0"},
		{sessionsPath, "GET, HEAD, POST", "SessionCollection"},
		{rolesPath + "/ReadOnly", "GET, HEAD", "Role.v1_2_1"},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			st, hdr, body := c.do(method, tc.path, nil, nil)
			if st != http.StatusOK {
				t.Fatalf("%s %s: %d", method, tc.path, st)
			}
			if got := hdr.Get("Allow"); got != tc.allow {
				t.Errorf("%s %s: Allow %q, want %q", method, tc.path, got, tc.allow)
			}
			if hdr.Get("Cache-Control") == "" {
				t.Errorf("%s %s: no Cache-Control", method, tc.path)
			}
			want := "<" + schemaBase + tc.typ + ".json>; rel=describedby"
			if got := hdr.Get("Link"); got != want {
				t.Errorf("%s %s: Link %q, want %q", method, tc.path, got, want)
			}
			if method == http.MethodGet && !strings.Contains(getStr(body, "@odata.type"), tc.typ+".") {
				t.Errorf("GET %s: @odata.type %q does not match the Link", tc.path, getStr(body, "@odata.type"))
			}
		}
	}
	// A refused method names the allowed ones too.
	st, hdr, _ := c.do(http.MethodDelete, v1+"/", nil, nil)
	if st != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET" {
		t.Errorf("DELETE root: %d, Allow %q", st, hdr.Get("Allow"))
	}
}

// TestPredefinedRoles: the account service lists Administrator, Operator and
// ReadOnly with the privileges DSP0266 gives them, and none can be changed.
func TestPredefinedRoles(t *testing.T) {
	sim := startSim(t, Config{})
	c := newClient(t, sim.URL())
	root := c.get(v1 + "/")
	if linkOf(root, "AccountService") != accountServicePath {
		t.Fatalf("root AccountService link %v", root["AccountService"])
	}
	if linkOf(c.get(accountServicePath), "Roles") != rolesPath {
		t.Fatal("no Roles link")
	}
	want := map[string]string{
		"Administrator": "ConfigureComponents ConfigureManager ConfigureSelf ConfigureUsers Login",
		"Operator":      "ConfigureComponents ConfigureSelf Login",
		"ReadOnly":      "ConfigureSelf Login",
	}
	members := linksOf(c.get(rolesPath), "Members")
	if len(members) != len(want) {
		t.Fatalf("roles %v", members)
	}
	for _, p := range members {
		r := c.get(p)
		privs := getStrs(r, "AssignedPrivileges")
		slices.Sort(privs)
		if got := strings.Join(privs, " "); got != want[getStr(r, "Id")] || r["IsPredefined"] != true {
			t.Errorf("%s: privileges %q, IsPredefined %v", p, got, r["IsPredefined"])
		}
		st, hdr, body := c.do(http.MethodPatch, p, map[string]any{"AssignedPrivileges": []string{"Login"}}, nil)
		if st != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET" || messageID(body) != registryPrefix+"OperationNotAllowed" {
			t.Errorf("PATCH %s: %d, Allow %q, %s", p, st, hdr.Get("Allow"), messageID(body))
		}
	}
}

// TestSessionCreateThroughMembers: a POST to the Members property of the
// session collection creates a session, as one to the collection does
// (DSP0266 "POST (create)"); other methods there are refused.
func TestSessionCreateThroughMembers(t *testing.T) {
	sim := startSim(t, Config{})
	c := newClient(t, sim.URL())
	c.user = ""
	st, hdr, body := c.do(http.MethodPost, sessionsPath+"/Members", map[string]string{"UserName": "admin", "Password": "password"}, nil)
	if st != http.StatusCreated || hdr.Get("X-Auth-Token") == "" || !strings.HasPrefix(hdr.Get("Location"), sessionsPath+"/") {
		t.Fatalf("POST Sessions/Members: %d %v %v", st, hdr, body)
	}
	c.tok = hdr.Get("X-Auth-Token")
	c.get(hdr.Get("Location"))
	if st, _, _ := c.do(http.MethodGet, sessionsPath+"/Members", nil, nil); st != http.StatusMethodNotAllowed {
		t.Errorf("GET Sessions/Members: %d, want 405", st)
	}
}

// TestMetadataCoversNativeTypes crawls the generated fleet and checks that
// $metadata references the schema namespace of every @odata.type served.
func TestMetadataCoversNativeTypes(t *testing.T) {
	// The generic fleet, and one system of every vendor profile: profiles
	// serve resources of their own (ActionInfo, Settings) that the generic
	// fleet never shows.
	var mix []ProfileShare
	for _, p := range Profiles() {
		mix = append(mix, ProfileShare{Name: p.Name, Weight: 1})
	}
	for name, cfg := range map[string]Config{"generic": {}, "profiles": {Systems: len(mix), ProfileMix: mix}} {
		t.Run(name, func(t *testing.T) { metadataCovers(t, cfg) })
	}
}

func metadataCovers(t *testing.T, cfg Config) {
	sim := startSim(t, cfg)
	c := newClient(t, sim.URL())
	_, _, meta := rawDo(t, c, http.MethodGet, metadataPath, nil)
	types := map[string]bool{}
	walk := func(v any) { odataTypes(v, types) }
	// A session and an error body, which the crawl does not reach.
	st, hdr, _ := c.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "admin", "Password": "password"}, nil)
	if st != http.StatusCreated {
		t.Fatal(st)
	}
	walk(c.get(hdr.Get("Location")))
	_, _, errBody := c.do(http.MethodGet, v1+"/nowhere", nil, nil)
	walk(errBody)
	for _, body := range crawl(t, c, nil) {
		walk(body)
	}
	for typ := range types {
		parts := strings.Split(strings.TrimPrefix(typ, "#"), ".")
		ns := parts[0]
		if len(parts) == 3 {
			ns += "." + parts[1]
		}
		if !strings.Contains(string(meta), `<edmx:Include Namespace="`+ns+`"/>`) {
			t.Errorf("$metadata does not include %s (for %s)", ns, typ)
		}
	}
}

// TestTLS serves the fleet and per-system ports over HTTPS with a generated
// certificate: Basic authentication and session creation work there, and an
// unreachable BMC still resets the connection.
func TestTLS(t *testing.T) {
	cert, err := SelfSignedCert("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	sim := startSim(t, Config{Systems: 2, PortPerSystem: true, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if !strings.HasPrefix(sim.URL(), "https://") {
		t.Fatalf("URL %q", sim.URL())
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	newTLSClient := func(base string) *client {
		c := newClient(t, base)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		t.Cleanup(tr.CloseIdleConnections)
		c.hc = &http.Client{Transport: tr, Timeout: 10 * time.Second}
		return c
	}
	ids := sim.SystemIDs()
	for _, base := range []string{sim.URL(), sim.Endpoint(ids[0])} {
		if !strings.HasPrefix(base, "https://127.0.0.1:") {
			t.Fatalf("endpoint %q", base)
		}
		c := newTLSClient(base)
		c.get(sim.SystemPath(ids[0])) // Basic over HTTPS
		c.user = ""
		st, hdr, _ := c.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "admin", "Password": "password"}, nil)
		if st != http.StatusCreated {
			t.Fatalf("%s: session over HTTPS: %d", base, st)
		}
		c.tok = hdr.Get("X-Auth-Token")
		c.get(sim.SystemPath(ids[0]))
	}
	// gofish logs in with a session over HTTPS and drives a reset.
	gc, err := gofish.ConnectContext(context.Background(), gofish.ClientConfig{
		Endpoint: sim.URL(), Username: "admin", Password: "password",
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	})
	if err != nil {
		t.Fatalf("gofish over TLS: %v", err)
	}
	defer gc.HTTPClient.CloseIdleConnections()
	defer gc.Logout()
	if err := gofishSystem(t, gc, sim.SystemPath(ids[0])).Reset(redfish.OnResetType); err != nil {
		t.Fatalf("gofish Reset over TLS: %v", err)
	}
	if sim.System(ids[0]).PowerState() != PowerOn {
		t.Error("gofish Reset On over TLS did not power on")
	}
	// A plain-HTTP client gets no Redfish answer from a TLS port.
	resp, err := http.Get(strings.Replace(sim.URL(), "https://", "http://", 1) + v1 + "/")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}
	if err := sim.SetFault(ids[1], Fault{Unreachable: true}); err != nil {
		t.Fatal(err)
	}
	c := newTLSClient(sim.Endpoint(ids[1]))
	req, _ := http.NewRequest(http.MethodGet, c.base+v1+"/", nil)
	if resp, err := c.hc.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("unreachable system over TLS answered %d", resp.StatusCode)
	}
}

// TestMockupConformance pins the mockup-mode fixes DMTF's validators asked
// for, on the rackmount bundle (which has all the cases): no
// @Redfish.Copyright, the bundle's canned sessions and registry files
// served, PATCH refused (with Allow to match) on types DMTF's schema marks
// read-only and on predefined roles.
func TestMockupConformance(t *testing.T) {
	sim := startSim(t, Config{MockupDir: filepath.Join(mockupsDir, "public-rackmount1")})
	c := newClient(t, sim.URL())
	for _, p := range []string{v1 + "/", systemsPath, v1 + "/AccountService"} {
		if _, ok := c.get(p)["@Redfish.Copyright"]; ok {
			t.Errorf("GET %s serves @Redfish.Copyright", p)
		}
	}
	// A link into the bundle's own sessions resolves, and the session
	// collection lists the canned sessions beside the live ones.
	link := linkOf(getObj(c.get(v1+"/AccountService/OutboundConnections/1"), "Links"), "Session")
	if link != sessionsPath+"/1234567890ABCDEG" {
		t.Fatalf("outbound connection's session link %q", link)
	}
	if s := c.get(link); getStr(s, "@odata.id") != link {
		t.Errorf("canned session: %v", s)
	}
	if members := linksOf(c.get(sessionsPath), "Members"); !slices.Contains(members, link) {
		t.Errorf("session collection %v lacks %s", members, link)
	}
	if st, _, _ := c.do(http.MethodDelete, link, nil, nil); st != http.StatusNoContent {
		t.Errorf("DELETE canned session: %d", st)
	}
	if st, _, _ := c.do(http.MethodGet, link, nil, nil); st != http.StatusNotFound {
		t.Errorf("canned session after DELETE: %d", st)
	}
	// The registry file a MessageRegistryFile's Location names.
	loc, _ := c.get(v1 + "/Registries/Base.1.5.0")["Location"].([]any)
	uri := getStr(getObj(loc[0]), "Uri")
	if reg := c.get(uri); getStr(reg, "RegistryPrefix") != "Base" {
		t.Errorf("GET %s: %v", uri, reg["Id"])
	}
	// Read-only by schema, and predefined roles: 405 with a matching Allow;
	// an updatable type keeps PATCH.
	for _, tc := range []struct {
		path, allow string
		status      int
	}{
		{systemsPath, "GET, HEAD", http.StatusMethodNotAllowed},
		{v1 + "/Registries/Base.1.5.0", "GET, HEAD", http.StatusMethodNotAllowed},
		{v1 + "/AccountService/Roles/ReadOnly", "GET, HEAD", http.StatusMethodNotAllowed},
		{v1 + "/AccountService", "GET, HEAD, PATCH", http.StatusOK},
	} {
		_, hdr, _ := c.do(http.MethodGet, tc.path, nil, nil)
		if hdr.Get("Allow") != tc.allow {
			t.Errorf("GET %s: Allow %q, want %q", tc.path, hdr.Get("Allow"), tc.allow)
		}
		st, _, body := c.do(http.MethodPatch, tc.path, map[string]any{"Description": "x"}, nil)
		if st != tc.status {
			t.Errorf("PATCH %s: %d %s, want %d", tc.path, st, messageID(body), tc.status)
		}
	}
	if privs := getStrs(c.get(v1+"/AccountService/Roles/ReadOnly"), "AssignedPrivileges"); slices.Contains(privs, "ConfigureUsers") {
		t.Errorf("predefined role changed: %v", privs)
	}
}

// TestQueryParameters: $expand, only and $top/$skip as the copied service
// root advertises them; unknown $ parameters answer 501 and malformed values
// 400; excerpt, not implemented, is no longer advertised.
func TestQueryParameters(t *testing.T) {
	sim := startSim(t, Config{MockupDir: filepath.Join(mockupsDir, "public-rackmount1")})
	c := newClient(t, sim.URL())
	pf := getObj(c.get(v1+"/"), "ProtocolFeaturesSupported")
	if pf["ExcerptQuery"] != false || pf["OnlyMemberQuery"] != true || getObj(pf, "ExpandQuery") == nil {
		t.Errorf("ProtocolFeaturesSupported %v", pf)
	}
	sysPath := sim.SystemPath(sim.SystemIDs()[0])
	// only: a collection of one member is that member.
	if got := getStr(c.get(systemsPath+"?only"), "@odata.id"); got != sysPath {
		t.Errorf("Systems?only: @odata.id %q, want %q", got, sysPath)
	}
	// $expand=. expands members but not Links; ~ only Links.
	coll := c.get(systemsPath + "?$expand=.")
	members, _ := coll["Members"].([]any)
	if len(members) != 1 || getStr(getObj(members[0]), "PowerState") == "" {
		t.Fatalf("Systems?$expand=.: %v", coll["Members"])
	}
	chassis, _ := getObj(getObj(members[0]), "Links")["Chassis"].([]any)
	if len(chassis) == 0 || len(getObj(chassis[0])) != 1 {
		t.Errorf("$expand=. expanded Links: %v", chassis)
	}
	sys := c.get(sysPath + "?$expand=~")
	chassis, _ = getObj(sys, "Links")["Chassis"].([]any)
	if len(chassis) == 0 || getStr(getObj(chassis[0]), "ChassisType") == "" {
		t.Errorf("$expand=~ did not expand Links.Chassis: %v", chassis)
	}
	if getStr(getObj(sys, "Bios"), "AttributeRegistry") != "" {
		t.Errorf("$expand=~ expanded Bios outside Links")
	}
	// $levels=2 reaches a member of a member collection.
	root := c.get(v1 + "/?$expand=.($levels=2)")
	sysColl := getObj(root, "Systems")
	m2, _ := sysColl["Members"].([]any)
	if len(m2) != 1 || getStr(getObj(m2[0]), "PowerState") == "" {
		t.Errorf("root ?$expand=.($levels=2): Systems %v", sysColl)
	}
	// $top/$skip page a collection with a nextLink.
	regs := c.get(v1 + "/Registries")
	if all, _ := regs["Members"].([]any); len(all) >= 1 {
		page := c.get(v1 + "/Registries?$top=0")
		if m, _ := page["Members"].([]any); len(m) != 0 || getStr(page, "Members@odata.nextLink") == "" {
			t.Errorf("$top=0: %v", page)
		}
	}
	// The generated fleet understands and advertises the same.
	nsim := startSim(t, Config{})
	nc := newClient(t, nsim.URL())
	if npf := getObj(nc.get(v1+"/"), "ProtocolFeaturesSupported"); npf["OnlyMemberQuery"] != true || getObj(npf, "ExpandQuery")["Levels"] != true {
		t.Errorf("native ProtocolFeaturesSupported %v", npf)
	}
	nid := nsim.SystemIDs()[0]
	if got := getStr(nc.get(systemsPath+"?only"), "@odata.id"); got != nsim.SystemPath(nid) {
		t.Errorf("native Systems?only: %q", got)
	}
	procs, _ := nc.get(nsim.SystemPath(nid) + "/Processors?$expand=.")["Members"].([]any)
	if len(procs) != nsim.System(nid).Hardware().CPUs || getStr(getObj(procs[0]), "ProcessorType") != "CPU" {
		t.Errorf("native Processors?$expand=.: %v", procs)
	}
	for _, tc := range []struct {
		query string
		want  int
		id    string
	}{
		{"?only=foo", http.StatusBadRequest, "QueryParameterValueFormatError"},
		{"?$expand=x", http.StatusBadRequest, "QueryParameterValueFormatError"},
		{"?$expand=*($levels=99)", http.StatusBadRequest, "QueryParameterValueFormatError"},
		{"?$top=-1", http.StatusBadRequest, "QueryParameterValueFormatError"},
		{"?$rpvunknown", http.StatusNotImplemented, "QueryNotSupported"},
		{"?$select=Id", http.StatusNotImplemented, "QueryNotSupported"},
		{"?unknownparam=1", http.StatusOK, ""},
	} {
		st, _, body := c.do(http.MethodGet, systemsPath+tc.query, nil, nil)
		if st != tc.want || (tc.id != "" && messageID(body) != registryPrefix+tc.id) {
			t.Errorf("GET Systems%s: %d %s, want %d %s", tc.query, st, messageID(body), tc.want, tc.id)
		}
	}
}

// TestForceRestartWhenOff: ForceRestart of a system that is off powers it on
// and boots it; GracefulRestart of it does nothing (no OS to restart).
func TestForceRestartWhenOff(t *testing.T) {
	sim := startSim(t, Config{Systems: 2})
	c := newClient(t, sim.URL())
	ids := sim.SystemIDs()
	for _, tc := range []struct {
		id, reset string
		want      PowerState
		boots     int
	}{{ids[0], "ForceRestart", PowerOn, 1}, {ids[1], "GracefulRestart", PowerOff, 0}} {
		st, _, body := c.do(http.MethodPost, sim.SystemPath(tc.id)+"/Actions/ComputerSystem.Reset", map[string]string{"ResetType": tc.reset}, nil)
		if st != http.StatusNoContent {
			t.Fatalf("%s: %d %s", tc.reset, st, messageID(body))
		}
		got := PowerState(getStr(c.get(sim.SystemPath(tc.id)), "PowerState"))
		if got != tc.want || sim.System(tc.id).BootedFrom().Count != tc.boots {
			t.Errorf("%s of an off system: PowerState %s, boots %d; want %s, %d", tc.reset, got, sim.System(tc.id).BootedFrom().Count, tc.want, tc.boots)
		}
	}
}

// TestUefiHttpWithHttpBootUri: a native system offers UefiHttp together with
// the HttpBootUri it boots, which PATCH sets and the next boot uses (a
// mockup system whose Boot has no HttpBootUri is not offered UefiHttp: see
// TestMockupActionInfoAndEmptySlot).
func TestUefiHttpWithHttpBootUri(t *testing.T) {
	sim := startSim(t, Config{})
	c := newClient(t, sim.URL())
	id := sim.SystemIDs()[0]
	p := sim.SystemPath(id)
	boot := getObj(c.get(p), "Boot")
	if _, ok := boot["HttpBootUri"]; !ok || !slices.Contains(getStrs(boot, "BootSourceOverrideTarget@Redfish.AllowableValues"), "UefiHttp") {
		t.Fatalf("Boot %v", boot)
	}
	const uri = "http://127.0.0.1:8080/boot.efi"
	st, _, body := c.do(http.MethodPatch, p, map[string]any{"Boot": map[string]any{
		"BootSourceOverrideTarget": "UefiHttp", "BootSourceOverrideEnabled": "Once", "HttpBootUri": uri}}, nil)
	if st != http.StatusOK || getStr(getObj(body, "Boot"), "HttpBootUri") != uri {
		t.Fatalf("PATCH HttpBootUri: %d %v", st, body["Boot"])
	}
	if st, _, _ := c.do(http.MethodPost, p+"/Actions/ComputerSystem.Reset", map[string]string{"ResetType": "On"}, nil); st != http.StatusNoContent {
		t.Fatal(st)
	}
	if b := sim.System(id).BootedFrom(); b.Device != BootUefiHTTP || b.Image != uri {
		t.Errorf("booted %+v, want UefiHttp from %s", b, uri)
	}
	if st, _, body := c.do(http.MethodPatch, p, map[string]any{"Boot": map[string]any{"HttpBootUri": nil}}, nil); st != http.StatusOK || getObj(body, "Boot")["HttpBootUri"] != nil {
		t.Errorf("PATCH HttpBootUri null: %d %v", st, body["Boot"])
	}

}

// TestMockupActionInfoAndEmptySlot: a bundle that keeps the reset types in
// an ActionInfo resource (as Supermicro and OpenBMC captures do) has them
// enforced, and a virtual media slot with Inserted: false is empty whatever
// its Image says.
func TestMockupActionInfoAndEmptySlot(t *testing.T) {
	dir := t.TempDir()
	write := func(p string, v map[string]any) { writeBundleFile(t, dir, p, v) }
	link := func(p string) map[string]any { return map[string]any{"@odata.id": p} }
	const sys = v1 + "/Systems/1"
	write("", map[string]any{"@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot", "@odata.id": v1 + "/", "Id": "RootService", "Systems": link(systemsPath)})
	write("Systems", map[string]any{"@odata.type": "#ComputerSystemCollection.ComputerSystemCollection", "@odata.id": systemsPath,
		"Members": []any{link(sys)}, "Members@odata.count": 1})
	write("Systems/1", map[string]any{"@odata.type": "#ComputerSystem.v1_5_0.ComputerSystem", "@odata.id": sys, "Id": "1", "PowerState": "Off",
		"VirtualMedia": link(sys + "/VirtualMedia"),
		"Actions": map[string]any{"#ComputerSystem.Reset": map[string]any{
			"target": sys + "/Actions/ComputerSystem.Reset", "@Redfish.ActionInfo": sys + "/ResetActionInfo"}}})
	write("Systems/1/ResetActionInfo", map[string]any{"@odata.type": "#ActionInfo.v1_1_2.ActionInfo", "@odata.id": sys + "/ResetActionInfo", "Id": "ResetActionInfo",
		"Parameters": []any{map[string]any{"Name": "ResetType", "Required": true, "DataType": "String", "AllowableValues": []string{"On", "ForceOff"}}}})
	write("Systems/1/VirtualMedia", map[string]any{"@odata.type": "#VirtualMediaCollection.VirtualMediaCollection", "@odata.id": sys + "/VirtualMedia",
		"Members": []any{link(sys + "/VirtualMedia/CD1")}, "Members@odata.count": 1})
	write("Systems/1/VirtualMedia/CD1", map[string]any{"@odata.type": "#VirtualMedia.v1_3_0.VirtualMedia", "@odata.id": sys + "/VirtualMedia/CD1", "Id": "CD1",
		"MediaTypes": []string{"CD", "DVD"}, "Image": "http://192.0.2.1/last.iso", "Inserted": false})

	sim := startSim(t, Config{MockupDir: dir})
	c := newClient(t, sim.URL())
	got := c.get(sys)
	if targets := getStrs(getObj(got, "Boot"), "BootSourceOverrideTarget@Redfish.AllowableValues"); len(targets) == 0 || slices.Contains(targets, "UefiHttp") {
		t.Errorf("boot targets %v: want some, UefiHttp not among them without HttpBootUri", targets)
	}
	reset := getObj(got, "Actions", "#ComputerSystem.Reset")
	if _, inline := reset["ResetType@Redfish.AllowableValues"]; inline || getStr(reset, "@Redfish.ActionInfo") == "" {
		t.Errorf("reset action %v: want the ActionInfo link and no inline values", reset)
	}
	target := sys + "/Actions/ComputerSystem.Reset"
	st, _, body := c.do(http.MethodPost, target, map[string]string{"ResetType": "ForceRestart"}, nil)
	if st != http.StatusBadRequest || messageID(body) != registryPrefix+"ActionParameterValueNotInList" {
		t.Errorf("ForceRestart outside the ActionInfo: %d %s", st, messageID(body))
	}
	if st, _, _ := c.do(http.MethodPost, target, map[string]string{"ResetType": "On"}, nil); st != http.StatusNoContent {
		t.Errorf("On: %d", st)
	}
	vm := c.get(sys + "/VirtualMedia/CD1")
	if vm["Image"] != nil || vm["Inserted"] != false {
		t.Errorf("slot with Inserted false: Image %v Inserted %v", vm["Image"], vm["Inserted"])
	}
	st, _, body = c.do(http.MethodPost, sys+"/VirtualMedia/CD1/Actions/VirtualMedia.InsertMedia", map[string]string{"Image": "http://192.0.2.1/new.iso"}, nil)
	if st != http.StatusNoContent {
		t.Errorf("InsertMedia into the empty slot: %d %s", st, messageID(body))
	}
}

// writeBundleFile stores v as the index.json of resource p (relative to the
// service root) in a mockup bundle rooted at dir.
func writeBundleFile(t *testing.T, dir, p string, v any) {
	t.Helper()
	full := filepath.Join(dir, p, "index.json")
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
