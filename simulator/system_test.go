package simulator

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// newTestSystem returns a native system with a fake clock and power delay.
func newTestSystem(t *testing.T, delay time.Duration) (*System, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	sim, err := New(Config{Systems: 1, PowerDelay: delay, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return sim.System(sim.SystemIDs()[0]), clk
}

func TestPowerTransitionsTakeTheDelay(t *testing.T) {
	sys, clk := newTestSystem(t, 10*time.Second)
	if got := sys.PowerState(); got != PowerOff {
		t.Fatalf("initial power %s, want Off", got)
	}
	if err := sys.Reset(ResetOn); err != nil {
		t.Fatal(err)
	}
	clk.Advance(9 * time.Second)
	if got := sys.PowerState(); got != PowerOff {
		t.Fatalf("power %s 9s into a 10s power-on, want the old state Off", got)
	}
	if tr, ok := sys.Transition(); !ok || tr.To != PowerOn {
		t.Fatalf("transition %+v %v, want one to On", tr, ok)
	}
	clk.Advance(time.Second)
	if got := sys.PowerState(); got != PowerOn {
		t.Fatalf("power %s after the delay, want On", got)
	}
	if _, ok := sys.Transition(); ok {
		t.Fatal("transition still pending after completion")
	}
	if b := sys.BootedFrom(); b.Count != 1 || b.Device != BootHdd {
		t.Fatalf("booted from %+v, want first boot from Hdd", b)
	}
}

func TestResetTable(t *testing.T) {
	tests := []struct {
		name        string
		start       PowerState
		osIgnores   bool
		reset       ResetType
		want        PowerState
		wantBoots   int
		wantNMIs    int
		wantPending bool // with a delay: still in transition right after
	}{
		{"on from off", PowerOff, false, ResetOn, PowerOn, 1, 0, true},
		{"force on from off", PowerOff, false, ResetForceOn, PowerOn, 1, 0, true},
		{"on when on is a no-op", PowerOn, false, ResetOn, PowerOn, 0, 0, false},
		{"force off", PowerOn, false, ResetForceOff, PowerOff, 0, 0, true},
		{"force off when off", PowerOff, false, ResetForceOff, PowerOff, 0, 0, false},
		{"graceful shutdown, OS cooperates", PowerOn, false, ResetGracefulShutdown, PowerOff, 0, 0, true},
		{"graceful shutdown, OS ignores", PowerOn, true, ResetGracefulShutdown, PowerOn, 0, 0, false},
		{"graceful restart, OS cooperates", PowerOn, false, ResetGracefulRestart, PowerOn, 1, 0, true},
		{"graceful restart, OS ignores", PowerOn, true, ResetGracefulRestart, PowerOn, 0, 0, false},
		{"force restart", PowerOn, true, ResetForceRestart, PowerOn, 1, 0, true},
		{"force restart when off powers on", PowerOff, false, ResetForceRestart, PowerOn, 1, 0, true},
		{"graceful restart when off does nothing", PowerOff, false, ResetGracefulRestart, PowerOff, 0, 0, false},
		{"power cycle when on reboots", PowerOn, false, ResetPowerCycle, PowerOn, 1, 0, true},
		{"power cycle when off powers on", PowerOff, false, ResetPowerCycle, PowerOn, 1, 0, true},
		{"push button when off powers on", PowerOff, false, ResetPushPowerButton, PowerOn, 1, 0, true},
		{"push button when on shuts down", PowerOn, false, ResetPushPowerButton, PowerOff, 0, 0, true},
		{"push button, OS ignores", PowerOn, true, ResetPushPowerButton, PowerOn, 0, 0, false},
		{"nmi when on", PowerOn, false, ResetNmi, PowerOn, 0, 1, false},
		{"nmi when off", PowerOff, false, ResetNmi, PowerOff, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sys, clk := newTestSystem(t, 5*time.Second)
			if err := sys.SetPowerState(tc.start); err != nil {
				t.Fatal(err)
			}
			sys.SetOSCooperates(!tc.osIgnores)
			if err := sys.Reset(tc.reset); err != nil {
				t.Fatalf("Reset(%s): %v", tc.reset, err)
			}
			if _, pending := sys.Transition(); pending != tc.wantPending {
				t.Fatalf("pending transition = %v, want %v", pending, tc.wantPending)
			}
			if tc.wantPending && sys.PowerState() != tc.start && !(tc.start == PowerOn && tc.want == PowerOn) {
				t.Fatalf("power changed before the delay elapsed")
			}
			clk.Advance(5 * time.Second)
			if got := sys.PowerState(); got != tc.want {
				t.Fatalf("power %s, want %s", got, tc.want)
			}
			if got := sys.BootedFrom().Count; got != tc.wantBoots {
				t.Fatalf("boots %d, want %d", got, tc.wantBoots)
			}
			if got := sys.NMIs(); got != tc.wantNMIs {
				t.Fatalf("NMIs %d, want %d", got, tc.wantNMIs)
			}
		})
	}
}

func TestResetDuringTransition(t *testing.T) {
	sys, clk := newTestSystem(t, 10*time.Second)
	_ = sys.Reset(ResetOn)
	clk.Advance(time.Second)
	_ = sys.Reset(ResetOn) // repeated On: no-op, the original due time stands
	clk.Advance(9 * time.Second)
	if sys.PowerState() != PowerOn {
		t.Fatal("a repeated On restarted the delay")
	}
	_ = sys.Reset(ResetForceOff)
	clk.Advance(time.Second)
	_ = sys.Reset(ResetOn) // calls the shutdown off
	clk.Advance(time.Minute)
	if sys.PowerState() != PowerOn {
		t.Fatal("On during a shutdown did not call it off")
	}
	if n := sys.BootedFrom().Count; n != 1 {
		t.Fatalf("boots %d, want 1", n)
	}
}

func TestInvalidResetType(t *testing.T) {
	sys, _ := newTestSystem(t, 0)
	err := sys.Reset("Explode")
	var ve *ValueError
	if !errors.Is(err, ErrInvalidValue) || !errors.As(err, &ve) || ve.Property != "ResetType" || len(ve.Allowed) != 9 {
		t.Fatalf("Reset(Explode) = %v, want a ResetType *ValueError listing 9 types", err)
	}
}

func TestOnceOverrideIsConsumedByTheNextBoot(t *testing.T) {
	sys, clk := newTestSystem(t, time.Second)
	if err := sys.SetBootOverride(BootOverridePatch{Target: BootPxe, Enabled: BootOnce}); err != nil {
		t.Fatal(err)
	}
	_ = sys.Reset(ResetOn)
	if got := sys.BootOverride().Enabled; got != BootOnce {
		t.Fatalf("override %s before the boot happened, want Once", got)
	}
	clk.Advance(time.Second)
	if b := sys.BootedFrom(); b.Device != BootPxe || !b.Override {
		t.Fatalf("booted from %+v, want Pxe by override", b)
	}
	if got := sys.BootOverride(); got.Enabled != BootDisabled {
		t.Fatalf("override %+v after the boot, want Disabled", got)
	}
	_ = sys.Reset(ResetForceRestart)
	clk.Advance(time.Second)
	if b := sys.BootedFrom(); b.Device != BootHdd || b.Override || b.Count != 2 {
		t.Fatalf("second boot %+v, want Hdd without override", b)
	}
}

func TestContinuousOverrideStays(t *testing.T) {
	sys, _ := newTestSystem(t, 0)
	_ = sys.SetBootOverride(BootOverridePatch{Target: BootPxe, Enabled: BootContinuous, Mode: BootModeLegacy})
	for i := range 3 {
		_ = sys.Reset(ResetPowerCycle)
		if b := sys.BootedFrom(); b.Device != BootPxe || b.Mode != BootModeLegacy {
			t.Fatalf("boot %d: %+v, want Pxe Legacy", i, b)
		}
	}
}

func TestBootFromVirtualMedia(t *testing.T) {
	tests := []struct {
		name       string
		target     BootSource
		insertInto string
		wantDevice BootSource
		wantImage  string
		fallback   bool
	}{
		{"cd with media", BootCd, "Cd", BootCd, "http://img/boot.iso", false},
		{"cd empty falls back", BootCd, "", BootHdd, "", true},
		{"usb with media", BootUsb, "Usb", BootUsb, "http://img/boot.iso", false},
		{"floppy served by the usb device", BootFloppy, "Usb", BootFloppy, "http://img/boot.iso", false},
		{"cd target, media in usb", BootCd, "Usb", BootHdd, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sys, _ := newTestSystem(t, 0)
			if tc.insertInto != "" {
				if err := sys.InsertMedia(tc.insertInto, "http://img/boot.iso", InsertOptions{Inserted: true}); err != nil {
					t.Fatal(err)
				}
			}
			_ = sys.SetBootOverride(BootOverridePatch{Target: tc.target, Enabled: BootOnce})
			_ = sys.Reset(ResetOn)
			b := sys.BootedFrom()
			if b.Device != tc.wantDevice || b.Image != tc.wantImage || (b.Fallback != "") != tc.fallback {
				t.Fatalf("booted from %+v, want %s %q fallback=%v", b, tc.wantDevice, tc.wantImage, tc.fallback)
			}
		})
	}
}

