package api

import (
	"net/http"
	"net/url"
	"strings"
)

// vDynamicDrivers is the version that added type, detail and the interface
// fields to /v1/drivers (Ironic's MINOR_30_DYNAMIC_DRIVERS).
const vDynamicDrivers = 30

// driverView is a driver as GET /v1/drivers shows it.
type driverView struct{ name string }

// driverIfaceSince is the version each interface type's default_/enabled_
// members appear at (ironic/api/controllers/v1/driver.py,
// hide_fields_in_newer_versions).
var driverIfaceSince = map[string]int{"storage": vStorageInterface, "rescue": vRescueInterface, "bios": vBIOSInterface, "firmware": vFirmwareInterface}

// driverFields is a driver's JSON form (ironic/api/controllers/v1/driver.py,
// convert_with_links): name, hosts and links always, properties links from
// 1.14, type from 1.30, and in the detail form (GET /v1/drivers/{name}, or
// ?detail=True) default_<kind>_interface and enabled_<kind>_interfaces for
// every interface type.
func (a *API) driverFields() []field[driverView] {
	type D = driverView
	out := []field[D]{
		{"name", 1, true, func(d *D, _ *view) any { return d.name }},
		// The hosts known to offer the driver: this agent. Other agents
		// record no driver list.
		{"hosts", 1, true, func(*D, *view) any { return []string{a.tm.AgentID()} }},
		{"links", 1, true, func(d *D, c *view) any { return selfLinks(c.base, "drivers/"+url.PathEscape(d.name)) }},
		{"properties", vStatesLinks, true, func(d *D, c *view) any {
			return selfLinks(c.base, "drivers/"+url.PathEscape(d.name)+"/properties")
		}},
		{"type", vDynamicDrivers, true, func(*D, *view) any { return "dynamic" }},
	}
	for _, f := range ifaceFields {
		since := vDynamicDrivers
		if s, ok := driverIfaceSince[f.kind]; ok {
			since = s
		}
		def, enabled := "default_"+f.kind+"_interface", "enabled_"+f.kind+"_interfaces"
		out = append(out,
			field[D]{def, since, false, func(d *D, _ *view) any { return a.driverIfaceFields(d.name)[def] }},
			field[D]{enabled, since, false, func(d *D, _ *view) any { return a.driverIfaceFields(d.name)[enabled] }})
	}
	return out
}

// listDrivers is GET /v1/drivers: the drivers this agent registers, with
// Ironic's checks (DriversController.get_all): detail and type need 1.30
// (NotAcceptable), fields 1.77 (NotAcceptable), type is classic or dynamic
// (Invalid, 400), fields and detail together are refused (400).
func (a *API) listDrivers(w http.ResponseWriter, r *http.Request) error {
	v := versionOf(r)
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "type", "detail":
			if !v.atLeast(vDynamicDrivers) {
				return notAcceptable("Request not acceptable. The minimal required API version should be 1.%d", vDynamicDrivers)
			}
		case "fields":
			if !v.atLeast(vDriverFields) {
				return notAcceptable("The fields parameter of drivers needs API version 1.%d or later", vDriverFields)
			}
		default:
			return badRequest("Unknown argument: %q", truncate(k, 64))
		}
	}
	detail := false
	if s := q.Get("detail"); q.Has("detail") {
		b, ok := parseBool(s)
		if !ok {
			return badRequest("Invalid value for detail: %q is not a boolean", truncate(s, 32))
		}
		detail = b
	}
	want, err := a.driverWant(r, detail)
	if err != nil {
		return err
	}
	t := q.Get("type")
	if q.Has("type") && t != "classic" && t != "dynamic" {
		return badRequest("\"type\" filter must be one of \"classic\" or \"dynamic\", if specified.")
	}
	out := []map[string]any{}
	if t == "" || t == "dynamic" {
		for _, name := range a.cfg.Drivers.Names() {
			out = append(out, render(&driverView{name}, a.drivers, a.view(r), want, !detail && want == nil))
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"drivers": out})
}

