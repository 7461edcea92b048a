package redfish

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Inspection reads the ComputerSystem and its collections as raw JSON (the
// inventory needs a few properties of many resources, which gofish would
// fetch one request per member), in as few requests as the BMC allows:
//
//   - the service root, for ProtocolFeaturesSupported.ExpandQuery; where the
//     BMC advertises $expand, every collection is read with its members in
//     one request (?$expand=.($levels=1)), else member by member;
//   - the System: vendor, model, serial, SKU, ProcessorSummary,
//     MemorySummary, boot mode, and the links below;
//   - Processors (model, frequency, architecture of the first),
//     Storage and each Storage's Drives (SimpleStorage where the BMC has no
//     Storage), EthernetInterfaces, the Chassis's NetworkAdapters with their
//     NetworkDeviceFunctions (add-on NICs), and the PCIe devices' functions.
//
// Independent reads run concurrently; each waits for a slot of the BMC's
// request limit (Options.MaxRequestsPerBMC) like every other request. Where
// the System has no MemorySummary the Memory collection is summed.
// docs/inspection.md maps every field to its resource.

// Inspect implements drivers.Inspector. Read-only.
func (d *Driver) Inspect(ctx context.Context, n drivers.Node) (*drivers.Inventory, error) {
	var inv *drivers.Inventory
	err := d.run(ctx, n, drivers.InspectInterface, "inspect hardware", func(cl *call) (err error) {
		inv, err = inspect(cl)
		return err
	})
	return inv, err
}

var _ drivers.Inspector = (*Driver)(nil)

// inspector holds one inspection's state.
type inspector struct {
	cl     *call
	expand bool
}

// ref is a Redfish link.
type ref struct {
	ID string `json:"@odata.id"`
}

// rfSystem is what inspection reads of a ComputerSystem.
type rfSystem struct {
	Manufacturer, Model, SerialNumber, SKU, BiosVersion string
	ProcessorSummary                                    struct {
		Count int
		Model string
	}
	MemorySummary struct {
		TotalSystemMemoryGiB *float64
	}
	Boot struct {
		BootSourceOverrideMode string
	}
	Processors, Memory, Storage, SimpleStorage, EthernetInterfaces *ref
	PCIeDevices                                                    []ref
	Links                                                          struct {
		Chassis []ref
	}
}

// inspect runs one inspection on cl.
func inspect(cl *call) (*drivers.Inventory, error) {
	in := &inspector{cl: cl}
	sp, err := cl.systemPath()
	if err != nil {
		return nil, err
	}
	// The root (for $expand) and the System are read at once: only the
	// collections below need to know about $expand.
	var root struct {
		ProtocolFeaturesSupported struct {
			ExpandQuery *struct {
				ExpandAll, Levels, NoLinks bool
			}
		}
	}
	var sys rfSystem
	var rootErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		rootErr = in.get(serviceRoot, &root)
	}()
	sysErr := in.get(sp, &sys)
	<-done
	if err := errors.Join(rootErr, sysErr); err != nil {
		return nil, err
	}
	if q := root.ProtocolFeaturesSupported.ExpandQuery; q != nil && (q.NoLinks || q.ExpandAll) {
		in.expand = true
	}
	inv := &drivers.Inventory{Interfaces: []drivers.InventoryNIC{}}
	vendor(inv, &sys)
	if m := ironicBootModes[sys.Boot.BootSourceOverrideMode]; m != "" {
		inv.Boot = &drivers.InventoryBoot{CurrentBootMode: m}
	}
	if g := sys.MemorySummary.TotalSystemMemoryGiB; g != nil && *g > 0 {
		inv.Memory = &drivers.InventoryMemory{PhysicalMB: int(*g * 1024)}
	}
	// The parts are independent: read them concurrently, each filling its
	// own fields; the first error wins.
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	part := func(fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	// Longest chains first, so that they hold the BMC's first request
	// slots: Chassis, NetworkAdapters, their functions; PCIe devices and
	// their functions; Storage and its drives; then single collections.
	var onboard, addon []drivers.InventoryNIC
	if len(sys.Links.Chassis) > 0 {
		part(func() (err error) { addon, err = in.adapters(sys.Links.Chassis[0].ID); return err })
	}
	part(func() (err error) { inv.PCIDevices, err = in.pcie(sys.PCIeDevices); return err })
	part(func() (err error) { inv.Disks, err = in.disks(&sys); return err })
	if sys.EthernetInterfaces != nil {
		part(func() (err error) { onboard, err = in.ethernet(sys.EthernetInterfaces.ID); return err })
	}
	part(func() error { return in.cpus(&sys, inv) })
	if inv.Memory == nil && sys.Memory != nil {
		part(func() error { return in.memory(sys.Memory.ID, inv) })
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	inv.Interfaces = mergeNICs(onboard, addon)
	return inv, nil
}

// get reads path into v.
func (in *inspector) get(path string, v any) error {
	resp, err := in.cl.Get(path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return rejected("%s is not a JSON resource: %v", path, err)
	}
	return nil
}

// absent reports whether err is the BMC saying a resource does not exist.
func absent(err error) bool {
	var re *ResponseError
	return errors.As(err, &re) && re.Status == http.StatusNotFound
}

// members reads a collection's members: inline where the BMC expands,
// else (and for every member a BMC left as a bare link despite $expand)
// one request per member.
func members[T any](in *inspector, coll string) ([]T, error) {
	path := coll
	if in.expand {
		path += "?$expand=.($levels=1)"
	}
	var c struct{ Members []json.RawMessage }
	if err := in.get(path, &c); err != nil {
		return nil, err
	}
	out := make([]T, len(c.Members))
	var links []ref
	var at []int
	for i, raw := range c.Members {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, rejected("%s lists a member that is not an object", coll)
		}
		if _, ok := m["@odata.id"]; ok && len(m) <= 2 { // a link (maybe with its etag)
			var l ref
			_ = json.Unmarshal(raw, &l)
			links, at = append(links, l), append(at, i)
			continue
		}
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, rejected("%s lists a member of an unexpected shape: %v", coll, err)
		}
	}
	fetched, err := fetchAll[T](in, links)
	if err != nil {
		return nil, err
	}
	for k, i := range at {
		out[i] = fetched[k]
	}
	return out, nil
}