func TestMediaInsertEject(t *testing.T) {
	sys, _ := newTestSystem(t, 0)
	if err := sys.InsertMedia("Cd", "http://a/1.iso", InsertOptions{Inserted: true, WriteProtected: true}); err != nil {
		t.Fatal(err)
	}
	if err := sys.InsertMedia("Cd", "http://a/2.iso", InsertOptions{Inserted: true}); !errors.Is(err, ErrMediaOccupied) {
		t.Fatalf("insert into an occupied device: %v, want ErrMediaOccupied", err)
	}
	if err := sys.InsertMedia("Nope", "http://a/2.iso", InsertOptions{}); !errors.Is(err, ErrUnknownDevice) {
		t.Fatalf("insert into an unknown device: %v, want ErrUnknownDevice", err)
	}
	if err := sys.InsertMedia("Cd", "", InsertOptions{}); !errors.Is(err, ErrMissingValue) {
		t.Fatalf("insert without image: %v, want ErrMissingValue", err)
	}
	for range 2 { // eject is idempotent
		if err := sys.EjectMedia("Cd"); err != nil {
			t.Fatal(err)
		}
	}
	if m := sys.Media()[0]; m.Image != "" || m.Inserted {
		t.Fatalf("after eject: %+v", m)
	}
	img := "http://a/3.iso"
	if err := sys.PatchMedia("Usb", MediaPatch{Image: &img}); err != nil {
		t.Fatal(err)
	}
	if m := sys.Media()[1]; m.Image != img || !m.Inserted {
		t.Fatalf("after patch: %+v", m)
	}
}

