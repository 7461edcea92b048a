package ipmi_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/ipmi"
	"github.com/bmc-agent/bmc-agent/internal/ipmitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fastConfig keeps IPMI's pauses short for tests: the behaviour is the
// same, the waits are not.
func fastConfig() ipmi.Config {
	return ipmi.Config{
		MinCommandInterval: 5 * time.Millisecond,
		CommandTimeout:     10 * time.Second,
		RetryInterval:      20 * time.Millisecond,
		PollInterval:       50 * time.Millisecond,
		PowerTimeout:       15 * time.Second,
	}
}

// nodeFor is a node whose BMC is the peer c reaches, pinned to cipher
// suite 3 (ipmi_sim answers nothing else without a long wait).
func nodeFor(uuid string, c ipmitest.Client) drivers.Node {
	return drivers.Node{UUID: uuid, Info: drivers.Info{
		ipmi.InfoAddress:     c.Host,
		ipmi.InfoPort:        float64(c.Port),
		ipmi.InfoUsername:    c.Username,
		ipmi.InfoPassword:    c.Password,
		ipmi.InfoCipherSuite: "3",
	}}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// observedPower reads the power state through ipmitool, not the driver.
func observedPower(t *testing.T, c ipmitest.Client) drivers.PowerState {
	t.Helper()
	on, err := c.PowerOn(ctxFor(t))
	if err != nil {
		t.Fatalf("ipmitool: %v", err)
	}
	if on {
		return drivers.PowerOn
	}
	return drivers.PowerOff
}
