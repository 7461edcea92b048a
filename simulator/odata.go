package simulator

import (
	"bytes"
	"slices"
	"strings"
	"sync"
)

// The OData documents and the headers the Redfish specification (DSP0266)
// asks of every response, for every model:
//
//   - /redfish/v1/$metadata, the OData metadata document (XML) with an
//     EntityContainer and a reference to the CSDL schema of every type the
//     service serves, and /redfish/v1/odata, the OData service document:
//     both readable without credentials (DSP0266 "OData service and metadata
//     document requests").
//   - Allow on GET and HEAD, Cache-Control, and Link with rel=describedby
//     naming the JSON schema of the resource's @odata.type (DSP0266
//     "Response headers", "Link header").
//   - A request whose OData-Version is not 4.0 is refused with 412 (DSP0266
//     "Request headers").

// metadataPath is the URI of the OData metadata document.
const metadataPath = v1 + "/$metadata"

// schemaBase is where DMTF publishes the Redfish schemas, CSDL and JSON.
const schemaBase = "http://redfish.dmtf.org/schemas/v1/"

// nativeTypes lists the @odata.type of every resource the native model
// serves (TestMetadataCoversNativeTypes crawls the fleet to keep it
// complete).
var nativeTypes = []string{
	"#ServiceRoot.v1_11_0.ServiceRoot",
	"#ComputerSystemCollection.ComputerSystemCollection",
	"#ComputerSystem.v1_20_0.ComputerSystem",
	"#ManagerCollection.ManagerCollection",
	"#Manager.v1_10_0.Manager",
	"#ChassisCollection.ChassisCollection",
	"#Chassis.v1_15_0.Chassis",
	"#EthernetInterfaceCollection.EthernetInterfaceCollection",
	"#EthernetInterface.v1_6_0.EthernetInterface",
	"#ProcessorCollection.ProcessorCollection",
	"#Processor.v1_10_0.Processor",
	"#SimpleStorageCollection.SimpleStorageCollection",
	"#SimpleStorage.v1_3_0.SimpleStorage",
	"#Bios.v1_1_0.Bios",
	"#Settings.v1_3_5.Settings",
	"#SecureBoot.v1_1_0.SecureBoot",
	"#VirtualMediaCollection.VirtualMediaCollection",
	"#VirtualMedia.v1_4_0.VirtualMedia",
	"#Message.v1_1_1.Message",
	// The inventory (inventory.go).
	"#MemoryCollection.MemoryCollection",
	"#Memory.v1_11_0.Memory",
	"#StorageCollection.StorageCollection",
	"#Storage.v1_9_0.Storage",
	"#Drive.v1_12_0.Drive",
	"#NetworkAdapterCollection.NetworkAdapterCollection",
	"#NetworkAdapter.v1_7_0.NetworkAdapter",
	"#NetworkDeviceFunctionCollection.NetworkDeviceFunctionCollection",
	"#NetworkDeviceFunction.v1_5_0.NetworkDeviceFunction",
	"#PCIeDeviceCollection.PCIeDeviceCollection",
	"#PCIeDevice.v1_9_0.PCIeDevice",
	"#PCIeFunctionCollection.PCIeFunctionCollection",
	"#PCIeFunction.v1_2_3.PCIeFunction",
	// The power and thermal resources (telemetry.go), both generations.
	"#Power.v1_7_1.Power",
	"#Thermal.v1_7_1.Thermal",
	"#PowerSubsystem.v1_1_0.PowerSubsystem",
	"#PowerSupplyCollection.PowerSupplyCollection",
	"#PowerSupply.v1_5_0.PowerSupply",
	"#PowerSupplyMetrics.v1_0_1.PowerSupplyMetrics",
	"#ThermalSubsystem.v1_0_0.ThermalSubsystem",
	"#ThermalMetrics.v1_0_1.ThermalMetrics",
	"#FanCollection.FanCollection",
	"#Fan.v1_3_0.Fan",
	"#EnvironmentMetrics.v1_3_0.EnvironmentMetrics",
	"#SensorCollection.SensorCollection",
	"#Sensor.v1_7_0.Sensor",
	"#UpdateService.v1_11_0.UpdateService",
	"#SoftwareInventoryCollection.SoftwareInventoryCollection",
	"#SoftwareInventory.v1_9_0.SoftwareInventory",
	eventServiceType, eventDestinationsType, eventDestinationType, // eventservice.go
	"#ActionInfo.v1_1_2.ActionInfo", // reset types of the profiles that keep them apart (profile.go)
	accountServiceType, roleCollectionType, roleType,
	"#SessionService.v1_1_8.SessionService",
	"#SessionCollection.SessionCollection",
	"#Session.v1_7_0.Session",
}

