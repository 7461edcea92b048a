package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// Config configures the API.
type Config struct {
	// Store is the inventory, for plain reads and writes.
	Store store.Store
	// Tasks runs everything that locks a node or reaches a driver.
	Tasks *taskmanager.Manager
	// Drivers are the drivers this agent offers (for validation and the
	// drivers collection; drivers are only called through Tasks).
	Drivers *drivers.Registry
	// HeartbeatTimeout decides which agents GET /v1/conductors shows alive;
	// default 60s.
	HeartbeatTimeout time.Duration
	// Logger receives the log of failed requests (5xx); default discards.
	Logger *slog.Logger
	// MaxLimit caps the page size of collections (Ironic's max_limit);
	// default 1000.
	MaxLimit int
	// SyncTimeout bounds a BMC call a client waits for (boot device, virtual
	// media, NMI, validate); default 60s.
	SyncTimeout time.Duration
	// MaxBodyBytes limits request bodies (413 beyond); default 1 MiB.
	MaxBodyBytes int64
	// Group is this agent's conductor group: requests that act on a node
	// of another group are refused (groups.go).
	Group string
	// MaxListBytes ends a page of a node listing early, with a "next"
	// link, once its answer reached this size; default DefaultMaxListBytes.
	MaxListBytes int
	// PublicURL is the base of the links in responses, e.g.
	// "https://agent.example:6385"; default: the scheme and Host of each
	// request.
	PublicURL string
	// InspectAddPorts says which inspected NICs become ports (Ironic's
	// [inspector]add_ports); default pxe.
	InspectAddPorts AddPorts
	// InspectOverwrite lets inspection replace node properties the
	// operator set (cpus, cpu_arch, memory_mb, local_gb).
	InspectOverwrite bool
	// Telemetry is this agent's telemetry collector, for GET
	// /v1/nodes/{node}/telemetry; nil when it collects none.
	Telemetry TelemetrySource
}

// API serves the Ironic-compatible HTTP API. It is safe for concurrent use.
type API struct {
	cfg Config
	log *slog.Logger
	db  store.Store
	tm  *taskmanager.Manager
	mux *http.ServeMux

	nodes            []field[store.Node]
	nodeInputsCreate []input[store.Node]
	nodeInputsPatch  []input[store.Node]
	conductors       []field[store.Agent]
	drivers          []field[driverView]
	// ifaces caches interfaces() per registered driver.
	ifaces sync.Map
	// patterns are the registered paths and their methods, for the test
	// that docs/openapi.yaml describes each.
	patterns []served
}

// served is a registered path and its methods.
type served struct {
	pattern string
	methods []string
}

// handler is an API endpoint: an error it returns is the answer.
type handler func(w http.ResponseWriter, r *http.Request) error

