package simulator

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// This file is a generated system's hardware: processors, DIMMs, drives,
// on-board and add-on NICs, PCIe devices, serial number and SKU. Each
// system's inventory follows from its index and profile alone (the same
// simulator serves the same hardware every time) and varies between
// systems, so that an inspection of a fleet meets different shapes. The
// resources are rendered from one tree of documents keyed by path, which
// also answers $expand of a collection.

// cpuKind is one processor model the simulator fits.
type cpuKind struct {
	mfr, model string
	arch, iset string // ProcessorArchitecture, InstructionSet
	mhz        int
	cores      int
}

var cpuKinds = []cpuKind{
	{"Intel(R) Corporation", "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", "x86", "x86-64", 3200, 32},
	{"Intel(R) Corporation", "Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz", "x86", "x86-64", 3400, 16},
	{"Advanced Micro Devices, Inc.", "AMD EPYC 7543 32-Core Processor", "x86", "x86-64", 3700, 32},
	{"Ampere(R)", "Ampere(R) Altra(R) Q80-30", "ARM", "ARM-A64", 3000, 80},
}

// driveKind is one drive model.
type driveKind struct {
	mfr, model, media, protocol string
	bytes                       int64
}

var driveKinds = []driveKind{
	{"SAMSUNG", "MZ7L3240HCHQ", "SSD", "SATA", 240057409536},
	{"INTEL", "SSDSC2KG480G8", "SSD", "SATA", 480103981056},
	{"SAMSUNG", "MZQL2960HCJR", "SSD", "NVMe", 960197124096},
	{"KIOXIA", "KCD6XLUL1T92", "SSD", "NVMe", 1920383410176},
	{"SEAGATE", "ST4000NM000A", "HDD", "SATA", 4000787030016},
	{"TOSHIBA", "MG06ACA800E", "HDD", "SAS", 8001563222016},
}

// nicKind is one add-on network adapter model.
type nicKind struct{ mfr, model string }

var nicKinds = []nicKind{
	{"Mellanox Technologies", "ConnectX-6 Lx"},
	{"Intel Corporation", "Ethernet Controller E810-XXV"},
	{"Broadcom Inc. and subsidiaries", "BCM57414 NetXtreme-E 10Gb/25Gb"},
}

// vendorModels are the Manufacturer and the models a profile's systems
// report; generic systems are the simulator's own.
var vendorModels = map[string]struct {
	mfr    string
	models []string
}{
	"generic":    {"bmc-agent", []string{"Redfish Simulator"}},
	"dell-idrac": {"Dell Inc.", []string{"PowerEdge R650", "PowerEdge R750", "PowerEdge R6525"}},
	"hpe-ilo":    {"HPE", []string{"ProLiant DL360 Gen10 Plus", "ProLiant DL380 Gen10 Plus"}},
	"supermicro": {"Supermicro", []string{"SYS-120U-TNR", "AS -1114S-WN10RT"}},
	"lenovo-xcc": {"Lenovo", []string{"ThinkSystem SR650 V2", "ThinkSystem SR630 V2"}},
	"ami":        {"GIGABYTE", []string{"R282-Z90-00", "R182-Z92-00"}},
	"openbmc":    {"OpenBMC", []string{"Tioga Pass", "Mt. Jade"}},
}

// hwCPU, hwDrive, hwNIC, hwAdapter and hwPCIe are one system's parts.
type hwCPU struct {
	cpuKind
	id string
}

type hwDrive struct {
	driveKind
	id, serial string
}

type hwNIC struct {
	id, mac string
	speed   int
	up      bool
}

type hwAdapter struct {
	nicKind
	id    string
	ports []hwNIC
}

type hwPCIe struct {
	id, name, class         string
	vendorID, deviceID, mfr string
}

// hardware is one system's inventory.
type hardware struct {
	mfr, model, serial, sku string
	cpus                    []hwCPU
	dimmMiB                 []int
	drives                  []hwDrive
	nics                    []hwNIC // EthernetInterfaces
	adapters                []hwAdapter
	pcie                    []hwPCIe
}

