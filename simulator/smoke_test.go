package simulator

import (
	"context"
	"testing"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/redfish"
)

func TestSmokeGofish(t *testing.T) {
	sim := startSim(t, Config{Systems: 3})
	c, err := gofish.ConnectContext(context.Background(), gofish.ClientConfig{Endpoint: sim.URL(), Username: "admin", Password: "password"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Logout()
	systems, err := c.Service.Systems()
	if err != nil {
		t.Fatal(err)
	}
	if len(systems) != 3 {
		t.Fatalf("got %d", len(systems))
	}
	s := systems[0]
	if err := s.Reset(redfish.OnResetType); err != nil {
		t.Fatal(err)
	}
	mgrs, err := s.ManagedBy()
	if err != nil {
		t.Fatal(err)
	}
	vms, err := mgrs[0].VirtualMedia()
	if err != nil {
		t.Fatal(err)
	}
	if err := vms[0].InsertMedia("http://x/y.iso", true, true); err != nil {
		t.Fatal(err)
	}
	t.Log(sim.System(s.ID).Status())
}