// New returns the API handler.
func New(cfg Config) (*API, error) {
	if cfg.Store == nil || cfg.Tasks == nil || cfg.Drivers == nil {
		return nil, errors.New("api: a store, a task manager and a driver registry are required")
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxLimit <= 0 {
		cfg.MaxLimit = 1000
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = 60 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxListBytes <= 0 {
		cfg.MaxListBytes = DefaultMaxListBytes
	}
	a := &API{cfg: cfg, log: cfg.Logger, db: cfg.Store, tm: cfg.Tasks, mux: http.NewServeMux()}
	a.nodes = a.nodeFields()
	a.nodeInputsCreate = a.nodeInputs(false)
	a.nodeInputsPatch = a.nodeInputs(true)
	a.conductors = a.conductorFields()
	a.drivers = a.driverFields()
	a.routes()
	return a, nil
}

// route is one path of the API with its methods, and the microversion that
// introduced it (older requests get 404, as from Ironic).
type route struct {
	since   int
	methods map[string]handler
}

func (a *API) routes() {
	a.mux.HandleFunc("/{$}", a.serveRoot)
	a.handle("/v1", 1, map[string]handler{"GET": a.v1Root})

	a.handle("/v1/nodes", 1, map[string]handler{"GET": a.listNodes(false), "POST": a.createNode})
	a.handle("/v1/nodes/detail", 1, map[string]handler{"GET": a.listNodes(true)})
	a.handle("/v1/nodes/{node}", 1, map[string]handler{"GET": a.getNode, "PATCH": a.patchNode, "DELETE": a.deleteNode})
	a.handle("/v1/nodes/{node}/states", 1, map[string]handler{"GET": a.nodeStates})
	a.handle("/v1/nodes/{node}/states/power", 1, map[string]handler{"PUT": a.setPowerState})
	a.handle("/v1/nodes/{node}/states/provision", 1, map[string]handler{"PUT": a.setProvisionState})
	a.handle("/v1/nodes/{node}/states/boot_mode", vBootModeSet, map[string]handler{"PUT": a.setBootMode})
	a.handle("/v1/nodes/{node}/states/secure_boot", vBootModeSet, map[string]handler{"PUT": a.setSecureBoot})
	a.handle("/v1/nodes/{node}/management/boot_device", 1, map[string]handler{"GET": a.getBootDevice, "PUT": a.setBootDevice})
	a.handle("/v1/nodes/{node}/management/boot_device/supported", 1, map[string]handler{"GET": a.supportedBootDevices})
	a.handle("/v1/nodes/{node}/management/inject_nmi", vInjectNMI, map[string]handler{"PUT": a.injectNMI})
	a.handle("/v1/nodes/{node}/vmedia", vVMedia, map[string]handler{"POST": a.attachVMedia, "DELETE": a.detachVMedia})
	a.handle("/v1/nodes/{node}/validate", 1, map[string]handler{"GET": a.validateNode})
	a.handle("/v1/nodes/{node}/states/raid", 1, map[string]handler{"PUT": a.setRAIDConfig})
	a.handle("/v1/nodes/{node}/firmware", vFirmwareInterface, map[string]handler{"GET": a.listFirmware})
	a.handle("/v1/nodes/{node}/inventory", vInventory, map[string]handler{"GET": a.getInventory})
	a.handle("/v1/nodes/{node}/telemetry", vTelemetry, map[string]handler{"GET": a.getTelemetry})
	a.handle("/v1/nodes/{node}/maintenance", 1, map[string]handler{"PUT": a.setMaintenance, "DELETE": a.unsetMaintenance})

	ports, conns, targets := a.ports(), a.volumeConnectors(), a.volumeTargets()
	a.handle("/v1/ports", 1, map[string]handler{"GET": ports.listHandler(a, false, false), "POST": ports.createHandler(a)})
	a.handle("/v1/ports/detail", 1, map[string]handler{"GET": ports.listHandler(a, true, false)})
	a.handle("/v1/ports/{id}", 1, map[string]handler{"GET": ports.getHandler(a), "PATCH": ports.patchHandler(a), "DELETE": ports.deleteHandler(a)})
	a.handle("/v1/nodes/{node}/ports", 1, map[string]handler{"GET": ports.listHandler(a, false, true), "POST": malformedURI})
	a.handle("/v1/nodes/{node}/ports/{id}", 1, map[string]handler{"GET": malformedURI, "PATCH": malformedURI, "DELETE": malformedURI})
	a.handle("/v1/nodes/{node}/ports/detail", 1, map[string]handler{"GET": ports.listHandler(a, true, true)})

	a.handle("/v1/volume", vVolume, map[string]handler{"GET": a.volumeRoot})
	a.handle("/v1/volume/connectors", vVolume, map[string]handler{"GET": conns.listHandler(a, false, false), "POST": conns.createHandler(a)})
	a.handle("/v1/volume/connectors/{id}", vVolume, map[string]handler{"GET": conns.getHandler(a), "PATCH": conns.patchHandler(a), "DELETE": conns.deleteHandler(a)})
	a.handle("/v1/volume/targets", vVolume, map[string]handler{"GET": targets.listHandler(a, false, false), "POST": targets.createHandler(a)})
	a.handle("/v1/volume/targets/{id}", vVolume, map[string]handler{"GET": targets.getHandler(a), "PATCH": targets.patchHandler(a), "DELETE": targets.deleteHandler(a)})
	a.handle("/v1/nodes/{node}/volume", vVolume, map[string]handler{"GET": a.nodeVolumeRoot})
	a.handle("/v1/nodes/{node}/volume/connectors", vVolume, map[string]handler{"GET": conns.listHandler(a, false, true), "POST": malformedURI})
	a.handle("/v1/nodes/{node}/volume/targets", vVolume, map[string]handler{"GET": targets.listHandler(a, false, true), "POST": malformedURI})
	a.handle("/v1/nodes/{node}/volume/connectors/{id}", vVolume, map[string]handler{"GET": malformedURI, "PATCH": malformedURI, "DELETE": malformedURI})
	a.handle("/v1/nodes/{node}/volume/targets/{id}", vVolume, map[string]handler{"GET": malformedURI, "PATCH": malformedURI, "DELETE": malformedURI})

	a.handle("/v1/conductors", vConductors, map[string]handler{"GET": a.listConductors})
	a.handle("/v1/conductors/{hostname}", vConductors, map[string]handler{"GET": a.getConductor})
	a.handle("/v1/drivers", 1, map[string]handler{"GET": a.listDrivers})
	a.handle("/v1/drivers/{name}", 1, map[string]handler{"GET": a.getDriver})
	a.handle("/v1/drivers/{name}/properties", 1, map[string]handler{"GET": a.driverProperties})
	a.handle("/v1/drivers/{driver}/vendor_passthru/methods", 1, map[string]handler{"GET": a.vendorMethods})
	a.handle("/v1/drivers/{driver}/vendor_passthru", 1, map[string]handler{"GET": a.vendorPassthru, "POST": a.vendorPassthru, "PUT": a.vendorPassthru, "PATCH": a.vendorPassthru, "DELETE": a.vendorPassthru})
	a.handle("/v1/nodes/{node}/vendor_passthru/methods", 1, map[string]handler{"GET": a.vendorMethods})
	a.handle("/v1/nodes/{node}/vendor_passthru", 1, map[string]handler{"GET": a.vendorPassthru, "POST": a.vendorPassthru, "PUT": a.vendorPassthru, "PATCH": a.vendorPassthru, "DELETE": a.vendorPassthru})

	// Everything else, Ironic's resources the agent does not have included,
	// is an unknown resource.
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/v1" {
			if _, err := a.versioned(w, r); err != nil {
				writeError(w, r, a.log, err)
				return
			}
		}
		writeError(w, r, a.log, errNoResource)
	})
}