// mix is splitmix64: a stateless hash giving each (system, salt) its own
// well-spread number.
func mix(i, salt int) uint64 {
	z := uint64(i)*0x9e3779b97f4a7c15 + uint64(salt)*0xbf58476d1ce4e5b9 + 0x94d049bb133111eb
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// nicMAC is the MAC of a system's port k (0-15 on-board, 16 and up
// add-on); port 0 keeps macOf's address.
func nicMAC(i, k int) string {
	return fmt.Sprintf("52:54:%02x:%02x:%02x:%02x", k, (i>>16)&0xff, (i>>8)&0xff, i&0xff)
}

// hardwareOf returns the inventory of the system with the given index and
// profile.
func hardwareOf(i int, profile string) *hardware {
	r := func(salt, n int) int { return int(mix(i, salt) % uint64(n)) }
	vm, ok := vendorModels[profile]
	if !ok {
		vm = vendorModels["generic"]
	}
	h := &hardware{
		mfr: vm.mfr, model: vm.models[r(1, len(vm.models))],
		serial: "SIM" + strconv.Itoa(100000000+i),
		sku:    fmt.Sprintf("SKU-%05X", mix(i, 2)&0xfffff),
	}
	ck := cpuKinds[r(3, len(cpuKinds))]
	for s := range 1 + r(4, 2) {
		h.cpus = append(h.cpus, hwCPU{ck, "CPU" + strconv.Itoa(s)})
	}
	dimm := []int{16384, 32768, 65536}[r(5, 3)]
	for range 4 << r(6, 3) { // 4, 8 or 16 DIMMs
		h.dimmMiB = append(h.dimmMiB, dimm)
	}
	for d := range 1 + r(7, 4) {
		dk := driveKinds[r(8+d, len(driveKinds))]
		h.drives = append(h.drives, hwDrive{dk, strconv.Itoa(d), fmt.Sprintf("S%02dX%08X", d, uint32(mix(i, 20+d)))})
	}
	speed := []int{1000, 10000, 25000}[r(12, 3)]
	for k := range 2 + r(13, 3) { // 2 to 4 on-board NICs
		h.nics = append(h.nics, hwNIC{id: strconv.Itoa(k + 1), mac: nicMAC(i, k), speed: speed, up: k < 2})
	}
	for a := range r(14, 3) { // 0 to 2 add-on adapters with two ports each
		nk := nicKinds[r(15+a, len(nicKinds))]
		ad := hwAdapter{nicKind: nk, id: "NIC.Slot." + strconv.Itoa(a+1)}
		for p := range 2 {
			ad.ports = append(ad.ports, hwNIC{id: strconv.Itoa(p + 1), mac: nicMAC(i, 16+2*a+p), speed: 25000, up: p == 0})
		}
		h.adapters = append(h.adapters, ad)
	}
	h.pcie = append(h.pcie, hwPCIe{"0", "VGA controller", "DisplayController", "0x102b", "0x0536", "Matrox Electronics Systems Ltd."})
	for a, ad := range h.adapters {
		h.pcie = append(h.pcie, hwPCIe{strconv.Itoa(a + 1), ad.model, "NetworkController", "0x15b3", "0x101f", ad.mfr})
	}
	return h
}

// MemoryMiB is the system's total memory.
func (h *hardware) memoryMiB() int {
	t := 0
	for _, m := range h.dimmMiB {
		t += m
	}
	return t
}

// hwDoc is one resource document.
type hwDoc = map[string]any

func link(p string) hwDoc { return hwDoc{"@odata.id": p} }

var okStatus = hwDoc{"State": "Enabled", "Health": "OK"}

// collection returns a collection document whose members are paths.
func collection(self, typ, name string, members []string) hwDoc {
	links := make([]any, len(members))
	for i, m := range members {
		links[i] = link(m)
	}
	return hwDoc{
		"@odata.id": self, "@odata.type": "#" + typ + "." + typ, "Name": name,
		"Members@odata.count": len(members), "Members": links,
	}
}

// inventoryDocs returns the system's inventory resources keyed by path,
// under the System's and the Chassis's ids in n. The quirks decide the
// variants: no Storage, empty MACs.
func inventoryDocs(sys *System, n names) map[string]hwDoc {
	q := sys.q()
	if c := sys.invCache.Load(); c != nil && c.q == q && c.n == n {
		return c.docs // built for these quirks and ids: read-only
	}
	docs := buildInventoryDocs(sys, n, q)
	sys.invCache.Store(&invCache{q: q, n: n, docs: docs})
	return docs
}

// invCache is a system's last built inventory documents.
type invCache struct {
	q    *Quirks
	n    names
	docs map[string]hwDoc
}

func buildInventoryDocs(sys *System, n names, q *Quirks) map[string]hwDoc {
	h := hardwareOf(sys.index, sys.Profile())
	sp, cp := systemsPath+"/"+n.sys, chassisPath+"/"+n.ch
	out := map[string]hwDoc{}
	add := func(d hwDoc) string {
		p := d["@odata.id"].(string)
		d["@odata.etag"] = `"i1"`
		out[p] = d
		return p
	}
	var members []string
	for _, c := range h.cpus {
		members = append(members, add(hwDoc{
			"@odata.id": sp + "/Processors/" + c.id, "@odata.type": "#Processor.v1_10_0.Processor",
			"Id": c.id, "Name": "Processor " + c.id, "Socket": c.id, "ProcessorType": "CPU",
			"ProcessorArchitecture": c.arch, "InstructionSet": c.iset, "Manufacturer": c.mfr,
			"Model": c.model, "MaxSpeedMHz": c.mhz, "TotalCores": c.cores, "TotalThreads": 2 * c.cores,
			"Status": okStatus,
		}))
	}
	add(collection(sp+"/Processors", "ProcessorCollection", "Processor Collection", members))
	members = nil
	for k, m := range h.dimmMiB {
		id := fmt.Sprintf("DIMM%d", k)
		members = append(members, add(hwDoc{
			"@odata.id": sp + "/Memory/" + id, "@odata.type": "#Memory.v1_11_0.Memory",
			"Id": id, "Name": "DIMM " + strconv.Itoa(k), "MemoryDeviceType": "DDR4", "CapacityMiB": m,
			"OperatingSpeedMhz": 3200, "Manufacturer": "Samsung", "PartNumber": "M393A4K40EB3-CWE",
			"SerialNumber": fmt.Sprintf("%08X", uint32(mix(sys.index, 100+k))), "Status": okStatus,
		}))
	}
	add(collection(sp+"/Memory", "MemoryCollection", "Memory Collection", members))
	if !q.NoStorage {
		var drives []any
		for _, d := range h.drives {
			drives = append(drives, link(add(hwDoc{
				"@odata.id": sp + "/Storage/1/Drives/" + d.id, "@odata.type": "#Drive.v1_12_0.Drive",
				"Id": d.id, "Name": "Drive " + d.id, "Manufacturer": d.mfr, "Model": d.model,
				"SerialNumber": d.serial, "MediaType": d.media, "Protocol": d.protocol,
				"CapacityBytes": d.bytes, "Revision": "1.0", "Status": okStatus,
			})))
		}
		st := add(hwDoc{
			"@odata.id": sp + "/Storage/1", "@odata.type": "#Storage.v1_9_0.Storage",
			"Id": "1", "Name": "Storage Controller 1", "Drives": drives, "Drives@odata.count": len(drives),
			"StorageControllers": []any{hwDoc{"MemberId": "0", "Name": "SATA/NVMe controller", "Status": okStatus,
				"SupportedControllerProtocols": []string{"PCIe"}, "SupportedDeviceProtocols": []string{"SATA", "NVMe", "SAS"}}},
			"Status": okStatus,
		})
		add(collection(sp+"/Storage", "StorageCollection", "Storage Collection", []string{st}))
	}
	var devices []any
	for _, d := range h.drives {
		devices = append(devices, hwDoc{"Name": "Drive " + d.id, "Manufacturer": d.mfr, "Model": d.model,
			"CapacityBytes": d.bytes, "Status": okStatus})
	}
	ss := add(hwDoc{
		"@odata.id": sp + "/SimpleStorage/1", "@odata.type": "#SimpleStorage.v1_3_0.SimpleStorage",
		"Id": "1", "Name": "Simple Storage Controller", "Devices": devices, "Status": okStatus,
	})
	add(collection(sp+"/SimpleStorage", "SimpleStorageCollection", "Simple Storage Collection", []string{ss}))
	members = nil
	for k, e := range h.nics {
		mac := e.mac
		if q.EmptyMAC && k == len(h.nics)-1 {
			mac = "" // the last port reports no address
		}
		ls := "LinkDown"
		if e.up {
			ls = "LinkUp"
		}
		members = append(members, add(hwDoc{
			"@odata.id": sp + "/EthernetInterfaces/" + e.id, "@odata.type": "#EthernetInterface.v1_6_0.EthernetInterface",
			"Id": e.id, "Name": "Ethernet Interface " + e.id, "MACAddress": mac, "PermanentMACAddress": mac,
			"SpeedMbps": e.speed, "LinkStatus": ls, "Status": okStatus,
		}))
	}
	add(collection(sp+"/EthernetInterfaces", "EthernetInterfaceCollection", "Ethernet Interface Collection", members))
	members = nil
	for _, ad := range h.adapters {
		ap := cp + "/NetworkAdapters/" + ad.id
		var fns []string
		for _, p := range ad.ports {
			fns = append(fns, add(hwDoc{
				"@odata.id": ap + "/NetworkDeviceFunctions/" + p.id, "@odata.type": "#NetworkDeviceFunction.v1_5_0.NetworkDeviceFunction",
				"Id": p.id, "Name": ad.model + " port " + p.id, "NetDevFuncType": "Ethernet",
				"Ethernet": hwDoc{"MACAddress": p.mac, "PermanentMACAddress": p.mac, "MTUSize": 1500},
				"Status":   okStatus,
			}))
		}
		add(collection(ap+"/NetworkDeviceFunctions", "NetworkDeviceFunctionCollection", "Network Device Function Collection", fns))
		members = append(members, add(hwDoc{
			"@odata.id": ap, "@odata.type": "#NetworkAdapter.v1_7_0.NetworkAdapter",
			"Id": ad.id, "Name": ad.model, "Manufacturer": ad.mfr, "Model": ad.model,
			"NetworkDeviceFunctions": link(ap + "/NetworkDeviceFunctions"), "Status": okStatus,
		}))
	}
	add(collection(cp+"/NetworkAdapters", "NetworkAdapterCollection", "Network Adapter Collection", members))
	members = nil
	for _, d := range h.pcie {
		dp := cp + "/PCIeDevices/" + d.id
		members = append(members, dp)
		fp := add(hwDoc{
			"@odata.id": dp + "/PCIeFunctions/0", "@odata.type": "#PCIeFunction.v1_2_3.PCIeFunction",
			"Id": "0", "Name": d.name + " function 0", "DeviceClass": d.class, "FunctionType": "Physical",
			"VendorId": d.vendorID, "DeviceId": d.deviceID, "SubsystemVendorId": d.vendorID,
			"SubsystemId": "0x0000", "RevisionId": "0x01", "Status": okStatus,
		})
		add(collection(dp+"/PCIeFunctions", "PCIeFunctionCollection", "PCIe Function Collection", []string{fp}))
		add(hwDoc{
			"@odata.id": dp, "@odata.type": "#PCIeDevice.v1_9_0.PCIeDevice",
			"Id": d.id, "Name": d.name, "Manufacturer": d.mfr, "DeviceType": "SingleFunction",
			"PCIeFunctions": link(dp + "/PCIeFunctions"), "Status": okStatus,
		})
	}
	add(collection(cp+"/PCIeDevices", "PCIeDeviceCollection", "PCIe Device Collection", members))
	return out
}

// inventoryRoute resolves an inventory path below a System or Chassis.
func inventoryRoute(rt route, n names) route {
	all := inventoryDocs(rt.sys, n)
	if _, ok := all[rt.path]; ok {
		rt.kind, rt.inv = kInv, all
	}
	return rt
}

// inventoryLinks writes the System's links to its inventory and its
// summaries, matching the documents.
func inventoryLinks(w *jw, sys *System, self, ch string) {
	h := hardwareOf(sys.index, sys.Profile())
	q := sys.q()
	w.kv("Manufacturer", h.mfr)
	w.kv("Model", h.model)
	w.kv("SerialNumber", h.serial)
	if q.SKUServiceTag {
		// The service tag: seven characters from the serial.
		w.kv("SKU", serviceTag(sys.index))
	} else {
		w.kv("SKU", h.sku)
	}
	w.key("ProcessorSummary")
	w.obj()
	w.key("Count")
	w.int(len(h.cpus))
	w.key("LogicalProcessorCount")
	w.int(len(h.cpus) * 2 * h.cpus[0].cores)
	w.kv("Model", h.cpus[0].model)
	status(w)
	w.end()
	w.key("MemorySummary")
	w.obj()
	w.key("TotalSystemMemoryGiB")
	w.int(h.memoryMiB() / 1024)
	status(w)
	w.end()
	w.link("Processors", self+"/Processors")
	w.link("Memory", self+"/Memory")
	w.link("EthernetInterfaces", self+"/EthernetInterfaces")
	w.link("SimpleStorage", self+"/SimpleStorage")
	if !q.NoStorage {
		w.link("Storage", self+"/Storage")
	}
	w.key("PCIeDevices")
	w.arr()
	for _, d := range h.pcie {
		w.linkObj(ch + "/PCIeDevices/" + d.id)
	}
	w.endArr()
}

// serviceTag is a Dell-style seven-character service tag.
func serviceTag(i int) string {
	const alphabet = "0123456789BCDFGHJKLMNPQRSTVWXYZ"
	var b [7]byte
	v := mix(i, 99)
	for k := range b {
		b[k] = alphabet[v%uint64(len(alphabet))]
		v /= uint64(len(alphabet))
	}
	return string(b[:])
}

// chassisInventoryLinks writes the Chassis's links to its adapters.
func chassisInventoryLinks(w *jw, self string) {
	w.link("NetworkAdapters", self+"/NetworkAdapters")
	w.link("PCIeDevices", self+"/PCIeDevices")
}

// wantsExpand reports whether a query asks to expand a collection's
// members one level ($expand=., * or ~, with or without ($levels=1)).
func wantsExpand(rawQuery string) bool {
	for part := range strings.SplitSeq(rawQuery, "&") {
		v, ok := strings.CutPrefix(part, "$expand=")
		if !ok {
			v, ok = strings.CutPrefix(part, "%24expand=")
		}
		if ok && v != "" {
			return true
		}
	}
	return false
}

// renderInventory writes an inventory or telemetry document (kInv); with
// expand a collection's members are written whole. The ETag is the
// document's own.
func renderInventory(w *jw, rt route) string {
	d := rt.inv[rt.path]
	if ms, ok := d["Members"].([]any); ok && rt.expand {
		full := make([]any, len(ms))
		for i, m := range ms {
			full[i] = rt.inv[m.(hwDoc)["@odata.id"].(string)]
		}
		d = maps.Clone(d)
		d["Members"] = full
	}
	b, err := json.Marshal(d)
	if err != nil { // documents are plain values: cannot happen
		b = []byte("{}")
	}
	w.raw(b)
	etag, _ := d["@odata.etag"].(string)
	return etag
}

// Hardware is a system's inventory as the simulator serves it, for tests
// to compare an inspection with, field by field.
type Hardware struct {
	Manufacturer, Model, SerialNumber, SKU string
	// CPUs is the number of processors, all of one model.
	CPUs                     int
	CPUModel, InstructionSet string
	CPUMaxMHz                int
	MemoryMiB                int
	Drives                   []HardwareDrive
	NICs                     []HardwareNIC // EthernetInterfaces
	AddOnNICs                []HardwareNIC // NetworkAdapters only; Name is adapter-port
	PCIeFunctions            int
	// StorageListed is false under NoStorage (drives in SimpleStorage only).
	StorageListed bool
}

// HardwareDrive is one drive as served.
type HardwareDrive struct {
	Name, Model, Manufacturer, Serial, MediaType string
	Bytes                                        int64
}

// HardwareNIC is one network port as served; MAC is "" where EmptyMAC
// hides it.
type HardwareNIC struct {
	Name, MAC string
	SpeedMbps int
	LinkUp    bool
	Vendor    string
	Product   string
}

// Hardware returns what the system serves as its inventory, under its
// current quirks.
func (s *System) Hardware() Hardware {
	h := hardwareOf(s.index, s.Profile())
	q := s.q()
	out := Hardware{
		Manufacturer: h.mfr, Model: h.model, SerialNumber: h.serial, SKU: h.sku,
		CPUs: len(h.cpus), CPUModel: h.cpus[0].model, InstructionSet: h.cpus[0].iset, CPUMaxMHz: h.cpus[0].mhz,
		MemoryMiB: h.memoryMiB(), PCIeFunctions: len(h.pcie), StorageListed: !q.NoStorage,
	}
	if q.SKUServiceTag {
		out.SKU = serviceTag(s.index)
	}
	for _, d := range h.drives {
		out.Drives = append(out.Drives, HardwareDrive{"Drive " + d.id, d.model, d.mfr, d.serial, d.media, d.bytes})
	}
	for k, n := range h.nics {
		mac := n.mac
		if q.EmptyMAC && k == len(h.nics)-1 {
			mac = ""
		}
		out.NICs = append(out.NICs, HardwareNIC{Name: n.id, MAC: mac, SpeedMbps: n.speed, LinkUp: n.up})
	}
	for _, a := range h.adapters {
		for _, p := range a.ports {
			out.AddOnNICs = append(out.AddOnNICs, HardwareNIC{Name: a.id + "-" + p.id, MAC: p.mac, Vendor: a.mfr, Product: a.model})
		}
	}
	return out
}