func TestBootOverrideValidation(t *testing.T) {
	sys, _ := newTestSystem(t, 0)
	for _, p := range []BootOverridePatch{{Target: "Moon"}, {Enabled: "Twice"}, {Mode: "BIOS"}} {
		if err := sys.SetBootOverride(p); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("SetBootOverride(%+v) = %v, want ErrInvalidValue", p, err)
		}
	}
	if err := sys.SetIndicatorLED("Disco"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("SetIndicatorLED(Disco) = %v", err)
	}
}

func TestBIOSSettingsApplyAtBoot(t *testing.T) {
	sys, _ := newTestSystem(t, 0)
	if err := sys.SetBIOSSettings(map[string]any{"ProcTurboMode": "Disabled"}); err != nil {
		t.Fatal(err)
	}
	if err := sys.SetBIOSSettings(map[string]any{"NoSuchThing": 1}); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("unknown attribute: %v", err)
	}
	if got := sys.BIOSAttributes()["ProcTurboMode"]; got != "Enabled" {
		t.Fatalf("applied before a boot: %v", got)
	}
	_ = sys.Reset(ResetOn)
	if got := sys.BIOSAttributes()["ProcTurboMode"]; got != "Disabled" {
		t.Fatalf("not applied at boot: %v", got)
	}
	if sys.PendingBIOSSettings() != nil {
		t.Fatal("pending settings left after boot")
	}
	sys.ResetBIOS()
	if got := sys.BIOSAttributes()["ProcTurboMode"]; got != "Enabled" {
		t.Fatalf("ResetBIOS left %v", got)
	}
}

