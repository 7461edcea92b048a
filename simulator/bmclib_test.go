package simulator

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/bmc-toolbox/bmclib/v2/providers/redfish"
	"github.com/go-logr/logr"
)

// TestBmclibRedfishProvider drives the simulator with bmclib's Redfish
// provider, which insists on a session service and looks for virtual media
// under the managers.
func TestBmclibRedfishProvider(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	id := sim.SystemIDs()[0]
	u, err := url.Parse(sim.URL())
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	conn := redfish.New("http://"+u.Hostname(), "admin", "password", logr.Discard(),
		redfish.WithPort(u.Port()), redfish.WithHttpClient(hc))
	ctx := context.Background()
	if !conn.Compatible(ctx) { // opens and closes a session of its own, as bmclib's registry does
		t.Fatal("bmclib finds the simulator incompatible")
	}
	if err := conn.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer conn.Close(ctx)
	if ok, err := conn.PowerSet(ctx, "on"); !ok || err != nil {
		t.Fatalf("PowerSet(on): %v %v", ok, err)
	}
	if st, err := conn.PowerStateGet(ctx); err != nil || st != "On" {
		t.Fatalf("PowerStateGet: %q %v", st, err)
	}
	if ok, err := conn.BootDeviceSet(ctx, "pxe", false, true); !ok || err != nil {
		t.Fatalf("BootDeviceSet: %v %v", ok, err)
	}
	if b := sim.System(id).BootOverride(); b.Target != BootPxe || b.Enabled != BootOnce {
		t.Fatalf("boot override %+v", b)
	}
	if ok, err := conn.SetVirtualMedia(ctx, "CD", "http://img/boot.iso"); !ok || err != nil {
		t.Fatalf("SetVirtualMedia: %v %v", ok, err)
	}
	if m := sim.System(id).Media()[0]; m.Image != "http://img/boot.iso" || !m.Inserted {
		t.Fatalf("media %+v", m)
	}
}
