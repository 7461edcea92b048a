package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// mockup is the model of a DMTF mockup bundle: a tree of index.json files,
// one per resource at the path of its URI below redfish/v1. Every resource is
// served as stored (with an @odata.etag), PATCHes of plain resources are
// merged into them, and every action target the bundle advertises is
// accepted. Each ComputerSystem gets a System state, so its power, boot
// override, virtual media, BIOS and secure boot behave like a native
// system's: their resources are the stored JSON with the live state laid
// over it. What the bundle leaves out is added: the Reset action and its
// allowable values, InsertMedia/EjectMedia targets, Bios/Settings and
// ResetBios, the session service links of the service root, and a Cd and a
// Usb device for systems that have no virtual media at all.
type mockup struct {
	systems []*System
	sysPath map[*System]string
	routes  map[string]route // stateful resources and action targets

	mu   sync.RWMutex // guards the docs' contents (PATCH of static resources)
	docs map[string]*doc

	meta []byte // $metadata: the bundle's, or generated from its types
}

// doc is one stored resource.
type doc struct {
	obj  map[string]any
	raw  []byte // rendered, @odata.etag included
	etag string
	xml  []byte // $metadata is XML
	// readOnly: PATCH answers 405 (a type DMTF's schema does not let
	// clients update, or a predefined role).
	readOnly bool
}

