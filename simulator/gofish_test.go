package simulator

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/common"
	"github.com/stmcginnis/gofish/redfish"
)

// connect opens a gofish client (a session unless basic) and logs out with
// the test.
func connect(t *testing.T, endpoint, user, pass string, basic bool) *gofish.APIClient {
	t.Helper()
	c, err := gofish.ConnectContext(context.Background(), gofish.ClientConfig{
		Endpoint: endpoint, Username: user, Password: pass, BasicAuth: basic,
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}},
	})
	if err != nil {
		t.Fatalf("gofish connect: %v", err)
	}
	t.Cleanup(func() {
		c.Logout()
		c.HTTPClient.CloseIdleConnections()
	})
	return c
}

// gofishSystem fetches one system by id.
func gofishSystem(t *testing.T, c *gofish.APIClient, path string) *redfish.ComputerSystem {
	t.Helper()
	s, err := redfish.GetComputerSystem(c, path)
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	return s
}

// statusOf extracts the HTTP status of a gofish error.
func statusOf(err error) int {
	var ce *common.Error
	if errors.As(err, &ce) {
		return ce.HTTPReturnedStatusCode
	}
	return 0
}

func TestGofishDrivesEveryResource(t *testing.T) {
	for _, basic := range []bool{false, true} {
		name := map[bool]string{false: "session", true: "basic"}[basic]
		t.Run(name, func(t *testing.T) {
			sim := startSim(t, Config{Systems: 3})
			c := connect(t, sim.URL(), "admin", "password", basic)
			if !basic {
				sessions, err := c.Service.Sessions()
				if err != nil || len(sessions) != 1 || sessions[0].UserName != "admin" {
					t.Fatalf("sessions %v %v", sessions, err)
				}
			}
			systems, err := c.Service.Systems()
			if err != nil || len(systems) != 3 {
				t.Fatalf("systems: %d %v", len(systems), err)
			}
			managers, err := c.Service.Managers()
			if err != nil || len(managers) != 3 {
				t.Fatalf("managers: %d %v", len(managers), err)
			}
			chassis, err := c.Service.Chassis()
			if err != nil || len(chassis) != 3 {
				t.Fatalf("chassis: %d %v", len(chassis), err)
			}
			id := sim.SystemIDs()[0]
			s := gofishSystem(t, c, sim.SystemPath(id))
			hw := hardwareOf(0, "generic")
			if s.PowerState != redfish.OffPowerState || s.ProcessorSummary.Count != len(hw.cpus) || s.MemorySummary.TotalSystemMemoryGiB != float32(hw.memoryMiB()/1024) {
				t.Fatalf("system %+v", s)
			}
			if len(s.SupportedResetTypes) != 9 {
				t.Fatalf("reset types %v", s.SupportedResetTypes)
			}

			// Power: every reset type the system advertises is accepted.
			for _, rt := range s.SupportedResetTypes {
				if err := s.Reset(rt); err != nil {
					t.Fatalf("Reset(%s): %v", rt, err)
				}
			}
			if err := s.Reset("Explode"); err == nil {
				t.Fatal("gofish accepted an unadvertised reset type")
			}

			// Boot override, read back.
			s = gofishSystem(t, c, sim.SystemPath(id))
			if err := s.SetBoot(redfish.Boot{
				BootSourceOverrideTarget:  redfish.PxeBootSourceOverrideTarget,
				BootSourceOverrideEnabled: redfish.OnceBootSourceOverrideEnabled,
				BootSourceOverrideMode:    redfish.UEFIBootSourceOverrideMode,
			}); err != nil {
				t.Fatalf("SetBoot: %v", err)
			}
			s = gofishSystem(t, c, sim.SystemPath(id))
			if s.Boot.BootSourceOverrideTarget != redfish.PxeBootSourceOverrideTarget || s.Boot.BootSourceOverrideEnabled != redfish.OnceBootSourceOverrideEnabled {
				t.Fatalf("boot %+v", s.Boot)
			}

			// Indicator LED through Update (a read-write field).
			s.IndicatorLED = common.BlinkingIndicatorLED
			if err := s.Update(); err != nil {
				t.Fatalf("Update: %v", err)
			}

			// Links, NIC, processors, storage.
			mgrs, err := s.ManagedBy()
			if err != nil || len(mgrs) != 1 || mgrs[0].ID != id {
				t.Fatalf("ManagedBy %v %v", mgrs, err)
			}
			nics, err := s.EthernetInterfaces()
			if err != nil || len(nics) != len(hw.nics) || !slices.ContainsFunc(nics, func(n *redfish.EthernetInterface) bool { return n.MACAddress == hw.nics[0].mac }) {
				t.Fatalf("NICs %v %v", nics, err)
			}
			procs, err := s.Processors()
			if err != nil || len(procs) != len(hw.cpus) || procs[0].TotalCores != hw.cpus[0].cores {
				t.Fatalf("processors %v %v", procs, err)
			}
			stor, err := s.SimpleStorages()
			if err != nil || len(stor) != 1 || len(stor[0].Devices) != len(hw.drives) {
				t.Fatalf("storage %v %v", stor, err)
			}

			// Virtual media through the manager and through the system.
			for _, list := range []func() ([]*redfish.VirtualMedia, error){mgrs[0].VirtualMedia, s.VirtualMedia} {
				vms, err := list()
				if err != nil || len(vms) != 2 {
					t.Fatalf("virtual media %v %v", vms, err)
				}
				slices.SortFunc(vms, func(a, b *redfish.VirtualMedia) int { return cmpStr(a.ID, b.ID) })
				cd := vms[0]
				if !cd.SupportsMediaInsert || !cd.SupportsMediaEject || !slices.Contains(cd.MediaTypes, redfish.CDMediaType) {
					t.Fatalf("Cd %+v", cd)
				}
				if err := cd.InsertMedia("http://img/boot.iso", true, true); err != nil {
					t.Fatalf("InsertMedia: %v", err)
				}
				if err := cd.InsertMedia("http://img/other.iso", true, true); statusOf(err) != http.StatusConflict {
					t.Fatalf("insert into occupied device: %v", err)
				}
				cd, err = redfish.GetVirtualMedia(c, cd.ODataID)
				if err != nil || cd.Image != "http://img/boot.iso" || !cd.Inserted {
					t.Fatalf("after insert %+v %v", cd, err)
				}
				if err := cd.EjectMedia(); err != nil {
					t.Fatalf("EjectMedia: %v", err)
				}
			}

			// BIOS settings and reset.
			bios, err := s.Bios()
			if err != nil || bios.Attributes["BootMode"] != "Uefi" {
				t.Fatalf("bios %+v %v", bios, err)
			}
			if err := bios.UpdateBiosAttributes(redfish.SettingsAttributes{"ProcTurboMode": "Disabled"}); err != nil {
				t.Fatalf("UpdateBiosAttributes: %v", err)
			}
			if p := sim.System(id).PendingBIOSSettings(); p["ProcTurboMode"] != "Disabled" {
				t.Fatalf("pending BIOS %v", p)
			}
			if err := bios.ResetBios(); err != nil {
				t.Fatalf("ResetBios: %v", err)
			}

			// Secure boot.
			sb, err := s.SecureBoot()
			if err != nil || sb.SecureBootEnable {
				t.Fatalf("secure boot %+v %v", sb, err)
			}
			sb.SecureBootEnable = true
			if err := sb.Update(); err != nil {
				t.Fatalf("SecureBoot.Update: %v", err)
			}
			if !sim.System(id).SecureBoot() {
				t.Fatal("secure boot not enabled")
			}
			if n, _ := sim.Overlaps(id); n != 0 {
				t.Fatalf("a single client produced %d overlaps", n)
			}
		})
	}
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestGofishPowerIsNotInstantaneous(t *testing.T) {
	const delay = 300 * time.Millisecond
	sim := startSim(t, Config{Systems: 1, PowerDelay: delay})
	c := connect(t, sim.URL(), "admin", "password", false)
	id := sim.SystemIDs()[0]
	s := gofishSystem(t, c, sim.SystemPath(id))
	if err := s.SetBoot(redfish.Boot{BootSourceOverrideTarget: redfish.PxeBootSourceOverrideTarget, BootSourceOverrideEnabled: redfish.OnceBootSourceOverrideEnabled}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Reset(redfish.OnResetType); err != nil {
		t.Fatal(err)
	}
	if got := gofishSystem(t, c, sim.SystemPath(id)).PowerState; got != redfish.OffPowerState && time.Since(start) < delay {
		t.Fatalf("power %s right after Reset(On), want Off until the delay passes", got)
	}
	var s2 *redfish.ComputerSystem
	for deadline := time.Now().Add(10 * time.Second); ; {
		s2 = gofishSystem(t, c, sim.SystemPath(id))
		if s2.PowerState == redfish.OnPowerState {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never powered on")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if waited := time.Since(start); waited < delay {
		t.Fatalf("power came on after %v, before the %v delay", waited, delay)
	}
	if s2.Boot.BootSourceOverrideEnabled != redfish.DisabledBootSourceOverrideEnabled {
		t.Fatalf("Once override not consumed by the boot: %+v", s2.Boot)
	}
	if b := sim.System(id).BootedFrom(); b.Device != BootPxe {
		t.Fatalf("booted from %+v, want Pxe", b)
	}
}

func TestGofishStaleETag(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	c := connect(t, sim.URL(), "admin", "password", false)
	id := sim.SystemIDs()[0]
	s := gofishSystem(t, c, sim.SystemPath(id))
	if err := sim.System(id).SetBootOverride(BootOverridePatch{Target: BootCd, Enabled: BootContinuous}); err != nil {
		t.Fatal(err)
	}
	err := s.SetBoot(redfish.Boot{BootSourceOverrideTarget: redfish.PxeBootSourceOverrideTarget})
	if statusOf(err) != http.StatusPreconditionFailed {
		t.Fatalf("SetBoot with a stale ETag: %v, want 412", err)
	}
	if got := sim.System(id).BootOverride().Target; got != BootCd {
		t.Fatalf("stale PATCH changed the target to %s", got)
	}
}

func TestGofishBadCredentials(t *testing.T) {
	sim := startSim(t, Config{Systems: 1})
	for _, basic := range []bool{false, true} {
		c, err := gofish.ConnectContext(context.Background(), gofish.ClientConfig{Endpoint: sim.URL(), Username: "admin", Password: "wrong", BasicAuth: basic})
		if basic {
			if err != nil {
				t.Fatalf("basic connect only reads the public root: %v", err)
			}
			_, err = redfish.GetComputerSystem(c, sim.SystemPath(sim.SystemIDs()[0]))
			c.HTTPClient.CloseIdleConnections()
		}
		if statusOf(err) != http.StatusUnauthorized {
			t.Fatalf("basic=%v: %v, want 401", basic, err)
		}
	}
}