// membersOfEach reads the members of each collection (nil: none),
// concurrently.
func membersOfEach[T any](in *inspector, colls []*ref) ([][]T, error) {
	out := make([][]T, len(colls))
	errs := make([]error, len(colls))
	var wg sync.WaitGroup
	for i, c := range colls {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = members[T](in, c.ID)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// fetchAll reads each linked resource, concurrently.
func fetchAll[T any](in *inspector, links []ref) ([]T, error) {
	out := make([]T, len(links))
	errs := make([]error, len(links))
	var wg sync.WaitGroup
	for i, l := range links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = in.get(l.ID, &out[i])
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// instructionSets maps Redfish's InstructionSet to Ironic's architecture
// names (PROCESSOR_INSTRUCTION_SET_MAP in Ironic's redfish inspect.py).
var instructionSets = map[string]string{
	"x86": "i686", "x86-64": "x86_64", "IA-64": "ia64", "ARM-A32": "arm",
	"ARM-A64": "aarch64", "MIPS32": "mips", "MIPS64": "mips64",
	"PowerISA": "ppc64le", "RV64": "riscv64",
}

// ironicBootModes maps BootSourceOverrideMode to Ironic's boot modes.
var ironicBootModes = map[string]string{"UEFI": "uefi", "Legacy": "bios"}

// cpus fills the CPU: the count from ProcessorSummary (else the CPUs
// listed), model, frequency and architecture from the first processor.
func (in *inspector) cpus(sys *rfSystem, inv *drivers.Inventory) error {
	inv.CPU.Count = sys.ProcessorSummary.Count
	inv.CPU.ModelName = sys.ProcessorSummary.Model
	if sys.Processors == nil {
		return nil
	}
	type proc struct {
		ProcessorType, Model, InstructionSet string
		MaxSpeedMHz                          int
	}
	ps, err := members[proc](in, sys.Processors.ID)
	if err != nil {
		return err
	}
	n := 0
	for _, p := range ps {
		if p.ProcessorType != "" && p.ProcessorType != "CPU" {
			continue // GPUs, FPGAs, ... are not the machine's CPUs
		}
		if n == 0 {
			if p.Model != "" {
				inv.CPU.ModelName = p.Model
			}
			inv.CPU.Frequency = p.MaxSpeedMHz
			inv.CPU.Architecture = instructionSets[p.InstructionSet]
		}
		n++
	}
	if inv.CPU.Count == 0 {
		inv.CPU.Count = n
	}
	return nil
}

// memory sums the DIMMs where the System has no MemorySummary.
func (in *inspector) memory(coll string, inv *drivers.Inventory) error {
	type dimm struct{ CapacityMiB int }
	ds, err := members[dimm](in, coll)
	if err != nil {
		return err
	}
	total := 0
	for _, d := range ds {
		total += d.CapacityMiB
	}
	if total > 0 {
		inv.Memory = &drivers.InventoryMemory{PhysicalMB: total}
	}
	return nil
}

// disks lists the drives of every Storage, or of SimpleStorage where the
// BMC has no Storage (as Ironic's redfish inspect falls back).
func (in *inspector) disks(sys *rfSystem) ([]drivers.InventoryDisk, error) {
	type drive struct {
		Name, Model, Manufacturer, SerialNumber, MediaType string
		CapacityBytes                                      int64
	}
	var out []drivers.InventoryDisk
	if sys.Storage != nil {
		type storage struct{ Drives []ref }
		ss, err := members[storage](in, sys.Storage.ID)
		if err != nil && !absent(err) {
			return nil, err
		}
		var links []ref
		for _, s := range ss {
			links = append(links, s.Drives...)
		}
		ds, err := fetchAll[drive](in, links)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			out = append(out, drivers.InventoryDisk{Name: d.Name, Size: d.CapacityBytes, Model: d.Model,
				Vendor: d.Manufacturer, Serial: d.SerialNumber, Rotational: d.MediaType == "HDD"})
		}
		if len(ss) > 0 {
			return out, nil
		}
	}
	if sys.SimpleStorage == nil {
		return out, nil
	}
	type simple struct {
		Devices []struct {
			Name, Model, Manufacturer string
			CapacityBytes             int64
		}
	}
	ss, err := members[simple](in, sys.SimpleStorage.ID)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		for _, d := range s.Devices {
			if d.CapacityBytes == 0 {
				continue // an empty bay or a controller entry
			}
			out = append(out, drivers.InventoryDisk{Name: d.Name, Size: d.CapacityBytes, Model: d.Model, Vendor: d.Manufacturer})
		}
	}
	return out, nil
}

// ethernet lists the System's EthernetInterfaces with a valid MAC.
func (in *inspector) ethernet(coll string) ([]drivers.InventoryNIC, error) {
	type eth struct {
		ID                     string `json:"Id"`
		MACAddress, LinkStatus string
		PermanentMACAddress    string
		SpeedMbps              int
	}
	es, err := members[eth](in, coll)
	if err != nil {
		return nil, err
	}
	var out []drivers.InventoryNIC
	for _, e := range es {
		mac, ok := normalMAC(e.MACAddress)
		if !ok {
			mac, ok = normalMAC(e.PermanentMACAddress)
		}
		if !ok {
			continue // Ironic drops interfaces without a valid MAC
		}
		out = append(out, drivers.InventoryNIC{Name: e.ID, MACAddress: mac, SpeedMbps: e.SpeedMbps, HasCarrier: e.LinkStatus == "LinkUp"})
	}
	return out, nil
}

// adapters lists the ports of the Chassis's NetworkAdapters: add-on cards
// a BMC may show only there.
func (in *inspector) adapters(chassis string) ([]drivers.InventoryNIC, error) {
	var ch struct{ NetworkAdapters *ref }
	if err := in.get(chassis, &ch); err != nil {
		return nil, err
	}
	if ch.NetworkAdapters == nil {
		return nil, nil
	}
	type adapter struct {
		ID                     string `json:"Id"`
		Manufacturer, Model    string
		NetworkDeviceFunctions *ref
	}
	as, err := members[adapter](in, ch.NetworkAdapters.ID)
	if err != nil {
		if absent(err) {
			return nil, nil
		}
		return nil, err
	}
	type function struct {
		ID       string `json:"Id"`
		Ethernet struct{ MACAddress, PermanentMACAddress string }
	}
	colls := make([]*ref, len(as))
	for i, a := range as {
		colls[i] = a.NetworkDeviceFunctions
	}
	fns, err := membersOfEach[function](in, colls)
	if err != nil {
		return nil, err
	}
	var out []drivers.InventoryNIC
	for i, a := range as {
		for _, f := range fns[i] {
			mac, ok := normalMAC(f.Ethernet.MACAddress)
			if !ok {
				mac, ok = normalMAC(f.Ethernet.PermanentMACAddress)
			}
			if ok {
				out = append(out, drivers.InventoryNIC{Name: a.ID + "-" + f.ID, MACAddress: mac, Vendor: a.Manufacturer, Product: a.Model})
			}
		}
	}
	return out, nil
}

// pcie lists the functions of the System's PCIe devices.
func (in *inspector) pcie(devices []ref) ([]drivers.PCIDevice, error) {
	type device struct{ PCIeFunctions *ref }
	ds, err := fetchAll[device](in, devices)
	if err != nil {
		return nil, err
	}
	type function struct {
		DeviceClass, VendorId, DeviceId, SubsystemVendorId, SubsystemId, RevisionId string // Redfish spells Id
	}
	colls := make([]*ref, len(ds))
	for i, d := range ds {
		colls[i] = d.PCIeFunctions
	}
	fs, err := membersOfEach[function](in, colls)
	if err != nil {
		return nil, err
	}
	var out []drivers.PCIDevice
	for _, list := range fs {
		for _, f := range list {
			out = append(out, drivers.PCIDevice{Class: f.DeviceClass, VendorID: f.VendorId, ProductID: f.DeviceId,
				SubsystemVendorID: f.SubsystemVendorId, SubsystemID: f.SubsystemId, Revision: f.RevisionId})
		}
	}
	return out, nil
}

// mergeNICs lists the on-board interfaces, then the add-on ports whose MAC
// is not already among them.
func mergeNICs(onboard, addon []drivers.InventoryNIC) []drivers.InventoryNIC {
	out := make([]drivers.InventoryNIC, 0, len(onboard)+len(addon))
	seen := map[string]bool{}
	for _, l := range [][]drivers.InventoryNIC{onboard, addon} {
		for _, n := range l {
			if !seen[n.MACAddress] {
				seen[n.MACAddress] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// normalMAC returns a MAC address in lower case with colons, if s is a
// valid, non-zero 48-bit MAC.
func normalMAC(s string) (string, bool) {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil || len(hw) != 6 || strings.Trim(hw.String(), "0:") == "" {
		return "", false
	}
	return hw.String(), true
}

// vendor fills system_vendor. Dell keeps the service tag, the serial an
// operator knows, in SKU and the board's serial in SerialNumber; Ironic's
// idrac-redfish inspect reports the SKU as serial_number (release notes
// idrac-inspect-sku and idrac-redfish-sku, bug 2146585), and so do we.
func vendor(inv *drivers.Inventory, sys *rfSystem) {
	v := &drivers.SystemVendor{Manufacturer: sys.Manufacturer, ProductName: sys.Model, SerialNumber: sys.SerialNumber}
	if strings.HasPrefix(sys.Manufacturer, "Dell") && sys.SKU != "" {
		v.SerialNumber = sys.SKU
	}
	if sys.BiosVersion != "" {
		v.Firmware = &drivers.SystemFirmware{Version: sys.BiosVersion}
	}
	if *v != (drivers.SystemVendor{}) {
		inv.SystemVendor = v
	}
}