// loadMockup reads a bundle; dir is the folder holding the service root's
// index.json, or a folder with redfish/v1 below it.
func loadMockup(f *fleet, dir string) (*mockup, []*System, error) {
	base := dir
	if _, err := os.Stat(filepath.Join(dir, "redfish", "v1", "index.json")); err == nil {
		base = filepath.Join(dir, "redfish", "v1")
	}
	if _, err := os.Stat(filepath.Join(base, "index.json")); err != nil {
		return nil, nil, fmt.Errorf("simulator: mockup %s: no service root index.json: %w", dir, err)
	}
	m := &mockup{sysPath: map[*System]string{}, routes: map[string]route{}, docs: map[string]*doc{}}
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		dir := filepath.Dir(p)
		switch {
		case name == "index.json", name == "index.xml":
		case strings.HasSuffix(name, ".json") && name != "headers.json" && name != "time.json":
			// A file the bundle ships beside its resources (a message
			// registry a MessageRegistryFile's Location names) is served
			// at its own path, as DMTF's Redfish-Mockup-Server does.
			dir = p
		default:
			return nil
		}
		rel, err := filepath.Rel(base, dir)
		if err != nil {
			return err
		}
		uri := v1
		if rel != "." {
			uri += "/" + filepath.ToSlash(rel)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if name == "index.xml" {
			if _, ok := m.docs[uri]; !ok {
				m.docs[uri] = &doc{xml: b}
			}
			return nil
		}
		obj, err := decodeObject(b)
		if err != nil {
			if dir == p {
				return nil // not a JSON object: not a resource
			}
			return fmt.Errorf("simulator: mockup %s: %w", p, err)
		}
		// The copyright annotation is allowed only in mockups and
		// message registries (DSP0266); DMTF's Redfish-Mockup-Server
		// strips it too.
		if !typeIs(obj, "#MessageRegistry.") {
			delete(obj, "@Redfish.Copyright")
		}
		m.docs[uri] = &doc{obj: obj}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	m.fixServiceRoot()
	if err := m.buildSystems(f); err != nil {
		return nil, nil, err
	}
	m.mapStaticActions()
	m.meta = m.buildMetadata()
	for _, d := range m.docs {
		if d.obj != nil {
			d.render()
		}
		d.readOnly = d.obj == nil || !typeUpdatable(getStr(d.obj, "@odata.type")) ||
			(typeIs(d.obj, "#Role.") && d.obj["IsPredefined"] == true)
	}
	return m, m.systems, nil
}

// decodeObject parses a JSON object keeping numbers as written.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// render stores the JSON of a static document with a content ETag.
func (d *doc) render() {
	delete(d.obj, "@odata.etag")
	b, _ := json.Marshal(d.obj) // a decoded JSON object always marshals
	h := fnv.New64a()
	_, _ = h.Write(b)
	d.etag = fmt.Sprintf(`"h%x"`, h.Sum64())
	d.obj["@odata.etag"] = d.etag
	d.raw, _ = json.Marshal(d.obj)
}

// Helpers to walk decoded JSON.
func getObj(v any, keys ...string) map[string]any {
	for _, k := range keys {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	o, _ := v.(map[string]any)
	return o
}

func getStr(o map[string]any, k string) string {
	s, _ := o[k].(string)
	return s
}

func getStrs(o map[string]any, k string) []string {
	arr, _ := o[k].([]any)
	var out []string
	for _, v := range arr {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func linkOf(o map[string]any, k string) string { return cleanPath(getStr(getObj(o, k), "@odata.id")) }

func linksOf(o map[string]any, k string) []string {
	arr, _ := o[k].([]any)
	var out []string
	for _, v := range arr {
		if id := getStr(getObj(v), "@odata.id"); id != "" {
			out = append(out, cleanPath(id))
		}
	}
	return out
}

func odataLink(p string) map[string]any { return map[string]any{"@odata.id": p} }

func typeIs(o map[string]any, prefix string) bool {
	return strings.HasPrefix(getStr(o, "@odata.type"), prefix)
}

// fixServiceRoot makes the root advertise the live session service.
func (m *mockup) fixServiceRoot() {
	root := m.docs[v1]
	if root == nil || root.obj == nil {
		return
	}
	root.obj["SessionService"] = odataLink(sessionServicePath)
	links := getObj(root.obj, "Links")
	if links == nil {
		links = map[string]any{}
		root.obj["Links"] = links
	}
	links["Sessions"] = odataLink(sessionsPath)
	// Advertise only the query parameters the simulator implements
	// (query.go): $expand, only, $top/$skip are; excerpt, $select and
	// $filter are not.
	if pf := getObj(root.obj, "ProtocolFeaturesSupported"); pf != nil {
		for _, k := range []string{"ExcerptQuery", "SelectQuery", "FilterQuery"} {
			if _, ok := pf[k]; ok {
				pf[k] = false
			}
		}
		if eq := getObj(pf, "ExpandQuery"); eq != nil {
			if n, err := strconv.Atoi(fmt.Sprint(eq["MaxLevels"])); err != nil || n > maxExpandLevels {
				eq["MaxLevels"] = maxExpandLevels
			}
		}
	}
}

// sortedDocPaths returns the document paths in order, so that loading is
// deterministic.
func (m *mockup) sortedDocPaths() []string { return slices.Sorted(maps.Keys(m.docs)) }

// buildSystems creates a System for every ComputerSystem and wires its
// stateful resources.
func (m *mockup) buildSystems(f *fleet) error {
	paths := m.sortedDocPaths()
	for _, p := range paths {
		d := m.docs[p]
		if d.obj == nil || !typeIs(d.obj, "#ComputerSystem.") {
			continue
		}
		m.addSystem(f, p, d.obj)
	}
	// Virtual media: each VirtualMedia resource becomes a device of the
	// system it sits under, directly or through its manager.
	devs := map[*System][]string{}
	for _, p := range paths {
		d := m.docs[p]
		if d.obj == nil || !typeIs(d.obj, "#VirtualMedia.") {
			continue
		}
		if sys := m.mediaOwner(p); sys != nil {
			devs[sys] = append(devs[sys], p)
		}
	}
	for _, sys := range m.systems {
		m.addMedia(sys, devs[sys])
		m.addChassis(sys)
	}
	return nil
}

// addChassis makes the chassis that hold only this system show its power
// state (an enclosure of several systems stays as stored).
func (m *mockup) addChassis(sys *System) {
	sp := m.sysPath[sys]
	for _, cp := range linksOf(getObj(m.docs[sp].obj, "Links"), "Chassis") {
		d := m.docs[cp]
		if d == nil || d.obj == nil {
			continue
		}
		members := linksOf(getObj(d.obj, "Links"), "ComputerSystems")
		if len(members) > 1 || (len(members) == 1 && members[0] != sp) {
			continue
		}
		if _, taken := m.routes[cp]; !taken {
			m.routes[cp] = route{kind: kChassis, sys: sys}
		}
	}
}

func (m *mockup) addSystem(f *fleet, p string, obj map[string]any) {
	id := getStr(obj, "Id")
	if id == "" {
		id = p[strings.LastIndexByte(p, '/')+1:]
	}
	spec := &systemSpec{defaultBoot: BootHdd, biosDefaults: map[string]any{}}
	reset := getObj(obj, "Actions", "#ComputerSystem.Reset")
	for _, t := range m.allowable(reset, "ResetType") {
		spec.resetTypes = append(spec.resetTypes, ResetType(t))
	}
	if len(spec.resetTypes) == 0 {
		spec.resetTypes = allResetTypes
	}
	boot := getObj(obj, "Boot")
	for _, t := range getStrs(boot, "BootSourceOverrideTarget@Redfish.AllowableValues") {
		spec.bootSources = append(spec.bootSources, BootSource(t))
	}
	if len(spec.bootSources) == 0 {
		// UefiHttp only where the system has the HttpBootUri to boot.
		_, httpURI := boot["HttpBootUri"]
		for _, b := range allBootSources {
			if b != BootUefiHTTP || httpURI {
				spec.bootSources = append(spec.bootSources, b)
			}
		}
	}
	if bios := m.docs[linkOf(obj, "Bios")]; bios != nil && bios.obj != nil {
		if attrs := getObj(bios.obj, "Attributes"); attrs != nil {
			spec.biosDefaults = attrs
		}
	}
	sys := newSystem(f, len(m.systems), id, spec)
	switch PowerState(getStr(obj, "PowerState")) {
	case PowerOn, "PoweringOff":
		sys.power = PowerOn
	}
	if v := BootSource(getStr(boot, "BootSourceOverrideTarget")); v != "" {
		sys.boot.Target = v
	}
	if v := BootEnabled(getStr(boot, "BootSourceOverrideEnabled")); v != "" {
		sys.boot.Enabled = v
	}
	if v := BootMode(getStr(boot, "BootSourceOverrideMode")); v == BootModeLegacy {
		sys.boot.Mode = v
	}
	sys.boot.HTTPBootURI = getStr(boot, "HttpBootUri")
	if led := IndicatorLED(getStr(obj, "IndicatorLED")); allowedIn(led, []IndicatorLED{LEDLit, LEDBlinking, LEDOff}) {
		sys.led = led
	}
	m.systems = append(m.systems, sys)
	m.sysPath[sys] = p
	m.routes[p] = route{kind: kSystem, sys: sys}

	// The Reset action, added where missing.
	reset, target := ensureAction(obj, "#ComputerSystem.Reset", p+"/Actions/ComputerSystem.Reset")
	_, inline := reset["ResetType@Redfish.AllowableValues"]
	if _, info := reset["@Redfish.ActionInfo"]; !inline && !info {
		reset["ResetType@Redfish.AllowableValues"] = spec.resetTypes
	}
	m.routes[target] = route{kind: kReset, sys: sys}

	m.addBios(sys, obj)
	if sb := linkOf(obj, "SecureBoot"); sb != "" {
		if d := m.docs[sb]; d != nil && d.obj != nil {
			if on, ok := d.obj["SecureBootEnable"].(bool); ok {
				sys.secureBoot = on
			}
			m.routes[sb] = route{kind: kSecureBoot, sys: sys}
		}
	}
}

// addBios wires Bios, Bios/Settings and ResetBios, adding the latter two
// where the bundle has none.
func (m *mockup) addBios(sys *System, obj map[string]any) {
	bp := linkOf(obj, "Bios")
	d := m.docs[bp]
	if bp == "" || d == nil || d.obj == nil {
		return
	}
	m.routes[bp] = route{kind: kBios, sys: sys}
	settings := getObj(d.obj, "@Redfish.Settings")
	if settings == nil {
		settings = map[string]any{"@odata.type": "#Settings.v1_3_5.Settings"}
		d.obj["@Redfish.Settings"] = settings
	}
	sp := linkOf(settings, "SettingsObject")
	if sp == "" {
		sp = bp + "/Settings"
		settings["SettingsObject"] = odataLink(sp)
	}
	if sd := m.docs[sp]; sd == nil || sd.obj == nil {
		m.docs[sp] = &doc{obj: map[string]any{
			"@odata.type": getStr(d.obj, "@odata.type"), "@odata.id": sp, "Id": "Settings",
			"Name": "BIOS Pending Settings", "Attributes": map[string]any{},
		}}
	}
	m.routes[sp] = route{kind: kBiosSettings, sys: sys}
	_, target := ensureAction(d.obj, "#Bios.ResetBios", bp+"/Actions/Bios.ResetBios")
	m.routes[target] = route{kind: kBiosReset, sys: sys}
}

// managersOf returns the managers of a system: its Links.ManagedBy, and
// managers whose Links.ManagerForServers name it.
func (m *mockup) managersOf(sys *System) []string {
	sp := m.sysPath[sys]
	out := linksOf(getObj(m.docs[sp].obj, "Links"), "ManagedBy")
	for _, p := range m.sortedDocPaths() {
		d := m.docs[p]
		if d.obj != nil && typeIs(d.obj, "#Manager.") && slices.Contains(linksOf(getObj(d.obj, "Links"), "ManagerForServers"), sp) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// mediaOwner finds the system a VirtualMedia resource belongs to.
func (m *mockup) mediaOwner(p string) *System {
	for _, sys := range m.systems {
		if strings.HasPrefix(p, m.sysPath[sys]+"/") {
			return sys
		}
	}
	for _, sys := range m.systems {
		for _, mp := range m.managersOf(sys) {
			if strings.HasPrefix(p, mp+"/") {
				return sys
			}
		}
	}
	return nil
}

// bootsOf maps Redfish media types to the boot sources they serve.
func bootsOf(types []string) []BootSource {
	var out []BootSource
	for _, t := range types {
		switch t {
		case "CD", "DVD":
			out = append(out, BootCd)
		case "USBStick":
			out = append(out, BootUsb)
		case "Floppy":
			out = append(out, BootFloppy)
		}
	}
	return out
}

// addMedia makes the system's VirtualMedia resources (paths) its devices,
// or synthesises Cd and Usb under its manager and itself when it has none.
func (m *mockup) addMedia(sys *System, paths []string) {
	spec := sys.spec
	type alias struct {
		path string
		dev  int
	}
	var aliases []alias
	seen := map[string]int{}
	for _, p := range paths {
		obj := m.docs[p].obj
		id := getStr(obj, "Id")
		if id == "" {
			id = p[strings.LastIndexByte(p, '/')+1:]
		}
		if n := seen[id]; n > 0 {
			id = fmt.Sprintf("%s-%d", id, n+1)
		}
		seen[id]++
		types := getStrs(obj, "MediaTypes")
		spec.devices = append(spec.devices, deviceSpec{id: id, name: getStr(obj, "Name"), mediaTypes: types, boots: bootsOf(types)})
		ms := mediaState{writeProtected: true}
		// A slot that says Inserted: false is empty whatever Image says:
		// vendor captures keep the last image's URL there.
		inserted, ok := obj["Inserted"].(bool)
		if img := getStr(obj, "Image"); img != "" && (inserted || !ok) {
			ms.image, ms.inserted = img, true
			if wp, ok := obj["WriteProtected"].(bool); ok {
				ms.writeProtected = wp
			}
		}
		sys.media = append(sys.media, ms)
		aliases = append(aliases, alias{p, len(spec.devices) - 1})
	}
	if len(paths) == 0 {
		for _, d := range nativeSpec().devices {
			spec.devices = append(spec.devices, d)
			sys.media = append(sys.media, mediaState{writeProtected: true})
		}
		parents := []string{m.sysPath[sys]}
		if mgrs := m.managersOf(sys); len(mgrs) > 0 && m.docs[mgrs[0]] != nil {
			parents = append(parents, mgrs[0])
		}
		for _, parent := range parents {
			coll := m.ensureCollection(parent)
			for i, d := range spec.devices {
				p := coll + "/" + d.id
				m.docs[p] = &doc{obj: map[string]any{
					"@odata.type": "#VirtualMedia.v1_4_0.VirtualMedia", "@odata.id": p,
					"Id": d.id, "Name": d.name, "MediaTypes": d.mediaTypes,
				}}
				addMember(m.docs[coll].obj, p)
				aliases = append(aliases, alias{p, i})
			}
		}
	}
	for _, a := range aliases {
		obj := m.docs[a.path].obj
		m.routes[a.path] = route{kind: kVM, sys: sys, dev: a.dev}
		for _, act := range []struct {
			name string
			k    kind
		}{{"InsertMedia", kVMInsert}, {"EjectMedia", kVMEject}} {
			_, t := ensureAction(obj, "#VirtualMedia."+act.name, a.path+"/Actions/VirtualMedia."+act.name)
			m.routes[t] = route{kind: act.k, sys: sys, dev: a.dev}
		}
	}
}

// ensureAction makes sure obj advertises the action name with a target
// (def when the bundle gives none) and returns the action and its target.
func ensureAction(obj map[string]any, name, def string) (map[string]any, string) {
	actions := getObj(obj, "Actions")
	if actions == nil {
		actions = map[string]any{}
		obj["Actions"] = actions
	}
	a := getObj(actions, name)
	if a == nil {
		a = map[string]any{}
		actions[name] = a
	}
	t := cleanPath(getStr(a, "target"))
	if t == "" {
		t = def
		a["target"] = t
	}
	return a, t
}

// ensureCollection returns parent's VirtualMedia collection, creating the
// collection and the parent's link to it if needed.
func (m *mockup) ensureCollection(parent string) string {
	pd := m.docs[parent]
	coll := linkOf(pd.obj, "VirtualMedia")
	if coll == "" {
		coll = parent + "/VirtualMedia"
		pd.obj["VirtualMedia"] = odataLink(coll)
	}
	if d := m.docs[coll]; d == nil || d.obj == nil {
		m.docs[coll] = &doc{obj: map[string]any{
			"@odata.type": "#VirtualMediaCollection.VirtualMediaCollection", "@odata.id": coll,
			"Name": "Virtual Media Services", "Members": []any{}, "Members@odata.count": 0,
		}}
	}
	return coll
}

func addMember(coll map[string]any, p string) {
	members, _ := coll["Members"].([]any)
	members = append(members, odataLink(p))
	coll["Members"] = members
	coll["Members@odata.count"] = len(members)
}

// mapStaticActions accepts every other action target the bundle advertises
// (Manager.Reset, OEM actions, ...) with 204 and no effect.
func (m *mockup) mapStaticActions() {
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if t, ok := x["target"].(string); ok {
				if _, known := m.routes[cleanPath(t)]; !known {
					m.routes[cleanPath(t)] = route{kind: kStaticAction}
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	for _, p := range m.sortedDocPaths() {
		if d := m.docs[p]; d.obj != nil {
			walk(d.obj["Actions"])
		}
	}
}

func (m *mockup) systemPath(sys *System) string { return m.sysPath[sys] }

func (m *mockup) resolve(scope *System, p string) route {
	switch {
	case p == "/redfish":
		return route{kind: kVersion, path: p}
	case p == v1:
		return route{kind: kRoot, path: p}
	case p == metadataPath:
		return route{kind: kMetadata, path: p}
	case p == v1+"/odata":
		return route{kind: kOData, path: p}
	case p == sessionServicePath || strings.HasPrefix(p, sessionServicePath+"/"):
		return resolveSessions(route{path: p}, strings.TrimPrefix(strings.TrimPrefix(p, sessionServicePath), "/"))
	}
	if rt, ok := m.routes[p]; ok {
		if scope != nil && rt.sys != nil && rt.sys != scope {
			return route{path: p}
		}
		rt.path = p
		return rt
	}
	m.mu.RLock()
	d, ok := m.docs[p]
	m.mu.RUnlock()
	switch {
	case ok && d.obj == nil:
		return route{kind: kStaticRO, path: p, key: xmlKey}
	case ok && d.readOnly:
		return route{kind: kStaticRO, path: p}
	case ok:
		return route{kind: kStatic, path: p}
	}
	return route{kind: kStaticMissing, path: p}
}

func (m *mockup) etag(rt route) string {
	if tag, ok := stateETag(rt); ok {
		return tag
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if d := m.docs[rt.path]; d != nil {
		return d.etag
	}
	return ""
}

// overlay renders the stored document at path with fields replaced.
func (m *mockup) overlay(w *jw, path, etag string, set func(o map[string]any)) string {
	m.mu.RLock()
	o := maps.Clone(m.docs[path].obj)
	m.mu.RUnlock()
	set(o)
	o["@odata.etag"] = etag
	b, err := json.Marshal(o)
	if err != nil {
		b = []byte("{}")
	}
	w.raw(b)
	return etag
}

func (m *mockup) render(w *jw, rt route, scope *System) string {
	switch rt.kind {
	case kVersion:
		return renderVersion(w)
	case kOData:
		m.mu.RLock()
		d, root := m.docs[rt.path], m.docs[v1]
		var entries []odataEntry
		if (d == nil || d.obj == nil) && root != nil {
			entries = rootEntries(root.obj)
		}
		m.mu.RUnlock()
		if d == nil || d.obj == nil {
			return renderODataDoc(w, entries)
		} // else the bundle's own, below
	case kSystem:
		v := rt.sys.view()
		return m.overlay(w, rt.path, etagOf('s', v.gen.system), func(o map[string]any) {
			o["PowerState"] = v.power
			o["IndicatorLED"] = v.led
			boot := maps.Clone(getObj(o, "Boot"))
			if boot == nil {
				boot = map[string]any{}
			}
			boot["BootSourceOverrideTarget"] = v.boot.Target
			boot["BootSourceOverrideEnabled"] = v.boot.Enabled
			boot["BootSourceOverrideMode"] = v.boot.Mode
			if _, ok := boot["HttpBootUri"]; ok {
				boot["HttpBootUri"] = nil
				if v.boot.HTTPBootURI != "" {
					boot["HttpBootUri"] = v.boot.HTTPBootURI
				}
			}
			boot["BootSourceOverrideTarget@Redfish.AllowableValues"] = rt.sys.spec.bootSources
			o["Boot"] = boot
		})
	case kVM:
		ms := rt.sys.mediaView(rt.dev)
		return m.overlay(w, rt.path, etagOf('m', ms.gen), func(o map[string]any) {
			o["Image"], o["ImageName"], o["ConnectedVia"] = nil, nil, "NotConnected"
			if ms.image != "" {
				o["Image"], o["ImageName"], o["ConnectedVia"] = ms.image, ms.image[strings.LastIndexByte(ms.image, '/')+1:], "URI"
			}
			o["Inserted"], o["WriteProtected"] = ms.inserted, ms.writeProtected
		})
	case kBios, kBiosSettings:
		attrs, g := rt.sys.biosView(rt.kind == kBiosSettings)
		tag := etagOf('b', g)
		if rt.kind == kBiosSettings {
			tag = etagOf('p', g)
		}
		if attrs == nil {
			attrs = map[string]any{}
		}
		return m.overlay(w, rt.path, tag, func(o map[string]any) { o["Attributes"] = attrs })
	case kSecureBoot:
		v := rt.sys.view()
		return m.overlay(w, rt.path, etagOf('k', v.gen.secureBoot), func(o map[string]any) {
			o["SecureBootEnable"] = v.secureBoot
		})
	case kChassis:
		v := rt.sys.view()
		return m.overlay(w, rt.path, etagOf('s', v.gen.system), func(o map[string]any) {
			o["PowerState"] = v.power
			if _, ok := o["IndicatorLED"]; ok {
				o["IndicatorLED"] = v.led
			}
		})
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	d := m.docs[rt.path]
	if d == nil || d.obj == nil {
		w.raw([]byte("{}"))
		return ""
	}
	w.raw(d.raw)
	return d.etag
}

// xmlKey marks a route to an XML document ($metadata).
const xmlKey = "xml"

// xmlDoc returns a stored XML document.
func (m *mockup) xmlDoc(p string) []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if d := m.docs[p]; d != nil {
		return d.xml
	}
	return nil
}

// patchStatic merges a PATCH into a stored resource (RFC 7386 style).
func (m *mockup) patchStatic(rt route, patch map[string]json.RawMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.docs[rt.path]
	if d == nil || d.obj == nil {
		return errMethod("PATCH")
	}
	for k, raw := range patch {
		if strings.HasPrefix(k, "@odata.") {
			return errPropertyUnknown(k)
		}
		v, err := decodeValue(raw)
		if err != nil {
			return errMalformedJSON
		}
		mergeInto(d.obj, k, v)
	}
	d.render()
	return nil
}

func decodeValue(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// mergeInto sets o[k] = v, merging objects recursively and deleting on null.
func mergeInto(o map[string]any, k string, v any) {
	if v == nil {
		delete(o, k)
		return
	}
	src, ok := v.(map[string]any)
	dst, ok2 := o[k].(map[string]any)
	if !ok || !ok2 {
		o[k] = v
		return
	}
	for sk, sv := range src {
		mergeInto(dst, sk, sv)
	}
}

// buildMetadata returns the bundle's $metadata, or one generated from the
// @odata.type of every resource it holds and of the live session service.
func (m *mockup) buildMetadata() []byte {
	if d := m.docs[metadataPath]; d != nil && d.xml != nil {
		return d.xml
	}
	seen := map[string]bool{}
	for _, d := range m.docs {
		odataTypes(d.obj, seen)
	}
	types := sortedKeys(seen)
	for _, t := range nativeTypes {
		if strings.Contains(t, "Session") {
			types = append(types, t)
		}
	}
	return metadataDoc(types)
}

// metadata returns the OData metadata document.
func (m *mockup) metadata() []byte { return m.meta }

// The bundle's canned sessions stay readable (other resources link to
// them, as Links.Session of an outbound connection does) beside the live
// ones: they are listed in the session collection and can be deleted.

// cannedSessions returns the ids of the bundle's sessions still present.
func (m *mockup) cannedSessions() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var ids []string
	for p, d := range m.docs {
		if id, ok := strings.CutPrefix(p, sessionsPath+"/"); ok && d.obj != nil && !strings.Contains(id, "/") {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// cannedSession returns a canned session's stored JSON and ETag.
func (m *mockup) cannedSession(id string) (raw []byte, etag string, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d := m.docs[sessionsPath+"/"+id]
	if d == nil || d.obj == nil {
		return nil, "", false
	}
	return d.raw, d.etag, true
}

// dropCannedSession deletes a canned session; it reports whether it existed.
func (m *mockup) dropCannedSession(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := sessionsPath + "/" + id
	if d := m.docs[p]; d == nil || d.obj == nil {
		return false
	}
	delete(m.docs, p)
	return true
}

// odataTypes adds every @odata.type found in v, nested ones included, to
// seen.
func odataTypes(v any, seen map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		if t, ok := x["@odata.type"].(string); ok {
			seen[t] = true
		}
		for _, c := range x {
			odataTypes(c, seen)
		}
	case []any:
		for _, c := range x {
			odataTypes(c, seen)
		}
	}
}

// allowable returns the allowable values of an action parameter: inline
// (param@Redfish.AllowableValues) or, as many BMCs keep them, in the
// ActionInfo resource that @Redfish.ActionInfo names (its Parameters entry
// of that Name).
func (m *mockup) allowable(action map[string]any, param string) []string {
	if vs := getStrs(action, param+"@Redfish.AllowableValues"); len(vs) > 0 {
		return vs
	}
	info := m.docs[cleanPath(getStr(action, "@Redfish.ActionInfo"))]
	if info == nil || info.obj == nil {
		return nil
	}
	params, _ := info.obj["Parameters"].([]any)
	for _, p := range params {
		if po := getObj(p); getStr(po, "Name") == param {
			return getStrs(po, "AllowableValues")
		}
	}
	return nil
}