// handle registers a /v1 path: the version is negotiated, a path newer than
// the requested version is unknown, and a method the path lacks is 405.
func (a *API) handle(pattern string, since int, methods map[string]handler) {
	rt := route{since: since, methods: a.groupGuard(pattern, methods)}
	allow := make([]string, 0, len(methods))
	for m := range methods {
		allow = append(allow, m)
	}
	slices.Sort(allow)
	a.patterns = append(a.patterns, served{pattern, allow})
	serve := func(w http.ResponseWriter, r *http.Request) {
		r, err := a.versioned(w, r)
		if err == nil && !versionOf(r).atLeast(rt.since) {
			err = errNoResource
		}
		if err == nil {
			h, ok := rt.methods[r.Method]
			if !ok && r.Method == http.MethodHead {
				h, ok = rt.methods[http.MethodGet]
			}
			if !ok {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				err = newError(http.StatusMethodNotAllowed, "The method %s is not allowed for this resource", r.Method)
			} else {
				err = h(w, r)
			}
		}
		if err != nil {
			writeError(w, r, a.log, err)
		}
	}
	a.mux.HandleFunc(pattern, serve)
	// Ironic (pecan) serves every path with a trailing slash too, and its
	// clients send it: the baremetal CLI asks for /v1/nodes/?fields=...
	if !strings.HasSuffix(pattern, "/{$}") {
		a.mux.HandleFunc(pattern+"/{$}", serve)
	}
}

// versioned negotiates the microversion of a /v1 request.
func (a *API) versioned(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
	ctx, err := withVersion(r.Context(), w, r)
	if err != nil {
		return r, err
	}
	return r.WithContext(ctx), nil
}

