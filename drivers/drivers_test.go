package drivers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
)

type binding struct {
	exclusive, released bool
}

func (b *binding) DriverNode() drivers.Node {
	return drivers.Node{UUID: "n1", Info: drivers.Info{"password": "pw"}}
}
func (b *binding) Exclusive() bool { return b.exclusive }
func (b *binding) Released() bool  { return b.released }

func TestRedacted(t *testing.T) {
	in := drivers.Info{"redfish_password": "s3cret", "ipmi_password": "x", "redfish_username": "admin",
		"bmc_token": "t", "verify_ca": true, "ca_key_file": "/etc/ca.key", "empty_password": ""}
	out := in.Redacted()
	for _, k := range []string{"redfish_password", "ipmi_password", "bmc_token"} {
		if out[k] != drivers.Redacted {
			t.Errorf("%s = %v, want redacted", k, out[k])
		}
	}
	for _, k := range []string{"redfish_username", "verify_ca", "ca_key_file", "empty_password"} {
		if out[k] != in[k] {
			t.Errorf("%s = %v, want %v unchanged", k, out[k], in[k])
		}
	}
	if in["redfish_password"] != "s3cret" {
		t.Fatal("Redacted changed its receiver")
	}
	if s := fmt.Sprint(out); strings.Contains(s, "s3cret") {
		t.Fatalf("password visible: %s", s)
	}
}

// A password in a URL is a secret whatever its key: shown redacted, the
// rest of the URL kept.
func TestRedactedURLPassword(t *testing.T) {
	in := drivers.Info{"redfish_address": "https://admin:s3cret@bmc.example:8443/redfish/v1",
		"user_only": "https://admin@bmc.example", "plain": "https://bmc.example", "not_a_url": "a@b://"}
	out := in.Redacted()
	if got := out["redfish_address"]; got != "https://admin:******@bmc.example:8443/redfish/v1" {
		t.Errorf("redfish_address shown as %v", got)
	}
	for _, k := range []string{"user_only", "plain", "not_a_url"} {
		if out[k] != in[k] || drivers.URLPassword(in[k].(string)) {
			t.Errorf("%s = %v, want %v unchanged", k, out[k], in[k])
		}
	}
	if !drivers.URLPassword("redfish+https://u:p@h/redfish/v1/Systems/1") || !drivers.URLPassword("http://u:@h") {
		t.Error("URLPassword missed a password")
	}
}

func TestInfoString(t *testing.T) {
	i := drivers.Info{"port": float64(623), "ratio": 1.5, "flag": true, "nil": nil, "s": "x"}
	for k, want := range map[string]string{"port": "623", "ratio": "1.5", "flag": "true", "s": "x"} {
		if got, ok := i.String(k); !ok || got != want {
			t.Errorf("String(%q) = %q, %v; want %q", k, got, ok, want)
		}
	}
	for _, k := range []string{"nil", "missing"} {
		if _, ok := i.String(k); ok {
			t.Errorf("String(%q) reported a value", k)
		}
	}
}

func TestHandleRejectsBadArguments(t *testing.T) {
	f := fake.New()
	h := drivers.NewHandle(f, &binding{exclusive: true})
	ctx := context.Background()
	for name, err := range map[string]error{
		"action":     h.SetPowerState(ctx, "explode", 0),
		"timeout":    h.SetPowerState(ctx, drivers.ActionPowerOn, -time.Second),
		"device":     h.SetBootDevice(ctx, "floppy-disk", drivers.BootOptions{}),
		"mode":       h.SetBootDevice(ctx, drivers.BootPXE, drivers.BootOptions{Mode: "efi"}),
		"boot mode":  h.SetBootMode(ctx, ""),
		"media type": h.InsertMedia(ctx, drivers.MediaRequest{Type: "tape", Image: "http://x"}),
		"no image":   h.InsertMedia(ctx, drivers.MediaRequest{Type: drivers.MediaCD}),
		"eject type": h.EjectMedia(ctx, "tape"),
	} {
		if !errors.Is(err, drivers.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	if n := f.Calls("n1"); n != 0 {
		t.Fatalf("bad arguments reached the driver %d times", n)
	}
}

func TestHandleReleased(t *testing.T) {
	f := fake.New()
	h := drivers.NewHandle(f, &binding{exclusive: true, released: true})
	if _, err := h.PowerState(context.Background()); !errors.Is(err, drivers.ErrReleased) {
		t.Fatalf("released binding: %v", err)
	}
}

func TestMiddlewareOrderAndTimeout(t *testing.T) {
	var order []string
	mw := func(name string) drivers.Middleware {
		return func(ctx context.Context, c drivers.Call, next func(context.Context) error) error {
			order = append(order, name+">"+c.Method.Name)
			err := next(ctx)
			order = append(order, name+"<")
			return err
		}
	}
	f := fake.New()
	h := drivers.NewHandle(f, &binding{exclusive: true}, mw("outer"), mw("inner"), drivers.Timeout(20*time.Millisecond))
	if _, err := h.PowerState(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, " "); got != "outer>PowerState inner>PowerState inner< outer<" {
		t.Fatalf("middleware order: %s", got)
	}
	f.Inject("n1", fake.Fault{Delay: time.Second})
	// The cause, not a time: the fake answers after a second, so an
	// ErrBMCTimeout can only come from the middleware's 20ms bound.
	_, err := h.PowerState(context.Background())
	if !errors.Is(err, drivers.ErrBMCTimeout) {
		t.Fatalf("slow call under a 20ms timeout: %v", err)
	}
	if kind := drivers.ErrorKind(err); kind != "timeout" {
		t.Fatalf("ErrorKind = %q", kind)
	}
}

func TestRegistry(t *testing.T) {
	r, err := drivers.NewRegistry(fake.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(fake.New()); err == nil {
		t.Fatal("a second driver named fake was accepted")
	}
	if _, err := r.Driver("redfish"); !errors.Is(err, drivers.ErrUnknownDriver) || !strings.Contains(err.Error(), "fake") {
		t.Fatalf("unknown driver: %v", err)
	}
	if d, err := r.Driver("fake"); err != nil || d.Name() != "fake" {
		t.Fatalf("Driver(fake) = %v, %v", d, err)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestErrorKinds(t *testing.T) {
	for want, err := range map[string]error{
		"ok":          nil,
		"unsupported": &drivers.UnsupportedError{Driver: "d", Interface: drivers.VMediaInterface, Method: "InsertMedia"},
		"invalid":     (drivers.Problems{"x missing"}).Err("d", drivers.PowerInterface),
		"unreachable": &drivers.DriverError{Driver: "d", Op: "get power", BMC: "10.0.0.1", Err: drivers.ErrBMCUnreachable},
		"timeout":     &drivers.PowerTimeoutError{Target: drivers.PowerOn, LastSeen: drivers.PowerOff, Waited: "30s"},
		"auth":        fmt.Errorf("x: %w", drivers.ErrBMCAuth),
		"canceled":    context.Canceled,
		"other":       errors.New("?"),
	} {
		if got := drivers.ErrorKind(err); got != want {
			t.Errorf("ErrorKind(%v) = %q, want %q", err, got, want)
		}
	}
	if msg := (&drivers.PowerTimeoutError{Target: drivers.PowerOn, Waited: "5s"}).Error(); !strings.Contains(msg, "unknown") {
		t.Errorf("timeout message without a last state: %q", msg)
	}
}
