package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// panicky is a driver whose power setter panics: a bug in a driver.
type panicky struct{}

func (panicky) Name() string                                   { return "panicky" }
func (panicky) Validate(drivers.Interface, drivers.Node) error { return nil }
func (panicky) SetPowerState(context.Context, drivers.Node, drivers.PowerAction, time.Duration) error {
	panic("driver bug")
}

// Issue 18, bug 6: a panic in the background work of a power action still
// ends the job: the target is cleared and last_error says what happened.
func TestPanicInPowerWorkIsRecorded(t *testing.T) {
	e := newEnv(t, envOptions{drivers: []drivers.Driver{panicky{}}})
	id := createNode(t, e, `{"name": "n1", "driver": "panicky"}`)
	if resp, b := call(t, "PUT", e.URL+"/v1/nodes/n1/states/power", "1.89", `{"target": "power on"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("power on: %d %s", resp.StatusCode, b)
	}
	for deadline := time.Now().Add(30 * time.Second); e.tm.Stats().Busy > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the worker never ended")
		}
	}
	n, err := e.db.Node(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if n.Reservation != "" || n.TargetPowerState != "" || !strings.Contains(n.LastError, "panic") {
		t.Fatalf("after a panic in the work: reservation %q target %q last_error %q", n.Reservation, n.TargetPowerState, n.LastError)
	}
}