// metadataDoc renders an OData metadata document that references the CSDL
// schema of each of types (@odata.type values) and declares the service's
// EntityContainer.
func metadataDoc(types []string) []byte {
	refs := map[string][]string{} // schema file -> namespaces
	add := func(file, ns string) {
		if !slices.Contains(refs[file], ns) {
			refs[file] = append(refs[file], ns)
		}
	}
	add("ServiceRoot", "ServiceRoot")
	add("ServiceRoot", "ServiceRoot.v1_0_0")
	add("Resource", "Resource")
	add("Resource", "Resource.v1_0_0")
	for _, t := range types {
		parts := strings.Split(strings.TrimPrefix(t, "#"), ".")
		if len(parts) < 2 || parts[0] == "" {
			continue
		}
		add(parts[0], parts[0])
		if len(parts) == 3 {
			add(parts[0], parts[0]+"."+parts[1])
		}
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">` + "\n")
	for _, file := range sortedKeys(refs) {
		b.WriteString(`  <edmx:Reference Uri="` + schemaBase + file + `_v1.xml">` + "\n")
		for _, ns := range refs[file] {
			b.WriteString(`    <edmx:Include Namespace="` + ns + `"/>` + "\n")
		}
		b.WriteString("  </edmx:Reference>\n")
	}
	b.WriteString(`  <edmx:Reference Uri="` + schemaBase + `RedfishExtensions_v1.xml">` + "\n")
	b.WriteString(`    <edmx:Include Namespace="RedfishExtensions.v1_0_0" Alias="Redfish"/>` + "\n")
	b.WriteString("  </edmx:Reference>\n")
	b.WriteString("  <edmx:DataServices>\n")
	b.WriteString(`    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="Service">` + "\n")
	b.WriteString(`      <EntityContainer Name="Service" Extends="ServiceRoot.v1_0_0.ServiceContainer"/>` + "\n")
	b.WriteString("    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>\n")
	return b.Bytes()
}

// odataEntry is one entry of the OData service document: a top-level
// resource of the service root.
type odataEntry struct{ name, url string }

// renderODataDoc renders the OData service document listing the service
// root and its top-level resources.
func renderODataDoc(w *jw, entries []odataEntry) string {
	const etag = `"o1"`
	w.obj()
	w.kv("@odata.context", metadataPath)
	w.kv("@odata.etag", etag)
	w.key("value")
	w.arr()
	for _, e := range append([]odataEntry{{"Service", v1 + "/"}}, entries...) {
		w.obj()
		w.kv("name", e.name)
		w.kv("kind", "Singleton")
		w.kv("url", e.url)
		w.end()
	}
	w.endArr()
	w.end()
	return etag
}

// rootEntries lists the links of a service root object for the OData
// service document.
func rootEntries(root map[string]any) []odataEntry {
	var out []odataEntry
	for _, k := range sortedKeys(root) {
		if id := getStr(getObj(root, k), "@odata.id"); id != "" && k != "Links" {
			out = append(out, odataEntry{k, id})
		}
	}
	return out
}

// describedBy returns the Link header value naming the JSON schema of an
// @odata.type ("#ComputerSystem.v1_20_0.ComputerSystem" ->
// <.../ComputerSystem.v1_20_0.json>; rel=describedby), or "" for none.
func describedBy(odataType string) string {
	t := strings.TrimPrefix(odataType, "#")
	i := strings.LastIndexByte(t, '.')
	if i <= 0 {
		return ""
	}
	return "<" + schemaBase + t[:i] + ".json>; rel=describedby"
}

// topLevelType finds the value of the top-level "@odata.type" of a JSON
// object without decoding it: native resources write it first, stored ones
// in sorted key order, so the scan is short. It returns "" if there is none.
func topLevelType(b []byte) string {
	const key = `"@odata.type"`
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			if depth == 1 && bytes.HasPrefix(b[i:], []byte(key)) {
				j := i + len(key)
				for j < len(b) && (b[j] == ':' || b[j] == ' ') {
					j++
				}
				if j < len(b) && b[j] == '"' {
					end := bytes.IndexByte(b[j+1:], '"')
					if end >= 0 {
						return string(b[j+1 : j+1+end])
					}
				}
				return ""
			}
			// skip the string, escapes included
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		}
	}
	return ""
}

// allowHeaders holds the Allow header value of the method lists of
// kind.methods, HEAD added wherever GET is (shared read-only, so that a GET
// allocates nothing for it).
var allowHeaders = func() map[string][]string {
	h := map[string][]string{}
	for _, m := range []string{"GET", "GET, PATCH", "POST", "GET, POST", "GET, DELETE", "GET, PATCH, DELETE"} {
		h[m] = []string{allowValue(m)}
	}
	return h
}()

// allowValue adds HEAD after GET in a comma-separated method list.
func allowValue(methods string) string {
	if rest, ok := strings.CutPrefix(methods, "GET"); ok {
		return "GET, HEAD" + rest
	}
	return methods
}

// metadata is the native model's OData metadata document.
func (m *native) metadata() []byte {
	m.metaOnce.Do(func() { m.meta = metadataDoc(nativeTypes) })
	return m.meta
}

// linkCache caches the Link header of each @odata.type a simulator serves,
// so that a GET allocates nothing for it.
type linkCache struct{ m sync.Map } // string -> []string

// header returns the Link header naming the schema of the @odata.type at the
// top of a JSON object, nil for none.
func (c *linkCache) header(body []byte) []string {
	t := topLevelType(body)
	if t == "" {
		return nil
	}
	if h, ok := c.m.Load(t); ok {
		return h.([]string)
	}
	l := describedBy(t)
	if l == "" {
		return nil
	}
	h := []string{l}
	c.m.Store(t, h)
	return h
}

// allowHeader returns the Allow header of a method list.
func allowHeader(methods string) []string {
	if h, ok := allowHeaders[methods]; ok {
		return h
	}
	return []string{allowValue(methods)}
}
