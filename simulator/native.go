package simulator

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// native is the model of generated systems: system i has id sys-NNNNN, a
// Manager and a Chassis of the same id, two virtual media devices (Cd and
// Usb) reachable under both the Manager and the System, two processors, one
// NIC and one disk.
type native struct {
	systems []*System
	byID    map[string]*System

	collOnce sync.Once
	colls    [3][]byte // rendered Systems, Managers, Chassis collections

	metaOnce sync.Once
	meta     []byte // $metadata
}

// nativeSpec is the generic profile's spec.
func nativeSpec() *systemSpec { return profileSpec(&profiles[0]) }

// profileSpec is shared by every native system of a profile; the profile
// names the devices.
func profileSpec(p *Profile) *systemSpec {
	return &systemSpec{
		resetTypes:  allResetTypes,
		bootSources: allBootSources,
		devices: []deviceSpec{
			{id: p.CdID, name: "Virtual CD", mediaTypes: []string{"CD", "DVD"}, boots: []BootSource{BootCd}},
			{id: p.UsbID, name: "Virtual USB", mediaTypes: []string{"USBStick", "Floppy"}, boots: []BootSource{BootUsb, BootFloppy}},
		},
		biosDefaults: map[string]any{
			"BootMode": "Uefi", "EmbeddedSata": "Raid", "NicBoot1": "NetworkBoot",
			"NicBoot2": "NetworkBoot", "ProcTurboMode": "Enabled",
		},
		defaultBoot: BootHdd,
	}
}

// newNative builds n systems; system i has profile profs[i].
func newNative(f *fleet, profs []*Profile) (*native, []*System) {
	n := len(profs)
	m := &native{systems: make([]*System, n), byID: make(map[string]*System, n)}
	specs := map[*Profile]*systemSpec{}
	width := max(5, len(strconv.Itoa(n)))
	for i, p := range profs {
		spec := specs[p]
		if spec == nil {
			spec = profileSpec(p)
			specs[p] = spec
		}
		id := fmt.Sprintf("sys-%0*d", width, i+1)
		sys := newSystem(f, i, id, spec)
		sys.prof = p
		sys.quirks.Store(&p.Quirks)
		m.systems[i] = sys
		m.byID[id] = sys
	}
	return m, m.systems
}

const (
	v1           = "/redfish/v1"
	systemsPath  = v1 + "/Systems"
	managersPath = v1 + "/Managers"
	chassisPath  = v1 + "/Chassis"
)

// nextSeg splits the first path segment off p.
func nextSeg(p string) (seg, rest string) {
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, ""
}

func (m *native) resolve(scope *System, p string) route {
	rt := route{path: p}
	switch p {
	case "/redfish":
		rt.kind = kVersion
		return rt
	case v1:
		rt.kind = kRoot
		return rt
	case v1 + "/odata":
		rt.kind = kOData
		return rt
	case metadataPath:
		rt.kind = kMetadata
		return rt
	}
	rest, ok := strings.CutPrefix(p, v1+"/")
	if !ok {
		return rt
	}
	coll, rest := nextSeg(rest)
	switch coll {
	case "SessionService":
		return resolveSessions(rt, rest)
	case "AccountService":
		return resolveAccounts(rt, rest)
	}
	var k kind
	switch coll {
	case "Systems":
		k = kSystems
	case "Managers":
		k = kManagers
	case "Chassis":
		k = kChassisColl
	default:
		return rt
	}
	if rest == "" {
		rt.kind = k
		return rt
	}
	id, rest := nextSeg(rest)
	sys := m.byID[id]
	if scope != nil {
		// On its own port a system answers to its vendor's ids.
		n, want := namesOf(scope, scope), ""
		switch k {
		case kSystems:
			want = n.sys
		case kManagers:
			want = n.mgr
		default:
			want = n.ch
		}
		if sys = scope; id != want {
			return rt
		}
	}
	if sys == nil {
		return rt
	}
	rt.sys = sys
	switch k {
	case kSystems:
		return m.resolveSystem(rt, rest, scope)
	case kManagers:
		return m.resolveManager(rt, rest)
	}
	if rest == "" {
		rt.kind = kChassis
		return rt
	}
	if tr, ok := telemetryRoute(rt, namesOf(sys, scope), rest); ok {
		return tr
	}
	return inventoryRoute(rt, namesOf(sys, scope))
}

