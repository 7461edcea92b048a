package api

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/telemetry"
)

// GET /v1/nodes/{node}/telemetry is the agent's own resource, not Ironic's:
// Ironic has no sensor resource (its sensor data goes to the notification
// bus), so no Ironic client asks for it and no Ironic microversion describes
// it. Gating it behind one of Ironic's microversions would tie the agent's
// document to a number Ironic may give another meaning tomorrow; so it is
// served at every microversion (vTelemetry is 1.1) and versioned by itself:
// the document carries telemetry_version, which only ever gains fields while
// it stays 1; a change that removes or redefines one is a new
// telemetry_version, announced in docs/api.md.
const (
	vTelemetry = 1
	// TelemetryVersion is the version of the telemetry document.
	TelemetryVersion = 1
)

// TelemetrySource is what the API reads of the telemetry collector
// (*telemetry.Collector).
type TelemetrySource interface {
	Cache() *telemetry.Cache
	Interval() time.Duration
}

// telemetryDoc is the answer of GET /v1/nodes/{node}/telemetry.
type telemetryDoc struct {
	Version  int    `json:"telemetry_version"`
	NodeUUID string `json:"node_uuid"`
	NodeName any    `json:"node_name"`
	// Interval is the seconds between two reads of the node.
	Interval float64 `json:"interval"`
	BMC      bmcDoc  `json:"bmc"`
	// Readings is the last good read, null before the first one.
	Readings *drivers.Telemetry `json:"readings"`
	// SensorsDropped counts the sensors the per-node cap left out.
	SensorsDropped int `json:"sensors_dropped"`
	// Message says why there are no readings, when there are none.
	Message string `json:"message,omitempty"`
}

// bmcDoc is the state of the node's BMC as the last read found it.
type bmcDoc struct {
	// State: "up" (the last read succeeded), "down" (it failed),
	// "unsupported" (the driver reads no telemetry) or "unknown" (no read
	// yet).
	State         string     `json:"state"`
	ReadDuration  *float64   `json:"read_duration"`
	LastAttemptAt *time.Time `json:"last_attempt_at"`
	LastSuccessAt *time.Time `json:"last_success_at"`
	// Age is the seconds since the last good read started: how old the
	// readings are.
	Age       *float64 `json:"age"`
	LastError any      `json:"last_error"`
	ErrorKind any      `json:"error_kind"`
}

// getTelemetry is GET /v1/nodes/{node}/telemetry: the node's cached
// readings, their age and its BMC's state. It never calls the BMC.
func (a *API) getTelemetry(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r); err != nil {
		return err
	}
	n, err := a.db.Node(r.Context(), r.PathValue("node"))
	if err != nil {
		return err
	}
	doc := telemetryDoc{Version: TelemetryVersion, NodeUUID: n.UUID, NodeName: nullable(n.Name), BMC: bmcDoc{State: "unknown"}}
	src := a.cfg.Telemetry
	if src == nil {
		doc.Message = "This agent collects no telemetry (--telemetry-interval 0)."
		return writeJSON(w, http.StatusOK, doc)
	}
	doc.Interval = src.Interval().Seconds()
	e, ok := src.Cache().Get(n.UUID)
	if !ok {
		doc.Message = fmt.Sprintf("No telemetry read of this node yet: the agent reads each node it owns every %v. "+
			"With several agents in the group, the agent that owns the node has its readings.", src.Interval())
		return writeJSON(w, http.StatusOK, doc)
	}
	now := time.Now()
	d := e.Duration.Seconds()
	attempt := e.LastAttempt.UTC()
	doc.BMC = bmcDoc{State: "down", ReadDuration: &d, LastAttemptAt: &attempt, LastError: nullable(e.LastError), ErrorKind: nullable(e.ErrorKind)}
	switch {
	case e.Unsupported:
		doc.BMC.State = "unsupported"
		doc.Message = fmt.Sprintf("The node's driver %q reads no telemetry.", n.Driver)
	case e.Up:
		doc.BMC.State = "up"
	}
	if e.Telemetry != nil {
		ok := e.LastSuccess.UTC()
		age := math.Round(now.Sub(e.LastSuccess).Seconds()*1000) / 1000
		doc.BMC.LastSuccessAt, doc.BMC.Age = &ok, &age
		doc.Readings, doc.SensorsDropped = e.Telemetry, e.Dropped
	} else if !e.Unsupported {
		doc.Message = "No good telemetry read of this node yet; the last read failed."
	}
	return writeJSON(w, http.StatusOK, doc)
}
