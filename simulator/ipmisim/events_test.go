package ipmisim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/ipmisim"
)

// A power change over IPMI sends the Redfish event of the same system, and
// an IPMI cold reset of the BMC loses its Redfish event subscriptions: one
// BMC behind both faces.
func TestEventsAcrossFaces(t *testing.T) {
	f := start(t, 1, ipmisim.Config{})
	id := f.sim.SystemIDs()[0]
	got := make(chan string, 4)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ Events []struct{ MessageId string } }
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &ev)
		if len(ev.Events) > 0 {
			got <- ev.Events[0].MessageId
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	f.redfish(t, http.MethodPost, f.sim.URL()+"/redfish/v1/EventService/Subscriptions", map[string]any{
		"Destination": rcv.URL, "Protocol": "Redfish",
		"OriginResources": []map[string]string{{"@odata.id": f.sim.SystemPath(id)}}}, nil)

	c := f.ipmitool(id)
	if _, err := c.Run(ctxFor(t), "chassis", "power", "on"); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != simulator.MsgPowerStateChanged {
			t.Fatalf("event %q", m)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no event for an IPMI power on")
	}

	if _, err := c.Run(ctxFor(t), "mc", "reset", "cold"); err != nil {
		t.Fatal(err)
	}
	// ipmitool does not wait for the answer to a reset: wait for the face.
	for deadline := time.Now().Add(30 * time.Second); len(f.sim.Subscriptions()) != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions after an IPMI cold reset: %+v", f.sim.Subscriptions())
		}
	}
}