// resolveSessions maps the SessionService subtree, common to all models.
func resolveSessions(rt route, rest string) route {
	seg, id := nextSeg(rest)
	switch {
	case rest == "":
		rt.kind = kSessionService
	case seg == "Sessions" && id == "":
		rt.kind = kSessions
	case seg == "Sessions" && id == "Members":
		rt.kind = kSessionsMembers
	case seg == "Sessions" && !strings.Contains(id, "/"):
		rt.kind, rt.key = kSession, id
	}
	return rt
}

func (m *native) resolveSystem(rt route, rest string, scope *System) route {
	seg, sub := nextSeg(rest)
	switch seg {
	case "":
		rt.kind = kSystem
	case "Actions":
		if sub == "ComputerSystem.Reset" {
			rt.kind = kReset
		}
	case "ResetActionInfo":
		if sub == "" && rt.sys.q().ResetActionInfo {
			rt.kind = kResetActionInfo
		}
	case "Settings":
		if sub == "" && rt.sys.q().BootViaSettings {
			rt.kind = kSystemSettings
		}
	case "EthernetInterfaces", "Processors", "Memory", "Storage", "SimpleStorage":
		return inventoryRoute(rt, namesOf(rt.sys, scope))
	case "Bios":
		switch sub {
		case "":
			rt.kind = kBios
		case "Settings":
			rt.kind = kBiosSettings
		case "Actions/Bios.ResetBios":
			rt.kind = kBiosReset
		}
	case "SecureBoot":
		if sub == "" {
			rt.kind = kSecureBoot
		}
	case "VirtualMedia":
		if rt.sys.mediaPlaced(false) {
			return resolveMedia(rt, sub)
		}
	}
	return rt
}

func (m *native) resolveManager(rt route, rest string) route {
	seg, sub := nextSeg(rest)
	switch {
	case seg == "":
		rt.kind = kManager
	case seg == "Actions" && sub == "Manager.Reset":
		rt.kind = kManagerReset
	case seg == "VirtualMedia" && rt.sys.mediaPlaced(true):
		rt.underManager = true
		return resolveMedia(rt, sub)
	}
	return rt
}

// resolveMedia maps a VirtualMedia subtree below a system or manager.
func resolveMedia(rt route, sub string) route {
	if sub == "" {
		rt.kind = kVMColl
		return rt
	}
	dev, action := nextSeg(sub)
	i, err := rt.sys.deviceIndex(dev)
	if err != nil {
		return rt
	}
	rt.dev = i
	switch action {
	case "":
		rt.kind = kVM
	case "Actions/VirtualMedia.InsertMedia", "Actions/VirtualMedia.EjectMedia":
		if rt.sys.q().MediaPatchOnly {
			break // the BMC has no media actions
		}
		rt.kind = kVMInsert
		if action == "Actions/VirtualMedia.EjectMedia" {
			rt.kind = kVMEject
		}
	}
	return rt
}

func (m *native) systemPath(sys *System) string { return systemsPath + "/" + sys.id }

func (m *native) patchStatic(route, map[string]json.RawMessage) error {
	return errMethod("PATCH")
}

// etagOf formats a generation as an ETag.
func etagOf(prefix byte, gen uint32) string {
	b := make([]byte, 0, 16)
	b = append(b, '"', prefix)
	b = strconv.AppendUint(b, uint64(gen), 10)
	return string(append(b, '"'))
}

func (m *native) etag(rt route) string {
	if tag, ok := stateETag(rt); ok {
		return tag
	}
	return `"c1"`
}

// stateETag returns the ETag of a resource rendered from System state, for
// every model.
func stateETag(rt route) (string, bool) {
	switch rt.kind {
	case kSystem, kChassis:
		return rt.sys.etag('s', rt.sys.view().gen.system), true
	case kSystemSettings:
		return rt.sys.etag('t', rt.sys.view().gen.system), true
	case kVM:
		return rt.sys.etag('m', rt.sys.mediaView(rt.dev).gen), true
	case kBios:
		_, g := rt.sys.biosView(false)
		return rt.sys.etag('b', g), true
	case kBiosSettings:
		_, g := rt.sys.biosView(true)
		return rt.sys.etag('p', g), true
	case kSecureBoot:
		return rt.sys.etag('k', rt.sys.view().gen.secureBoot), true
	}
	return "", false
}

