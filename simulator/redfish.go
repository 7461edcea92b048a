package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kind is what a Redfish URI designates.
type kind uint8

const (
	kNotFound kind = iota
	kVersion       // /redfish
	kRoot          // /redfish/v1
	kOData         // /redfish/v1/odata
	kSystems
	kManagers
	kChassisColl
	kSessionService
	kSessions
	kSession
	kSystem
	kReset
	kResetActionInfo // Systems/<id>/ResetActionInfo (Quirks.ResetActionInfo)
	kSystemSettings  // Systems/<id>/Settings (Quirks.BootViaSettings)
	kBios
	kBiosSettings
	kBiosReset
	kSecureBoot
	kVMColl
	kVM
	kVMInsert
	kVMEject
	kManager
	kManagerReset
	kChassis
	kMetadata        // /redfish/v1/$metadata
	kSessionsMembers // SessionService/Sessions/Members: POST creates a session
	kAccountService
	kRoles
	kRole
	kStatic        // mockup: a resource served as stored
	kStaticRO      // mockup: a stored resource that cannot be changed
	kStaticAction  // mockup: an action target without behaviour
	kStaticMissing // mockup: a path under a known tree that does not exist
	kInv           // a generated system's hardware (inventory.go) or sensors (telemetry.go)
)

// route is a resolved request URI.
type route struct {
	kind kind
	sys  *System // the system the resource belongs to; nil for fleet resources
	dev  int     // virtual media device index
	// underManager is true when a virtual media URI is below Managers/.
	underManager bool
	path         string // the request path without a trailing slash
	key          string // session id
	item         int    // index of the item of a fixed list (a predefined role)
	// inv is the system's inventory or telemetry documents (kInv); expand asks a
	// collection's members written whole ($expand).
	inv    map[string]hwDoc
	expand bool
}

// methods lists the HTTP methods a kind of resource answers.
func (k kind) methods() string {
	switch k {
	case kSystem, kVM, kBiosSettings, kSecureBoot, kStatic, kSystemSettings:
		return "GET, PATCH"
	case kReset, kVMInsert, kVMEject, kBiosReset, kManagerReset, kStaticAction:
		return "POST"
	case kSessions:
		return "GET, POST"
	case kSessionsMembers:
		return "POST"
	case kSession:
		return "GET, DELETE"
	}
	return "GET"
}

// mutation names the state change a request makes, for the witness.
func (rt route) mutation(method string, body []byte) (op, detail string, ok bool) {
	if rt.sys == nil {
		return "", "", false
	}
	dev := func() string { return rt.sys.spec.devices[rt.dev].id }
	switch {
	case method == http.MethodPost && rt.kind == kReset:
		var req struct{ ResetType string }
		_ = json.Unmarshal(body, &req)
		if len(req.ResetType) > 32 { // the log keeps it: bound what a client can store
			req.ResetType = req.ResetType[:32]
		}
		return "Reset", req.ResetType, true
	case method == http.MethodPost && rt.kind == kVMInsert:
		return "InsertMedia", dev(), true
	case method == http.MethodPost && rt.kind == kVMEject:
		return "EjectMedia", dev(), true
	case method == http.MethodPost && rt.kind == kBiosReset:
		return "ResetBios", "", true
	case method == http.MethodPost && rt.kind == kManagerReset:
		return "ResetManager", "", true
	case method == http.MethodPatch && rt.kind == kSystem:
		return "PatchSystem", "", true
	case method == http.MethodPatch && rt.kind == kVM:
		return "PatchMedia", dev(), true
	case method == http.MethodPatch && rt.kind == kBiosSettings:
		return "PatchBiosSettings", "", true
	case method == http.MethodPatch && rt.kind == kSecureBoot:
		return "PatchSecureBoot", "", true
	case method == http.MethodPatch && rt.kind == kSystemSettings:
		return "PatchSystemSettings", "", true
	}
	return "", "", false
}

// public reports whether a request needs no authentication (Redfish
// spec: the service root, version and OData documents, and login).
func (rt route) public(method string) bool {
	switch rt.kind {
	case kVersion, kRoot, kOData, kMetadata:
		return method == http.MethodGet || method == http.MethodHead
	case kSessions, kSessionsMembers:
		return method == http.MethodPost
	}
	return false
}

