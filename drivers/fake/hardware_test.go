package fake_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
)

// fake-hardware keeps no state: it reports what the inventory records
// (ironic/drivers/modules/fake.py, FakePower.get_power_state returns
// task.node.power_state) and knows pxe only (FakeManagement).
func TestHardwareReportsTheRecordedState(t *testing.T) {
	ctx := context.Background()
	h := fake.NewHardware()
	for _, st := range []drivers.PowerState{drivers.NoPowerState, drivers.PowerOn, drivers.PowerOff} {
		got, err := h.PowerState(ctx, drivers.Node{UUID: "n", PowerState: st})
		if err != nil || got != st {
			t.Errorf("recorded %q: PowerState = %q, %v", st, got, err)
		}
	}
	// A change is accepted and leaves nothing behind: the next read is
	// again the recorded state.
	if err := h.SetPowerState(ctx, drivers.Node{UUID: "n"}, drivers.ActionPowerOn, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.PowerState(ctx, drivers.Node{UUID: "n"}); got != drivers.NoPowerState {
		t.Errorf("after power on with nothing recorded: %q, want unknown", got)
	}
	if err := h.SetPowerState(ctx, drivers.Node{UUID: "n"}, "dance", 0); !errors.Is(err, drivers.ErrInvalidArgument) {
		t.Errorf("invalid action: %v", err)
	}

	if devs, _ := h.SupportedBootDevices(ctx, drivers.Node{}); len(devs) != 1 || devs[0] != drivers.BootPXE {
		t.Errorf("supported boot devices %v, want [pxe]", devs)
	}
	if err := h.SetBootDevice(ctx, drivers.Node{}, drivers.BootPXE, drivers.BootOptions{Persistent: true}); err != nil {
		t.Errorf("pxe: %v", err)
	}
	if err := h.SetBootDevice(ctx, drivers.Node{}, drivers.BootDisk, drivers.BootOptions{}); !errors.Is(err, drivers.ErrInvalidArgument) {
		t.Errorf("disk: %v, want ErrInvalidArgument", err)
	}
	st, err := h.BootDevice(ctx, drivers.Node{})
	if err != nil || st.Device != drivers.BootPXE || st.Persistent == nil || *st.Persistent {
		t.Errorf("boot device %+v, %v; want pxe, not persistent", st, err)
	}
	if err := h.Validate(drivers.VMediaInterface, drivers.Node{}); err == nil {
		t.Error("fake-hardware claims virtual media")
	}
	if err := h.Validate(drivers.PowerInterface, drivers.Node{}); err != nil {
		t.Errorf("power validate: %v", err)
	}
}