// head opens a resource object with its @odata annotations.
func head(w *jw, typ, id, etag string) {
	w.obj()
	w.kv("@odata.type", typ)
	w.kv("@odata.id", id)
	w.kv("@odata.etag", etag)
}

// linkArr writes "k":[{"@odata.id":"v"}].
func linkArr(w *jw, k, v string) {
	w.key(k)
	w.arr()
	w.linkObj(v)
	w.endArr()
}

func status(w *jw) {
	w.key("Status")
	w.obj()
	w.kv("State", "Enabled")
	w.kv("Health", "OK")
	w.end()
}

func (m *native) render(w *jw, rt route, scope *System) string {
	switch rt.kind {
	case kVersion:
		return renderVersion(w)
	case kRoot:
		return renderRoot(w)
	case kOData:
		return renderOData(w)
	case kSystems, kManagers, kChassisColl:
		return m.renderCollection(w, rt.kind, scope)
	case kSystem:
		return m.renderSystem(w, rt.sys, namesOf(rt.sys, scope))
	case kManager:
		return m.renderManager(w, rt.sys, namesOf(rt.sys, scope))
	case kChassis:
		return m.renderChassis(w, rt.sys, namesOf(rt.sys, scope))
	case kResetActionInfo:
		return renderResetActionInfo(w, rt)
	case kSystemSettings:
		return renderSystemSettings(w, rt)
	case kVMColl:
		return m.renderSubCollection(w, rt)
	case kInv:
		return renderInventory(w, rt)
	case kBios, kBiosSettings:
		return renderBios(w, rt)
	case kSecureBoot:
		return renderSecureBoot(w, rt)
	case kVM:
		n := namesOf(rt.sys, scope)
		base := systemsPath + "/" + n.sys
		if rt.underManager {
			base = managersPath + "/" + n.mgr
		}
		return renderMedia(w, rt.sys, rt.dev, base+"/VirtualMedia/"+rt.sys.spec.devices[rt.dev].id)
	}
	return ""
}

// renderVersion renders /redfish, the protocol version document.
func renderVersion(w *jw) string {
	w.obj()
	w.kv("v1", v1+"/")
	w.end()
	return ""
}

func renderRoot(w *jw) string {
	const etag = `"r1"`
	head(w, "#ServiceRoot.v1_11_0.ServiceRoot", v1+"/", etag)
	w.kv("Id", "RootService")
	w.kv("Name", "bmc-agent Redfish simulator")
	w.kv("RedfishVersion", "1.11.0")
	w.kv("UUID", "7c3e8b52-5a1e-4c1b-9d67-000000000000")
	w.link("Systems", systemsPath)
	w.link("Managers", managersPath)
	w.link("Chassis", chassisPath)
	w.link("SessionService", sessionServicePath)
	w.link("AccountService", accountServicePath)
	w.link("UpdateService", updateServicePath)
	w.link("EventService", eventServicePath)
	protocolFeatures(w)
	w.key("Links")
	w.obj()
	w.link("Sessions", sessionsPath)
	w.end()
	w.end()
	return etag
}

func renderOData(w *jw) string {
	var entries []odataEntry
	for _, n := range []string{"Systems", "Managers", "Chassis", "SessionService", "AccountService"} {
		entries = append(entries, odataEntry{n, v1 + "/" + n})
	}
	return renderODataDoc(w, entries)
}

// renderCollection renders Systems, Managers or Chassis. The fleet-wide
// ones are rendered once and cached: membership never changes.
func (m *native) renderCollection(w *jw, k kind, scope *System) string {
	const etag = `"c1"`
	idx := int(k - kSystems)
	if scope != nil {
		m.appendCollection(w, k, []*System{scope}, scope)
		return etag
	}
	m.collOnce.Do(func() {
		for i, k := range []kind{kSystems, kManagers, kChassisColl} {
			var cw jw
			m.appendCollection(&cw, k, m.systems, nil)
			m.colls[i] = cw.b
		}
	})
	w.raw(m.colls[idx])
	return etag
}