// model is a way of serving systems: native (generated) or mockup (a DMTF
// bundle). It resolves URIs and renders resources; behaviour is shared.
type model interface {
	// resolve maps a clean request path to a route; scope limits what is
	// visible on a per-system port (nil: the whole fleet).
	resolve(scope *System, path string) route
	// render appends the resource's JSON, @odata.etag included, and
	// returns its ETag.
	render(w *jw, rt route, scope *System) (etag string)
	// etag returns the current ETag of the resource.
	etag(rt route) string
	// systemPath is the URI path of a system's ComputerSystem resource.
	systemPath(sys *System) string
	// patchStatic applies a PATCH to a stored resource (mockup only).
	patchStatic(rt route, patch map[string]json.RawMessage) error
	// metadata returns the OData metadata document ($metadata).
	metadata() []byte
}

// Constant header values, shared read-only.
var (
	hdrJSON    = []string{"application/json; charset=utf-8"}
	hdrXML     = []string{"application/xml"}
	hdrOData   = []string{"4.0"}
	hdrNoCache = []string{"no-cache"}
)

// handler serves the Redfish face and the admin endpoint of a simulator.
type handler struct {
	sim   *Simulator
	scope *System // non-nil on a per-system port
}

// cleanPath drops a trailing slash (the service root is /redfish/v1/).
func cleanPath(p string) string {
	for len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.sim
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	path := r.URL.Path
	if h.scope == nil && (path == "/sim" || strings.HasPrefix(path, "/sim/")) {
		s.serveAdmin(w, r)
		return
	}
	s.requests.Add(1)
	if h.serveFirmware(w, r, cleanPath(path)) {
		return
	}
	rt := s.model.resolve(h.scope, cleanPath(path))
	rt.expand = wantsExpand(r.URL.RawQuery)
	switch {
	case h.scope != nil:
		h.scope.requests.count(r.Method)
	case rt.sys != nil:
		rt.sys.requests.count(r.Method)
	}
	f := h.faultFor(rt)
	out := f.Roll()
	if out.Action == FaultUnreachable {
		abortConn(w, true)
		return
	}
	if h.bmcResetting(w, rt) {
		return
	}
	if h.serveEvents(w, r, cleanPath(path)) {
		return
	}
	var body []byte
	if r.Method == http.MethodPost || r.Method == http.MethodPatch || r.Method == http.MethodPut {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			h.writeError(w, errTooLarge)
			return
		}
	}
	authOK := rt.public(r.Method) || h.authenticate(r, rt, f)
	status := 0
	if op, detail, ok := rt.mutation(r.Method, body); ok && authOK {
		mut := rt.sys.BeginMutation("redfish", op, detail)
		defer func() { mut.End(status) }() // also when abortConn panics
	}
	status = h.serve(w, r, rt, out, authOK, body, f)
}

// serve applies the fault outcome, then answers. It returns the status
// written (0 when none was).
func (h *handler) serve(w http.ResponseWriter, r *http.Request, rt route, out Outcome, authOK bool, body []byte, f *Fault) int {
	if out.Delay > 0 && !h.sleep(r.Context(), out.Delay) {
		abortConn(w, false) // the client left or the simulator is closing
		return 0
	}
	switch out.Action {
	case FaultDrop:
		abortConn(w, false)
		return 0
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-h.sim.done:
		}
		abortConn(w, false) // never answer, even when released by Close
		return 0
	case FaultError:
		w.Header().Set("Retry-After", strconv.Itoa(out.RetryAfterSeconds))
		id, msg := "ServiceTemporarilyUnavailable", "The service is temporarily unavailable. Retry in "+strconv.Itoa(out.RetryAfterSeconds)+" seconds."
		if out.Status == http.StatusInternalServerError {
			id, msg = "InternalError", "The request failed due to an internal service error. The service is still operational."
		}
		return h.writeError(w, &httpError{status: out.Status, msgID: id, msg: msg})
	}
	if !authOK {
		w.Header().Set("WWW-Authenticate", `Basic realm="Redfish simulator"`)
		return h.writeError(w, errUnauthorized)
	}
	return h.dispatch(w, r, rt, body, f)
}

// sleep waits d, or less if the client or the simulator goes away; it
// reports whether the full delay elapsed.
func (h *handler) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-h.sim.done:
	}
	return false
}

// abortConn closes the client's connection without an answer; with reset
// it sends a TCP RST as an unreachable host's router would.
func abortConn(w http.ResponseWriter, reset bool) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			if reset {
				resetConn(c)
			} else {
				_ = c.Close()
			}
			return
		}
	}
	panic(http.ErrAbortHandler) // net/http closes the connection quietly
}