// driverWant reads ?fields of a drivers request: nil for all; with links,
// as Ironic's sanitize_dict keeps them.
func (a *API) driverWant(r *http.Request, detail bool) ([]string, error) {
	raw := r.URL.Query().Get("fields")
	if raw == "" {
		return nil, nil
	}
	if detail {
		return nil, badRequest("Can not specify ?detail=True and fields in the same request.")
	}
	want, err := parseFields(raw, a.drivers, versionOf(r))
	return withLinks(want), err
}

// getDriver is GET /v1/drivers/{name}, always in detail
// (DriversController.get_one); an unknown driver is DriverNotFound (404).
func (a *API) getDriver(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, "fields"); err != nil {
		return err
	}
	if r.URL.Query().Has("fields") && !versionOf(r).atLeast(vDriverFields) {
		return notAcceptable("The fields parameter of drivers needs API version 1.%d or later", vDriverFields)
	}
	name := r.PathValue("name")
	if _, err := a.cfg.Drivers.Driver(name); err != nil {
		return newError(http.StatusNotFound, "Could not find the following driver(s) or hardware type(s): %s.", truncate(name, 64))
	}
	want, err := a.driverWant(r, false)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, render(&driverView{name}, a.drivers, a.view(r), want, false))
}

// driverProperties is GET /v1/drivers/{name}/properties: the driver_info
// keys the driver reads. The agent's drivers do not describe theirs, so
// the answer is {} (a divergence listed in docs/api.md).
func (a *API) driverProperties(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r); err != nil {
		return err
	}
	name := r.PathValue("name")
	if _, err := a.cfg.Drivers.Driver(name); err != nil {
		return newError(http.StatusNotFound, "Could not find the following driver(s) or hardware type(s): %s.", truncate(name, 64))
	}
	return writeJSON(w, http.StatusOK, map[string]any{})
}

// vendorMethods is GET /v1/nodes/{node}/vendor_passthru/methods and
// GET /v1/drivers/{driver}/vendor_passthru/methods: the vendor methods of
// the node's (or driver's) vendor interface. Every vendor interface the
// agent offers is no-vendor, which has none: Ironic answers 200 {}
// (ironic/api/controllers/v1/node.py NodeVendorPassthruController.methods
// and driver.py DriverPassthruController.methods, with
// ironic/drivers/modules/noop.py's NoVendor listing no routes). An unknown
// node or driver is a 404.
func (a *API) vendorMethods(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r); err != nil {
		return err
	}
	if name := r.PathValue("driver"); name != "" {
		if _, err := a.cfg.Drivers.Driver(name); err != nil {
			return newError(http.StatusNotFound, "Could not find the following driver(s) or hardware type(s): %s.", truncate(name, 64))
		}
	} else if _, err := a.db.Node(r.Context(), r.PathValue("node")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{})
}

// vendorPassthru is a call of a vendor method: no-vendor has none, so any
// method is Ironic's InvalidParameterValue "No handler for method %s" (400,
// ironic/conductor/manager.py vendor_passthru), and no method at all is
// "Method not specified" (400, ironic/api/controllers/v1/utils.py
// vendor_passthru).
func (a *API) vendorPassthru(w http.ResponseWriter, r *http.Request) error {
	if driver := r.PathValue("driver"); driver != "" {
		if _, err := a.cfg.Drivers.Driver(driver); err != nil {
			return newError(http.StatusNotFound, "Could not find the following driver(s) or hardware type(s): %s.", truncate(driver, 64))
		}
	} else if _, err := a.db.Node(r.Context(), r.PathValue("node")); err != nil {
		return err
	}
	method := strings.TrimSpace(r.URL.Query().Get("method"))
	if method == "" {
		return badRequest("Method not specified")
	}
	return badRequest("No handler for method %s", truncate(method, 64))
}