// ServeHTTP serves the API: request ids, the body limit, the version range
// on every response, and a panic turned into a logged 500.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = withRequestID(w, r)
	setVersionRange(w.Header())
	if r.ContentLength > a.cfg.MaxBodyBytes {
		writeError(w, r, a.log, &http.MaxBytesError{Limit: a.cfg.MaxBodyBytes})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
	if err := checkURL(r.URL); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			writeError(w, r, a.log, fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
		}
	}()
	a.mux.ServeHTTP(w, r)
}

// serveRoot is GET /, Ironic's list of API versions.
func (a *API) serveRoot(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		writeError(w, r, a.log, newError(http.StatusMethodNotAllowed, "The method %s is not allowed for this resource", r.Method))
		return
	}
	v1 := a.versionDoc(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"name":            "bmc-agent",
		"description":     "bmc-agent serves the subset of the OpenStack Ironic bare metal API (v1) that covers power, boot devices, virtual media and provisioning of bare-metal nodes through their BMCs.",
		"default_version": v1,
		"versions":        []any{v1},
	})
}

func (a *API) versionDoc(r *http.Request) map[string]any {
	base := a.baseURL(r)
	return map[string]any{
		"id":          "v1",
		"links":       []link{{Href: base + "/v1/", Rel: "self"}},
		"status":      "CURRENT",
		"min_version": MinVersion.String(),
		"version":     MaxVersion.String(),
	}
}

// v1Root is GET /v1: the resources of the version.
func (a *API) v1Root(w http.ResponseWriter, r *http.Request) error {
	base, v := a.baseURL(r), versionOf(r)
	doc := map[string]any{
		"id": "v1",
		"links": []link{{Href: base + "/v1/", Rel: "self"},
			{Href: "https://docs.openstack.org/api-ref/baremetal/", Rel: "describedby"}},
		"media_types": []map[string]string{{"base": "application/json", "type": "application/vnd.openstack.ironic.v1+json"}},
		"nodes":       selfLinks(base, "nodes/"),
		"ports":       selfLinks(base, "ports/"),
		"drivers":     selfLinks(base, "drivers/"),
		"version":     a.versionDoc(r),
	}
	if v.atLeast(vVolume) {
		doc["volume"] = selfLinks(base, "volume/")
	}
	if v.atLeast(vConductors) {
		doc["conductors"] = selfLinks(base, "conductors/")
	}
	return writeJSON(w, http.StatusOK, doc)
}

// volumeRoot is GET /v1/volume.
func (a *API) volumeRoot(w http.ResponseWriter, r *http.Request) error {
	base := a.baseURL(r)
	return writeJSON(w, http.StatusOK, map[string]any{
		"links":      []link{{Href: base + "/v1/volume/", Rel: "self"}, {Href: base + "/volume/", Rel: "bookmark"}},
		"connectors": selfLinks(base, "volume/connectors"),
		"targets":    selfLinks(base, "volume/targets"),
	})
}

// nodeVolumeRoot is GET /v1/nodes/{node}/volume.
func (a *API) nodeVolumeRoot(w http.ResponseWriter, r *http.Request) error {
	n, err := a.db.Node(r.Context(), r.PathValue("node"))
	if err != nil {
		return err
	}
	base, p := a.baseURL(r), "nodes/"+n.UUID+"/volume"
	return writeJSON(w, http.StatusOK, map[string]any{
		"links":      selfLinks(base, p+"/"),
		"connectors": selfLinks(base, p+"/connectors"),
		"targets":    selfLinks(base, p+"/targets"),
	})
}

// malformedURI answers what Ironic refuses below a node: one port, volume
// connector or target, or a creation, addressed through
// /v1/nodes/{node}/... is MalformedRequestURI, 400
// (ironic/api/controllers/v1/port.py get_one/post/patch/delete,
// volume_connector.py and volume_target.py likewise).
func malformedURI(http.ResponseWriter, *http.Request) error {
	return badRequest("Malformed request URI.")
}

// isNotFound reports a store's not-found error.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