// faultFor returns the fault that applies to a request.
func (h *handler) faultFor(rt route) *Fault {
	switch {
	case h.scope != nil:
		return h.scope.effectiveFault()
	case rt.sys != nil:
		return rt.sys.effectiveFault()
	}
	return h.sim.fleet.fault.Load()
}

// authenticate checks HTTP Basic or X-Auth-Token credentials. A system's
// resources want the system's credentials; fleet resources (the
// collections, the session service) take any credentials the simulator
// knows. RefuseLogin rejects everything.
func (h *handler) authenticate(r *http.Request, rt route, f *Fault) bool {
	if f != nil && f.RefuseLogin {
		return false
	}
	var want *credentials
	switch {
	case h.scope != nil:
		want = h.scope.credentials()
	case rt.sys != nil:
		want = rt.sys.credentials()
	}
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		sess := h.sim.sessions.lookup(tok)
		return sess != nil && (want == nil || sess.creds.same(want)) && !h.diedInBMCReset(sess, rt)
	}
	user, pass, ok := parseBasic(r.Header.Get("Authorization"))
	if !ok {
		return false
	}
	if want == nil {
		return h.sim.fleet.findCredentials(user, pass) != nil
	}
	return want.match(user, pass)
}

// dispatch answers an authenticated, unfaulted request.
func (h *handler) dispatch(w http.ResponseWriter, r *http.Request, rt route, body []byte, f *Fault) int {
	if v := r.Header.Values("OData-Version"); len(v) > 0 && (len(v) > 1 || strings.TrimSpace(v[0]) != "4.0") {
		// DSP0266 "Request headers": an unsupported OData-Version is 412.
		return h.writeError(w, errODataVersion(strings.Join(v, ", ")))
	}
	if rt.kind == kNotFound || rt.kind == kStaticMissing {
		return h.writeError(w, errNotFound)
	}
	allowed := rt.kind.methods()
	if r.Method == http.MethodHead && strings.HasPrefix(allowed, "GET") {
		return h.writeResource(w, rt, http.StatusOK)
	}
	if !methodAllowed(allowed, r.Method) {
		w.Header().Set("Allow", allowed)
		return h.writeError(w, errMethod(r.Method))
	}
	switch rt.kind {
	case kSessions, kSessionsMembers:
		// DSP0266 "POST (create)": a POST to a collection's Members
		// property is the same as one to the collection.
		if r.Method == http.MethodPost {
			return h.createSession(w, body, f)
		}
	case kSession:
		if r.Method == http.MethodDelete {
			cs, hasCanned := h.sim.model.(cannedSessions)
			if !h.sim.sessions.remove(rt.key) && (!hasCanned || !cs.dropCannedSession(rt.key)) {
				return h.writeError(w, errNotFound)
			}
			return h.writeNoContent(w)
		}
	}
	switch r.Method {
	case http.MethodGet:
		if r.URL.RawQuery != "" {
			return h.writeQueried(w, r, rt)
		}
		return h.writeResource(w, rt, http.StatusOK)
	case http.MethodPatch:
		return h.patch(w, r, rt, body)
	case http.MethodPost:
		if err := h.action(rt, body); err != nil {
			return h.writeError(w, err)
		}
		return h.writeNoContent(w)
	}
	return h.writeError(w, errMethod(r.Method))
}

// action performs a POSTed Redfish action.
func (h *handler) action(rt route, body []byte) error {
	if rt.sys != nil {
		if err := rt.sys.actionQuirks(rt.kind, body); err != nil {
			return err
		}
	}
	switch rt.kind {
	case kReset:
		var req struct{ ResetType *ResetType }
		if err := decodeBody(body, &req); err != nil {
			return err
		}
		if req.ResetType == nil {
			return errActionParamMissing("ComputerSystem.Reset", "ResetType")
		}
		return rt.sys.Reset(*req.ResetType)
	case kVMInsert:
		req := struct {
			Image          *string
			Inserted       *bool
			WriteProtected *bool
		}{}
		if err := decodeBody(body, &req); err != nil {
			return err
		}
		if req.Image == nil || *req.Image == "" {
			return errActionParamMissing("VirtualMedia.InsertMedia", "Image")
		}
		opt := InsertOptions{Inserted: true, WriteProtected: true}
		if req.Inserted != nil {
			opt.Inserted = *req.Inserted
		}
		if req.WriteProtected != nil {
			opt.WriteProtected = *req.WriteProtected
		}
		return rt.sys.InsertMedia(rt.sys.spec.devices[rt.dev].id, *req.Image, opt)
	case kVMEject:
		return rt.sys.EjectMedia(rt.sys.spec.devices[rt.dev].id)
	case kBiosReset:
		rt.sys.ResetBIOS()
	case kManagerReset:
		if rt.sys != nil {
			rt.sys.BMCReset() // event subscriptions live in the BMC's memory
		}
		if rt.sys != nil && rt.sys.resetBMC() {
			h.sim.sessions.removeFor(rt.sys)
		}
	}
	return nil // kStaticAction: accepted, nothing to simulate
}