func (m *native) appendCollection(w *jw, k kind, systems []*System, scope *System) {
	base, typ, name := systemsPath, "#ComputerSystemCollection.ComputerSystemCollection", "Computer System Collection"
	switch k {
	case kManagers:
		base, typ, name = managersPath, "#ManagerCollection.ManagerCollection", "Manager Collection"
	case kChassisColl:
		base, typ, name = chassisPath, "#ChassisCollection.ChassisCollection", "Chassis Collection"
	}
	head(w, typ, base, `"c1"`)
	w.kv("Name", name)
	w.key("Members@odata.count")
	w.int(len(systems))
	w.key("Members")
	w.arr()
	for _, s := range systems {
		n, id := namesOf(s, scope), ""
		switch k {
		case kManagers:
			id = n.mgr
		case kChassisColl:
			id = n.ch
		default:
			id = n.sys
		}
		w.linkObj(base + "/" + id)
	}
	w.endArr()
	w.end()
}

// uuidOf derives a stable UUID from the system index.
func uuidOf(prefix string, i int) string {
	return fmt.Sprintf("%s-5157-4d1a-8c3e-%012x", prefix, i+1)
}

// macOf derives a stable locally administered MAC from the system index.
func macOf(i int) string {
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", (i>>16)&0xff, (i>>8)&0xff, i&0xff)
}

func (m *native) renderSystem(w *jw, sys *System, n names) string {
	v := sys.view()
	q := sys.q()
	etag := sys.etag('s', v.gen.system)
	self := systemsPath + "/" + n.sys
	head(w, "#ComputerSystem.v1_20_0.ComputerSystem", self, etag)
	w.kv("Id", n.sys)
	w.kv("Name", "Simulated system "+sys.id)
	w.kv("SystemType", "Physical")
	w.kv("UUID", uuidOf("5e1f0000", sys.index))
	w.kv("BiosVersion", "SIM-1.0.0")
	system, _ := sys.Rollups()
	statusRollup(w, system)
	w.kv("PowerState", string(v.power))
	w.kv("IndicatorLED", string(v.led))
	w.key("Boot")
	w.obj()
	w.kv("BootSourceOverrideEnabled", string(v.boot.Enabled))
	w.kv("BootSourceOverrideTarget", string(v.boot.Target))
	if !q.NoBootAllowableValues {
		w.key("BootSourceOverrideTarget@Redfish.AllowableValues")
		bootSources(w, sys)
	}
	w.kv("BootSourceOverrideMode", string(v.boot.Mode))
	// UefiHttp is offered with the URI it boots (ComputerSystem v1_9_0).
	w.key("HttpBootUri")
	if v.boot.HTTPBootURI == "" {
		w.null()
	} else {
		w.str(v.boot.HTTPBootURI)
	}
	w.key("BootSourceOverrideMode@Redfish.AllowableValues")
	strs(w, []BootMode{BootModeUEFI, BootModeLegacy})
	w.end()
	inventoryLinks(w, sys, self, chassisPath+"/"+n.ch)
	w.link("Bios", self+"/Bios")
	w.link("SecureBoot", self+"/SecureBoot")
	if sys.mediaPlaced(false) {
		w.link("VirtualMedia", self+"/VirtualMedia")
	}
	if q.BootViaSettings {
		settingsAnnotation(w, self+"/Settings")
	}
	w.key("Links")
	w.obj()
	linkArr(w, "Chassis", chassisPath+"/"+n.ch)
	linkArr(w, "ManagedBy", managersPath+"/"+n.mgr)
	w.end()
	w.key("Actions")
	w.obj()
	w.key("#ComputerSystem.Reset")
	w.obj()
	w.kv("target", self+"/Actions/ComputerSystem.Reset")
	if q.ResetActionInfo {
		w.kv("@Redfish.ActionInfo", self+"/ResetActionInfo")
	} else {
		w.key("ResetType@Redfish.AllowableValues")
		strs(w, sys.spec.resetTypes)
	}
	w.end()
	w.end()
	w.end()
	return etag
}

// bootSources writes the system's boot targets.
func bootSources(w *jw, sys *System) {
	if sys.q().CdNeedsUsbCd {
		strs(w, sys.BootSources())
		return
	}
	strs(w, sys.spec.bootSources)
}

// settingsAnnotation writes @Redfish.Settings pointing at a settings
// resource applied at the next reset.
func settingsAnnotation(w *jw, settings string) {
	w.key("@Redfish.Settings")
	w.obj()
	w.kv("@odata.type", "#Settings.v1_3_5.Settings")
	w.link("SettingsObject", settings)
	w.key("SupportedApplyTimes")
	strs(w, []string{"OnReset"})
	w.end()
}