func TestWitnessCountsOverlaps(t *testing.T) {
	sys, _ := newTestSystem(t, 0)
	a := sys.BeginMutation("redfish", "Reset", "On")
	b := sys.BeginMutation("ipmi", "Reset", "ForceOff") // overlaps a
	b.End(204)
	a.End(204)
	c := sys.BeginMutation("redfish", "InsertMedia", "Cd") // alone
	c.End(204)
	if n := sys.Overlaps(); n != 1 {
		t.Fatalf("overlaps %d, want 1", n)
	}
	log := sys.RequestLog()
	if len(log) != 3 {
		t.Fatalf("log %+v", log)
	}
	want := []bool{true, true, false}
	for i, e := range log {
		if e.Seq != uint64(i+1) || e.Overlapped != want[i] {
			t.Errorf("entry %d: %+v, want seq %d overlapped %v", i, e, i+1, want[i])
		}
	}
	sys.ResetWitness()
	if sys.Overlaps() != 0 || len(sys.RequestLog()) != 0 {
		t.Fatal("ResetWitness left state")
	}
}

func TestWitnessSerialMutationsNeverOverlap(t *testing.T) {
	sys, _ := newTestSystem(t, 0)
	var mu sync.Mutex // the "agent's lock"
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				mu.Lock()
				m := sys.BeginMutation("redfish", "Reset", "On")
				_ = sys.Reset(ResetOn)
				m.End(204)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n := sys.Overlaps(); n != 0 {
		t.Fatalf("overlaps %d under a lock, want 0", n)
	}
	if got := len(sys.RequestLog()); got != 64 {
		t.Fatalf("log holds %d entries, want the default 64", got)
	}
}

func TestFaultValidateAndRoll(t *testing.T) {
	tests := []struct {
		f      Fault
		valid  bool
		action FaultAction
	}{
		{Fault{}, true, FaultNone},
		{Fault{ErrorRate: 1}, true, FaultError},
		{Fault{HangRate: 1}, true, FaultHang},
		{Fault{DropRate: 1}, true, FaultDrop},
		{Fault{Unreachable: true, ErrorRate: 1}, true, FaultUnreachable},
		{Fault{ErrorRate: 2}, false, 0},
		{Fault{ErrorStatus: 404}, false, 0},
		{Fault{Latency: -1}, false, 0},
	}
	for _, tc := range tests {
		if err := tc.f.Validate(); (err == nil) != tc.valid {
			t.Errorf("Validate(%+v) = %v", tc.f, err)
			continue
		}
		if !tc.valid {
			continue
		}
		if o := tc.f.Roll(); o.Action != tc.action {
			t.Errorf("Roll(%+v) = %+v, want action %d", tc.f, o, tc.action)
		}
	}
	o := (&Fault{ErrorRate: 1, RetryAfter: 1500 * time.Millisecond}).Roll()
	if o.Status != 503 || o.RetryAfterSeconds != 2 {
		t.Fatalf("error outcome %+v, want 503 with Retry-After 2", o)
	}
	if o := (&Fault{Latency: time.Second, Jitter: time.Second}).Roll(); o.Delay < time.Second || o.Delay >= 2*time.Second {
		t.Fatalf("delay %v outside [1s, 2s)", o.Delay)
	}
}

func TestFaultJSONRoundTrip(t *testing.T) {
	in := Fault{Latency: 250 * time.Millisecond, Jitter: 50 * time.Millisecond, ErrorRate: 0.5, ErrorStatus: 500, RetryAfter: 3 * time.Second, RefuseLogin: true}
	b, err := in.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var out Fault
	if err := out.UnmarshalJSON(b); err != nil || out != in {
		t.Fatalf("round trip %s -> %+v, %v", b, out, err)
	}
	if err := out.UnmarshalJSON([]byte(`{"Latency": 100}`)); err != nil || out.Latency != 100*time.Millisecond {
		t.Fatalf("numeric latency: %+v %v", out, err)
	}
	if err := out.UnmarshalJSON([]byte(`{"Latncy": "1s"}`)); err == nil {
		t.Fatal("unknown field accepted")
	}
}
