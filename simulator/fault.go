package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// Fault describes how a BMC misbehaves. The zero Fault is a healthy BMC.
// Faults are set fleet-wide (Simulator.SetFleetFault) and per system
// (System.SetFault); a per-system fault replaces the fleet-wide one for that
// system. Every face (Redfish today, IPMI later) interprets the same Fault:
// it calls Roll once per request and acts on the Outcome.
type Fault struct {
	// Latency is added to every request before it is answered.
	Latency time.Duration
	// Jitter adds a uniformly random extra delay in [0, Jitter).
	Jitter time.Duration
	// ErrorRate is the fraction (0..1) of requests answered with ErrorStatus.
	// The BMC does not act on such a request, so it is safe to retry.
	ErrorRate float64
	// ErrorStatus is the HTTP status of injected errors: 500 or 503
	// (default 503).
	ErrorStatus int
	// RetryAfter is sent as Retry-After with injected errors (whole seconds,
	// default 1s).
	RetryAfter time.Duration
	// HangRate is the fraction (0..1) of requests that never get an answer:
	// the BMC holds them until the client gives up. Not acted upon.
	HangRate float64
	// DropRate is the fraction (0..1) of requests whose connection is closed
	// without an answer after the request was read. Not acted upon.
	DropRate float64
	// RefuseLogin makes the BMC reject every authentication (HTTP Basic,
	// session tokens and new sessions) with 401, as if the credentials were
	// wrong.
	RefuseLogin bool
	// Unreachable makes the BMC unreachable: connections are reset at once
	// without an answer (on a system's own port, right after accept).
	Unreachable bool
}

// IsZero reports whether f is a healthy BMC.
func (f Fault) IsZero() bool { return f == Fault{} }

// Validate checks the ranges of f.
func (f Fault) Validate() error {
	for _, r := range []struct {
		name string
		v    float64
	}{{"ErrorRate", f.ErrorRate}, {"HangRate", f.HangRate}, {"DropRate", f.DropRate}} {
		if r.v < 0 || r.v > 1 {
			return &ValueError{Property: r.name, Value: fmt.Sprint(r.v), Allowed: []string{"0..1"}}
		}
	}
	if f.ErrorStatus != 0 && f.ErrorStatus != 500 && f.ErrorStatus != 503 {
		return &ValueError{Property: "ErrorStatus", Value: fmt.Sprint(f.ErrorStatus), Allowed: []string{"500", "503"}}
	}
	if f.Latency < 0 || f.Jitter < 0 || f.RetryAfter < 0 {
		return &ValueError{Property: "Latency/Jitter/RetryAfter", Value: "negative", Allowed: []string{">= 0"}}
	}
	return nil
}

// FaultAction is what a face must do with one request.
type FaultAction uint8

// Fault actions, decided by Fault.Roll.
const (
	// FaultNone: answer normally (after Outcome.Delay).
	FaultNone FaultAction = iota
	// FaultError: answer with Outcome.Status and Retry-After, do not act.
	FaultError
	// FaultHang: never answer; wait until the client goes away.
	FaultHang
	// FaultDrop: close the connection without an answer.
	FaultDrop
	// FaultUnreachable: reset the connection at once.
	FaultUnreachable
)

// Outcome is the decision for one request under a Fault.
type Outcome struct {
	Action FaultAction
	// Delay is the latency to add before acting.
	Delay time.Duration
	// Status is the HTTP status for FaultError.
	Status int
	// RetryAfterSeconds is the Retry-After value for FaultError.
	RetryAfterSeconds int
}

// Roll decides what happens to one request. It is safe for concurrent use.
func (f *Fault) Roll() Outcome {
	if f == nil {
		return Outcome{}
	}
	if f.Unreachable {
		return Outcome{Action: FaultUnreachable}
	}
	o := Outcome{Delay: f.Latency}
	if f.Jitter > 0 {
		o.Delay += rand.N(f.Jitter)
	}
	switch {
	case f.DropRate > 0 && rand.Float64() < f.DropRate:
		o.Action = FaultDrop
	case f.HangRate > 0 && rand.Float64() < f.HangRate:
		o.Action = FaultHang
	case f.ErrorRate > 0 && rand.Float64() < f.ErrorRate:
		o.Action = FaultError
		o.Status = f.ErrorStatus
		if o.Status == 0 {
			o.Status = 503
		}
		o.RetryAfterSeconds = int((f.RetryAfter + time.Second - 1) / time.Second)
		if f.RetryAfter == 0 {
			o.RetryAfterSeconds = 1
		}
	}
	return o
}

// faultJSON is the wire form of Fault on the admin endpoint: durations as Go
// duration strings ("250ms").
type faultJSON struct {
	Latency     string  `json:"Latency,omitempty"`
	Jitter      string  `json:"Jitter,omitempty"`
	ErrorRate   float64 `json:"ErrorRate,omitempty"`
	ErrorStatus int     `json:"ErrorStatus,omitempty"`
	RetryAfter  string  `json:"RetryAfter,omitempty"`
	HangRate    float64 `json:"HangRate,omitempty"`
	DropRate    float64 `json:"DropRate,omitempty"`
	RefuseLogin bool    `json:"RefuseLogin,omitempty"`
	Unreachable bool    `json:"Unreachable,omitempty"`
}

// MarshalJSON writes durations as strings such as "250ms".
func (f Fault) MarshalJSON() ([]byte, error) {
	d := func(v time.Duration) string {
		if v == 0 {
			return ""
		}
		return v.String()
	}
	return json.Marshal(faultJSON{
		Latency: d(f.Latency), Jitter: d(f.Jitter), ErrorRate: f.ErrorRate, ErrorStatus: f.ErrorStatus,
		RetryAfter: d(f.RetryAfter), HangRate: f.HangRate, DropRate: f.DropRate,
		RefuseLogin: f.RefuseLogin, Unreachable: f.Unreachable,
	})
}

// UnmarshalJSON reads durations as strings ("250ms") or as numbers of
// milliseconds; unknown fields are an error.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var raw struct {
		faultJSON
		Latency    json.RawMessage `json:"Latency"`
		Jitter     json.RawMessage `json:"Jitter"`
		RetryAfter json.RawMessage `json:"RetryAfter"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	var out Fault
	for _, d := range []struct {
		raw json.RawMessage
		dst *time.Duration
	}{{raw.Latency, &out.Latency}, {raw.Jitter, &out.Jitter}, {raw.RetryAfter, &out.RetryAfter}} {
		v, err := parseDuration(d.raw)
		if err != nil {
			return err
		}
		*d.dst = v
	}
	out.ErrorRate, out.ErrorStatus = raw.ErrorRate, raw.ErrorStatus
	out.HangRate, out.DropRate = raw.HangRate, raw.DropRate
	out.RefuseLogin, out.Unreachable = raw.RefuseLogin, raw.Unreachable
	*f = out
	return nil
}

// parseDuration reads a JSON duration: a string for time.ParseDuration or a
// number of milliseconds.
func parseDuration(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return time.ParseDuration(s)
	}
	var ms float64
	if err := json.Unmarshal(raw, &ms); err != nil {
		return 0, fmt.Errorf("duration %s: want a string like \"250ms\" or milliseconds", raw)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// Interface guards.
var (
	_ json.Marshaler   = Fault{}
	_ json.Unmarshaler = (*Fault)(nil)
)