// renderResetActionInfo renders the ActionInfo of ComputerSystem.Reset
// (Quirks.ResetActionInfo), in bmcweb's form.
func renderResetActionInfo(w *jw, rt route) string {
	const etag = `"a1"`
	head(w, "#ActionInfo.v1_1_2.ActionInfo", rt.path, etag)
	w.kv("Id", "ResetActionInfo")
	w.kv("Name", "Reset Action Info")
	w.key("Parameters")
	w.arr()
	w.obj()
	w.kv("Name", "ResetType")
	w.key("Required")
	w.bool(true)
	w.kv("DataType", "String")
	w.key("AllowableValues")
	strs(w, rt.sys.spec.resetTypes)
	w.end()
	w.endArr()
	w.end()
	return etag
}

// renderSystemSettings renders the System's settings resource
// (Quirks.BootViaSettings): the boot override the next reset applies, with
// its allowable values.
func renderSystemSettings(w *jw, rt route) string {
	b, gen := rt.sys.settingsView()
	etag := rt.sys.etag('t', gen)
	head(w, "#ComputerSystem.v1_20_0.ComputerSystem", rt.path, etag)
	w.kv("Id", "Settings")
	w.kv("Name", "Pending system settings")
	w.key("Boot")
	w.obj()
	w.kv("BootSourceOverrideEnabled", string(b.Enabled))
	w.kv("BootSourceOverrideTarget", string(b.Target))
	w.key("BootSourceOverrideTarget@Redfish.AllowableValues")
	bootSources(w, rt.sys)
	w.kv("BootSourceOverrideMode", string(b.Mode))
	w.end()
	w.end()
	return etag
}

func (m *native) renderManager(w *jw, sys *System, n names) string {
	const etag = `"m1"`
	self := managersPath + "/" + n.mgr
	head(w, "#Manager.v1_10_0.Manager", self, etag)
	w.kv("Id", n.mgr)
	w.kv("Name", "Simulated BMC "+sys.id)
	w.kv("ManagerType", "BMC")
	w.kv("FirmwareVersion", "SIM-BMC-1.0.0")
	w.kv("UUID", uuidOf("b3c00000", sys.index))
	w.kv("PowerState", "On")
	status(w)
	if sys.mediaPlaced(true) {
		w.link("VirtualMedia", self+"/VirtualMedia")
	}
	w.key("Links")
	w.obj()
	linkArr(w, "ManagerForServers", systemsPath+"/"+n.sys)
	linkArr(w, "ManagerForChassis", chassisPath+"/"+n.ch)
	w.link("ManagerInChassis", chassisPath+"/"+n.ch)
	w.end()
	w.key("Actions")
	w.obj()
	w.key("#Manager.Reset")
	w.obj()
	w.kv("target", self+"/Actions/Manager.Reset")
	w.key("ResetType@Redfish.AllowableValues")
	strs(w, []string{"GracefulRestart", "ForceRestart"})
	w.end()
	w.end()
	w.end()
	return etag
}

func (m *native) renderChassis(w *jw, sys *System, n names) string {
	v := sys.view()
	etag := sys.etag('s', v.gen.system)
	head(w, "#Chassis.v1_15_0.Chassis", chassisPath+"/"+n.ch, etag)
	w.kv("Id", n.ch)
	w.kv("Name", "Chassis of "+sys.id)
	w.kv("ChassisType", "RackMount")
	chassisInventoryLinks(w, chassisPath+"/"+n.ch)
	chassisTelemetryLinks(w, sys, chassisPath+"/"+n.ch)
	w.kv("PowerState", string(v.power))
	w.kv("IndicatorLED", string(v.led))
	_, chassis := sys.Rollups()
	statusRollup(w, chassis)
	w.key("Links")
	w.obj()
	linkArr(w, "ComputerSystems", systemsPath+"/"+n.sys)
	linkArr(w, "ManagedBy", managersPath+"/"+n.mgr)
	w.end()
	w.end()
	return etag
}

