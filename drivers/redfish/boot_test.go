package redfish_test

import (
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/simulator"
)

func TestBootDevicesAndModes(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	d := newDriver(t, fastOptions())
	n := simNode(sim, id, nil)

	devs, err := d.SupportedBootDevices(ctx(t), n)
	want := []drivers.BootDevice{drivers.BootPXE, drivers.BootDisk, drivers.BootCDROM, drivers.BootBIOS, drivers.BootUSB, drivers.BootUEFIHTTP}
	if err != nil || !slices.Equal(devs, want) {
		t.Fatalf("supported devices %v (%v), want %v", devs, err, want)
	}
	if st, err := d.BootDevice(ctx(t), n); err != nil || st.Device != drivers.NoBootDevice || st.Persistent == nil || *st.Persistent {
		t.Fatalf("no override: %+v, %v", st, err)
	}

	if err := d.SetBootDevice(ctx(t), n, drivers.BootCDROM, drivers.BootOptions{Persistent: true, Mode: drivers.BootModeBIOS}); err != nil {
		t.Fatal(err)
	}
	b := sim.System(id).BootOverride()
	if b.Target != simulator.BootCd || b.Enabled != simulator.BootContinuous || b.Mode != simulator.BootModeLegacy {
		t.Fatalf("the BMC has %+v", b)
	}
	if m, err := d.BootMode(ctx(t), n); err != nil || m != drivers.BootModeBIOS {
		t.Fatalf("boot mode %q, %v", m, err)
	}
	if err := d.SetBootMode(ctx(t), n, drivers.BootModeUEFI); err != nil {
		t.Fatal(err)
	}
	if b := sim.System(id).BootOverride(); b.Mode != simulator.BootModeUEFI || b.Target != simulator.BootCd {
		t.Fatalf("after SetBootMode(uefi) the BMC has %+v", b)
	}

	// Setting what is already set sends nothing.
	before := mutations(sim, id)
	if err := d.SetBootDevice(ctx(t), n, drivers.BootCDROM, drivers.BootOptions{Persistent: true}); err != nil {
		t.Fatal(err)
	}
	if err := d.SetBootMode(ctx(t), n, drivers.BootModeUEFI); err != nil {
		t.Fatal(err)
	}
	if mutations(sim, id) != before {
		t.Fatal("an unchanged boot setting was PATCHed")
	}

	// Devices Redfish cannot express are refused before any request.
	for _, dev := range []drivers.BootDevice{drivers.BootSafe, drivers.BootWANBoot} {
		err := d.SetBootDevice(ctx(t), n, dev, drivers.BootOptions{})
		checkErr(t, err, drivers.ErrUnsupported)
	}
	if mutations(sim, id) != before {
		t.Fatal("an unsupported device reached the BMC")
	}
}

// TestBootDeviceStaleETag: the PATCH carries If-Match with the ETag just
// read; when the system changed in between (412), the driver reads it again
// and succeeds.
func TestBootDeviceStaleETag(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	id := sim.SystemIDs()[0]
	var once sync.Once
	var ifMatch []string
	var mu sync.Mutex
	url := front(t, sim, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPatch {
			mu.Lock()
			ifMatch = append(ifMatch, r.Header.Get("If-Match"))
			mu.Unlock()
			// Someone else changes the system between our read and our PATCH.
			once.Do(func() { sim.System(id).SetIndicatorLED(simulator.LEDBlinking) })
		}
		return false
	})
	d := newDriver(t, fastOptions())
	if err := d.SetBootDevice(ctx(t), nodeOf(url, id, nil), drivers.BootPXE, drivers.BootOptions{}); err != nil {
		t.Fatalf("set boot device across a concurrent change: %v", err)
	}
	if got := witness(sim, id); !slices.Equal(got, []string{"PatchSystem 412", "PatchSystem 200"}) {
		t.Fatalf("the BMC saw %v", got)
	}
	if len(ifMatch) != 2 || ifMatch[0] == "" || ifMatch[0] == ifMatch[1] {
		t.Fatalf("If-Match headers %q", ifMatch)
	}
	if dev, persistent := simBoot(sim, id); dev != drivers.BootPXE || persistent {
		t.Fatalf("the BMC boots %s (persistent %v)", dev, persistent)
	}
}
