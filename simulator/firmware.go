package simulator

import (
	"net/http"
	"strings"
	"time"
)

// The firmware inventory of the native systems: Redfish's UpdateService
// with a FirmwareInventory collection holding, for each system, a
// SoftwareInventory for its BIOS and one for its BMC. Each names what it
// runs on in RelatedItem (the ComputerSystem, the Manager), which is how a
// client that sees a whole fleet on one endpoint tells whose firmware it
// is; on a per-system port only that system's two are listed. The versions
// are the ones the ComputerSystem (BiosVersion) and the Manager
// (FirmwareVersion) report; ReleaseDate, the time the running image dates
// from, differs per system. Read-only: the simulator has no SimpleUpdate.
//
// DMTF's schemas: UpdateService v1.x (FirmwareInventory),
// SoftwareInventory v1.x (Version, ReleaseDate, RelatedItem, Updateable).

const (
	updateServicePath     = v1 + "/UpdateService"
	firmwareInventoryPath = updateServicePath + "/FirmwareInventory"

	simBIOSVersion = "SIM-1.0.0"
	simBMCVersion  = "SIM-BMC-1.0.0"
)

// firmwareBase is the release date of system 0's images; system i's are i
// days later (the BMC's one hour after the BIOS's).
var firmwareBase = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)

// FirmwareReleaseDate is the ReleaseDate the simulator reports for a
// system's BIOS (bmc false) or BMC (bmc true) image.
func (s *System) FirmwareReleaseDate(bmc bool) time.Time {
	t := firmwareBase.AddDate(0, 0, s.index)
	if bmc {
		t = t.Add(time.Hour)
	}
	return t
}

// serveFirmware answers the UpdateService subtree of a native simulator;
// it reports false for any other path (or model), which the regular
// routing then answers. Requests need the credentials a system's resources
// need (any known ones for the service and the collection).
func (h *handler) serveFirmware(w http.ResponseWriter, r *http.Request, path string) bool {
	m, ok := h.sim.model.(*native)
	if !ok || (path != updateServicePath && !strings.HasPrefix(path, updateServicePath+"/")) {
		return false
	}
	rt := route{kind: kNotFound, path: path}
	var member *System
	bmc := false
	switch {
	case path == updateServicePath, path == firmwareInventoryPath:
	case strings.HasPrefix(path, firmwareInventoryPath+"/"):
		id := strings.TrimPrefix(path, firmwareInventoryPath+"/")
		i := strings.LastIndexByte(id, '-')
		sysID, part := id[:max(i, 0)], id[i+1:]
		member = m.byID[sysID]
		if i < 0 || member == nil || (h.scope != nil && member != h.scope) || (part != "BIOS" && part != "BMC") {
			return h.writeError(w, errNotFound) >= 0
		}
		rt.sys, bmc = member, part == "BMC"
	default:
		return h.writeError(w, errNotFound) >= 0
	}
	if !h.authenticate(r, rt, h.faultFor(rt)) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Redfish simulator"`)
		return h.writeError(w, errUnauthorized) >= 0
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		return h.writeError(w, errMethod(r.Method)) >= 0
	}
	var jwr jw
	etag := `"u1"`
	switch {
	case path == updateServicePath:
		head(&jwr, "#UpdateService.v1_11_0.UpdateService", path, etag)
		jwr.kv("Id", "UpdateService")
		jwr.kv("Name", "Update Service")
		jwr.key("ServiceEnabled")
		jwr.bool(false)
		status(&jwr)
		jwr.link("FirmwareInventory", firmwareInventoryPath)
		jwr.end()
	case member == nil:
		etag = `"f1"`
		head(&jwr, "#SoftwareInventoryCollection.SoftwareInventoryCollection", path, etag)
		jwr.kv("Name", "Firmware Inventory Collection")
		systems := m.systems
		if h.scope != nil {
			systems = []*System{h.scope}
		}
		jwr.key("Members@odata.count")
		jwr.int(2 * len(systems))
		jwr.key("Members")
		jwr.arr()
		for _, s := range systems {
			jwr.linkObj(firmwareInventoryPath + "/" + s.id + "-BIOS")
			jwr.linkObj(firmwareInventoryPath + "/" + s.id + "-BMC")
		}
		jwr.endArr()
		jwr.end()
	default:
		etag = `"s1"`
		head(&jwr, "#SoftwareInventory.v1_9_0.SoftwareInventory", path, etag)
		// RelatedItem names the system and manager as this port serves
		// them: under a vendor profile's ids on the system's own port.
		ids := namesOf(member, h.scope)
		name, version, related := "BIOS", simBIOSVersion, systemsPath+"/"+ids.sys
		if bmc {
			name, version, related = "BMC", simBMCVersion, managersPath+"/"+ids.mgr
		}
		jwr.kv("Id", member.id+"-"+name)
		jwr.kv("Name", name+" of "+member.id)
		jwr.kv("Version", version)
		jwr.kv("ReleaseDate", member.FirmwareReleaseDate(bmc).Format(time.RFC3339))
		jwr.key("Updateable")
		jwr.bool(false)
		status(&jwr)
		linkArr(&jwr, "RelatedItem", related)
		jwr.end()
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("OData-Version", "4.0")
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(jwr.b)
	}
	return true
}