// renderSubCollection renders the fixed collections below a system.
func (m *native) renderSubCollection(w *jw, rt route) string {
	const etag = `"c1"`
	var typ, name string
	var members []string
	switch rt.kind {
	case kVMColl:
		typ, name = "#VirtualMediaCollection.VirtualMediaCollection", "Virtual Media Collection"
		for _, d := range rt.sys.spec.devices {
			members = append(members, d.id)
		}
	}
	head(w, typ, rt.path, etag)
	w.kv("Name", name)
	w.key("Members@odata.count")
	w.int(len(members))
	w.key("Members")
	w.arr()
	for _, id := range members {
		w.linkObj(rt.path + "/" + id)
	}
	w.endArr()
	w.end()
	return etag
}

// renderBios renders Bios (current attributes) or Bios/Settings (pending
// ones), for native and mockup systems.
func renderBios(w *jw, rt route) string {
	pending := rt.kind == kBiosSettings
	attrs, gen := rt.sys.biosView(pending)
	etag := rt.sys.etag('b', gen)
	id := "Bios"
	if pending {
		id, etag = "Settings", rt.sys.etag('p', gen)
	}
	head(w, "#Bios.v1_1_0.Bios", rt.path, etag)
	w.kv("Id", id)
	w.kv("Name", "BIOS Configuration")
	w.kv("AttributeRegistry", "BiosAttributeRegistry.v1_0_0")
	w.key("Attributes")
	w.obj()
	for _, k := range sortedKeys(attrs) {
		w.key(k)
		w.any(attrs[k])
	}
	w.end()
	if !pending {
		w.key("@Redfish.Settings")
		w.obj()
		w.kv("@odata.type", "#Settings.v1_3_5.Settings")
		w.link("SettingsObject", rt.path+"/Settings")
		w.key("SupportedApplyTimes")
		strs(w, []string{"OnReset"})
		w.end()
		w.key("Actions")
		w.obj()
		w.key("#Bios.ResetBios")
		w.obj()
		w.kv("target", rt.path+"/Actions/Bios.ResetBios")
		w.end()
		w.end()
	}
	w.end()
	return etag
}

func renderSecureBoot(w *jw, rt route) string {
	v := rt.sys.view()
	etag := rt.sys.etag('k', v.gen.secureBoot)
	head(w, "#SecureBoot.v1_1_0.SecureBoot", rt.path, etag)
	w.kv("Id", "SecureBoot")
	w.kv("Name", "UEFI Secure Boot")
	w.key("SecureBootEnable")
	w.bool(v.secureBoot)
	cur := "Disabled"
	if v.secureBoot && v.power == PowerOn && v.boot.Mode == BootModeUEFI {
		cur = "Enabled"
	}
	w.kv("SecureBootCurrentBoot", cur)
	w.kv("SecureBootMode", "DeployedMode")
	w.end()
	return etag
}

// renderMedia renders a virtual media device at self.
func renderMedia(w *jw, sys *System, dev int, self string) string {
	m := sys.mediaView(dev)
	d := &sys.spec.devices[dev]
	q := sys.q()
	etag := sys.etag('m', m.gen)
	head(w, "#VirtualMedia.v1_4_0.VirtualMedia", self, etag)
	w.kv("Id", d.id)
	w.kv("Name", d.name)
	w.key("MediaTypes")
	strs(w, d.mediaTypes)
	w.key("Image")
	switch {
	case m.image == "" && q.EmptyImageNone:
		w.str("None")
	case m.image == "":
		w.null()
	default:
		w.str(m.image)
	}
	w.key("ImageName")
	if m.image == "" {
		w.null()
	} else {
		w.str(m.image[strings.LastIndexByte(m.image, '/')+1:])
	}
	w.key("Inserted")
	w.bool(m.inserted || (m.staleUntil != 0 && sys.now().UnixNano() < m.staleUntil))
	w.key("WriteProtected")
	w.bool(m.writeProtected)
	via := "NotConnected"
	if m.image != "" {
		via = "URI"
	}
	w.kv("ConnectedVia", via)
	if q.MediaPatchOnly {
		w.end()
		return etag
	}
	w.key("Actions")
	w.obj()
	w.key("#VirtualMedia.InsertMedia")
	w.obj()
	w.kv("target", self+"/Actions/VirtualMedia.InsertMedia")
	w.end()
	w.key("#VirtualMedia.EjectMedia")
	w.obj()
	w.kv("target", self+"/Actions/VirtualMedia.EjectMedia")
	w.end()
	w.end()
	w.end()
	return etag
}