// decodeBody decodes an optional JSON body.
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errMalformedJSON
	}
	return nil
}

// etagMatches implements If-Match: "*" or any listed tag, weak or strong.
func etagMatches(header, current string) bool {
	norm := func(t string) string { return strings.TrimPrefix(strings.TrimSpace(t), "W/") }
	cur := norm(current)
	for _, t := range strings.Split(header, ",") {
		if t = norm(t); t == "*" || t == cur || strings.Trim(t, `"`) == strings.Trim(cur, `"`) {
			return true
		}
	}
	return false
}

// patch applies a PATCH after checking If-Match, and answers with the new
// representation.
func (h *handler) patch(w http.ResponseWriter, r *http.Request, rt route, body []byte) int {
	if rt.sys != nil {
		if err := rt.sys.checkIfMatch(r.Header.Get("If-Match")); err != nil {
			return h.writeError(w, err)
		}
	}
	if im := r.Header.Get("If-Match"); im != "" && !etagMatches(im, h.sim.model.etag(rt)) {
		return h.writeError(w, errPrecondition)
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(body, &props); err != nil {
		return h.writeError(w, errMalformedJSON)
	}
	var err error
	switch rt.kind {
	case kSystem:
		err = patchSystem(rt.sys, props)
	case kSystemSettings:
		err = patchSystemSettings(rt.sys, props)
	case kVM:
		err = patchMedia(rt.sys, rt.sys.spec.devices[rt.dev].id, props)
	case kBiosSettings:
		err = patchBIOS(rt.sys, props)
	case kSecureBoot:
		err = patchSecureBoot(rt.sys, props)
	case kStatic:
		err = h.sim.model.patchStatic(rt, props)
	}
	if err != nil {
		return h.writeError(w, err)
	}
	return h.writeResource(w, rt, http.StatusOK)
}

// patchSystem handles Boot and IndicatorLED; anything else is refused
// before anything changes.
func patchSystem(sys *System, props map[string]json.RawMessage) error {
	var boot *BootOverridePatch
	var bootFields []string
	var led *IndicatorLED
	for k, v := range props {
		switch k {
		case "Boot":
			var b map[string]json.RawMessage
			if err := json.Unmarshal(v, &b); err != nil {
				return errMalformedJSON
			}
			boot = &BootOverridePatch{}
			for bk, bv := range b {
				var dst *string
				switch bk {
				case "BootSourceOverrideTarget":
					dst = (*string)(&boot.Target)
				case "BootSourceOverrideEnabled":
					dst = (*string)(&boot.Enabled)
				case "BootSourceOverrideMode":
					dst = (*string)(&boot.Mode)
				case "HttpBootUri":
					boot.HTTPBootURI = new(string)
					if string(bv) == "null" {
						continue
					}
					dst = boot.HTTPBootURI
				default:
					return errPropertyUnknown("Boot/" + bk)
				}
				bootFields = append(bootFields, bk)
				if err := json.Unmarshal(bv, dst); err != nil {
					return errMalformedJSON
				}
			}
		case "IndicatorLED":
			led = new(IndicatorLED)
			if err := json.Unmarshal(v, led); err != nil {
				return errMalformedJSON
			}
		default:
			return errPropertyUnknown(k)
		}
	}
	if led != nil {
		all := []IndicatorLED{LEDLit, LEDBlinking, LEDOff}
		if !allowedIn(*led, all) {
			return invalid("IndicatorLED", *led, all)
		}
	}
	if boot != nil {
		slices.Sort(bootFields)
		if err := sys.patchBoot(*boot, bootFields); err != nil {
			return err
		}
	}
	if led != nil {
		return sys.SetIndicatorLED(*led)
	}
	return nil
}

// patchMedia handles the PATCH form of virtual media (Image, Inserted,
// WriteProtected) that older clients use instead of the actions.
func patchMedia(sys *System, device string, props map[string]json.RawMessage) error {
	var p MediaPatch
	for k, v := range props {
		var err error
		switch k {
		case "Image":
			p.Image = new(string)
			if string(v) != "null" {
				err = json.Unmarshal(v, p.Image)
			}
		case "Inserted":
			p.Inserted = new(bool)
			err = json.Unmarshal(v, p.Inserted)
		case "WriteProtected":
			p.WriteProtected = new(bool)
			err = json.Unmarshal(v, p.WriteProtected)
		case "TransferProtocolType", "TransferMethod", "UserName", "Password":
			// accepted and ignored: the simulator fetches nothing
		default:
			return errPropertyUnknown(k)
		}
		if err != nil {
			return errMalformedJSON
		}
	}
	return sys.PatchMedia(device, p)
}

func patchBIOS(sys *System, props map[string]json.RawMessage) error {
	var attrs map[string]any
	for k, v := range props {
		switch k {
		case "Attributes":
			if err := json.Unmarshal(v, &attrs); err != nil {
				return errMalformedJSON
			}
		case "@Redfish.SettingsApplyTime":
			// only OnReset is simulated: settings apply at the next boot
		default:
			return errPropertyUnknown(k)
		}
	}
	if attrs == nil {
		return errActionParamMissing("Bios.Settings", "Attributes")
	}
	return sys.SetBIOSSettings(attrs)
}

func patchSecureBoot(sys *System, props map[string]json.RawMessage) error {
	for k, v := range props {
		if k != "SecureBootEnable" {
			return errPropertyUnknown(k)
		}
		var on bool
		if err := json.Unmarshal(v, &on); err != nil {
			return errMalformedJSON
		}
		sys.SetSecureBoot(on)
	}
	return nil
}

// createSession answers POST SessionService/Sessions.
func (h *handler) createSession(w http.ResponseWriter, body []byte, f *Fault) int {
	var req struct{ UserName, Password *string }
	if err := decodeBody(body, &req); err != nil {
		return h.writeError(w, err)
	}
	if req.UserName == nil || req.Password == nil {
		return h.writeError(w, errActionParamMissing("Session.Create", "UserName/Password"))
	}
	var c *credentials
	switch {
	case f != nil && f.RefuseLogin:
	case h.scope != nil:
		if want := h.scope.credentials(); want.match(*req.UserName, *req.Password) {
			c = want
		}
	default:
		c = h.sim.fleet.findCredentials(*req.UserName, *req.Password)
	}
	if c == nil {
		h.sim.log.Debug("login refused", "user", *req.UserName)
		return h.writeError(w, errUnauthorized)
	}
	sess, err := h.sim.sessions.create(c, h.scope)
	if err != nil {
		return h.writeError(w, err)
	}
	loc := sessionsPath + "/" + sess.id
	w.Header().Set("X-Auth-Token", sess.token)
	w.Header().Set("Location", loc)
	return h.writeResource(w, route{kind: kSession, key: sess.id, path: loc}, http.StatusCreated)
}

// writeResource renders rt and writes it with its ETag and the headers
// DSP0266 asks of every GET (Allow, Cache-Control, Link).
func (h *handler) writeResource(w http.ResponseWriter, rt route, status int) int {
	hd := w.Header()
	hd["Allow"] = allowHeader(rt.kind.methods())
	hd["Cache-Control"] = hdrNoCache
	hd["Odata-Version"] = hdrOData
	if rt.kind == kMetadata || (rt.key == xmlKey && rt.kind == kStaticRO) {
		var b []byte
		if rt.kind == kMetadata {
			b = h.sim.model.metadata()
		} else if xm, ok := h.sim.model.(interface{ xmlDoc(string) []byte }); ok {
			b = xm.xmlDoc(rt.path)
		}
		hd["Content-Type"] = hdrXML
		hd["Content-Length"] = []string{strconv.Itoa(len(b))}
		w.WriteHeader(status)
		_, _ = w.Write(b)
		return status
	}
	bp := h.sim.bufs.Get().(*[]byte)
	defer func() { h.sim.bufs.Put(bp) }()
	jwr := jw{b: (*bp)[:0]}
	etag, ok := h.renderJSON(&jwr, rt)
	*bp = jwr.b
	if !ok {
		return h.writeError(w, errNotFound)
	}
	return h.writeJSON(w, jwr.b, etag, status)
}

// renderJSON renders a JSON resource; ok is false when it is gone (an
// ended session).
func (h *handler) renderJSON(w *jw, rt route) (etag string, ok bool) {
	switch rt.kind {
	case kSessionService, kSessions, kSession:
		return h.renderSessions(w, rt)
	case kAccountService, kRoles, kRole:
		return renderAccounts(w, rt), true
	}
	return h.sim.model.render(w, rt, h.scope), true
}

// writeJSON writes a rendered resource with its ETag, Content-Type and Link
// headers.
func (h *handler) writeJSON(w http.ResponseWriter, b []byte, etag string, status int) int {
	hd := w.Header()
	hd["Content-Type"] = hdrJSON
	if l := h.sim.links.header(b); l != nil {
		hd["Link"] = l
	}
	if etag != "" {
		hd["Etag"] = []string{etag}
	}
	hd["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}

func (h *handler) writeNoContent(w http.ResponseWriter) int {
	w.Header()["Odata-Version"] = hdrOData
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent
}

// writeError writes a Redfish error body for err.
func (h *handler) writeError(w http.ResponseWriter, err error) int {
	status, id, msg, args := redfishError(err)
	if status >= 500 && !errors.Is(err, errTooManySessions) {
		var he *httpError
		if !errors.As(err, &he) { // injected faults are not worth a log line
			h.sim.log.Error("redfish request failed", "err", err)
		}
	}
	b := appendErrorBody(nil, id, msg, args)
	hd := w.Header()
	hd["Content-Type"] = hdrJSON
	hd["Odata-Version"] = hdrOData
	hd["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}

const (
	sessionServicePath = "/redfish/v1/SessionService"
	sessionsPath       = sessionServicePath + "/Sessions"
)

// renderSessions renders the session service, its collection and sessions,
// which are the same for every model.
func (h *handler) renderSessions(w *jw, rt route) (etag string, ok bool) {
	const etag1 = `"1"`
	switch rt.kind {
	case kSessionService:
		w.obj()
		w.kv("@odata.type", "#SessionService.v1_1_8.SessionService")
		w.kv("@odata.id", sessionServicePath)
		w.kv("@odata.etag", etag1)
		w.kv("Id", "SessionService")
		w.kv("Name", "Session Service")
		w.key("ServiceEnabled")
		w.bool(true)
		w.key("SessionTimeout")
		w.int(int(h.sim.cfg.SessionTimeout / time.Second))
		w.link("Sessions", sessionsPath)
		w.end()
		return etag1, true
	case kSessions:
		var c *credentials
		if h.scope != nil {
			c = h.scope.credentials()
		}
		ids := h.sim.sessions.list(c)
		if cs, ok := h.sim.model.(cannedSessions); ok && h.scope == nil {
			ids = append(ids, cs.cannedSessions()...)
		}
		etag := `"` + strconv.Itoa(len(ids)) + `"`
		w.obj()
		w.kv("@odata.type", "#SessionCollection.SessionCollection")
		w.kv("@odata.id", sessionsPath)
		w.kv("@odata.etag", etag)
		w.kv("Name", "Session Collection")
		members(w, sessionsPath, ids)
		w.end()
		return etag, true
	}
	sess := h.sim.sessions.get(rt.key)
	if sess == nil {
		if cs, ok := h.sim.model.(cannedSessions); ok && h.scope == nil {
			if raw, etag, ok := cs.cannedSession(rt.key); ok {
				w.raw(raw)
				return etag, true
			}
		}
		return "", false
	}
	w.obj()
	w.kv("@odata.type", "#Session.v1_7_0.Session")
	w.kv("@odata.id", sessionsPath+"/"+sess.id)
	w.kv("@odata.etag", etag1)
	w.kv("Id", sess.id)
	w.kv("Name", "User Session")
	w.kv("UserName", sess.creds.user)
	w.kv("SessionType", "Redfish")
	w.kv("CreatedTime", sess.created.UTC().Format(time.RFC3339))
	w.key("Password")
	w.null()
	w.end()
	return etag1, true
}

// methodAllowed reports whether method is in the comma-separated list.
func methodAllowed(list, method string) bool {
	for m := range strings.SplitSeq(list, ", ") {
		if m == method {
			return true
		}
	}
	return false
}

// cannedSessions is what a model with sessions of its own (a mockup
// bundle's) offers beside the live session service.
type cannedSessions interface {
	cannedSessions() []string
	cannedSession(id string) (raw []byte, etag string, ok bool)
	dropCannedSession(id string) bool
}

// Interface guards.
var (
	_ cannedSessions = (*mockup)(nil)
	_ http.Handler   = (*handler)(nil)
	_ model          = (*native)(nil)
	_ model          = (*mockup)(nil)
)
