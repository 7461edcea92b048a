package ipmi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// PowerState implements drivers.PowerGetter: `chassis power status`, read
// through bmclib and normalised from ipmitool's text.
func (d *Driver) PowerState(ctx context.Context, n drivers.Node) (drivers.PowerState, error) {
	b, err := d.bmcOf(n, drivers.PowerInterface)
	if err != nil {
		return drivers.NoPowerState, err
	}
	return d.powerState(ctx, b)
}

func (d *Driver) powerState(ctx context.Context, b bmc) (drivers.PowerState, error) {
	out, err := d.raw(ctx, b, "get power state", "chassis", "power", "status")
	if err != nil {
		return drivers.NoPowerState, err
	}
	st := parsePower(out)
	if st == drivers.PowerError {
		return drivers.NoPowerState, &drivers.DriverError{Driver: Name, Op: "get power state", BMC: b.addr(),
			Err: &cmdError{kind: drivers.ErrBMCFailed, msg: fmt.Sprintf("unexpected power status %q", oneLine(out))}}
	}
	return st, nil
}

// parsePower reads ipmitool's "Chassis Power is on|off".
func parsePower(out string) drivers.PowerState {
	switch {
	case strings.Contains(out, "Chassis Power is on"):
		return drivers.PowerOn
	case strings.Contains(out, "Chassis Power is off"):
		return drivers.PowerOff
	}
	return drivers.PowerError
}

// SupportedPowerActions implements drivers.PowerGetter: every action.
func (d *Driver) SupportedPowerActions(ctx context.Context, n drivers.Node) ([]drivers.PowerAction, error) {
	return slices.Clone(drivers.PowerActions), nil
}

// SetPowerState implements drivers.PowerSetter.
//
//   - power on, power off, soft power off: the state is read first, as
//     bmclib does, and a node already there gets no BMC action (one
//     ipmitool run); otherwise `chassis power on|off|soft` and the wait
//     (three runs when the first poll finds the target state);
//   - rebooting: a node that is off is powered on; one that is on gets
//     `chassis power cycle`, or `chassis power reset` where the BMC refuses
//     a cycle;
//   - soft rebooting: soft power off, wait for off, power on (as Ironic).
//
// Each wait for a target state polls every Config.PollInterval for up to
// timeout (zero: Config.PowerTimeout) and fails with a
// *drivers.PowerTimeoutError naming the last state seen. A soft power off
// that the OS ignores ends that way, with the node still on.
func (d *Driver) SetPowerState(ctx context.Context, n drivers.Node, action drivers.PowerAction, timeout time.Duration) error {
	b, err := d.bmcOf(n, drivers.PowerInterface)
	if err != nil {
		return err
	}
	if timeout <= 0 {
		timeout = d.cfg.PowerTimeout
	}
	switch action {
	case drivers.ActionPowerOn:
		return d.powerAndWait(ctx, b, "on", drivers.PowerOn, timeout)
	case drivers.ActionPowerOff:
		return d.powerAndWait(ctx, b, "off", drivers.PowerOff, timeout)
	case drivers.ActionSoftPowerOff:
		return d.powerAndWait(ctx, b, "soft", drivers.PowerOff, timeout)
	case drivers.ActionSoftReboot:
		if err := d.powerAndWait(ctx, b, "soft", drivers.PowerOff, timeout); err != nil {
			return err
		}
		return d.powerAndWait(ctx, b, "on", drivers.PowerOn, timeout)
	case drivers.ActionReboot:
		st, err := d.powerState(ctx, b)
		if err != nil {
			return err
		}
		if st == drivers.PowerOff {
			if err := d.setPower(ctx, b, "on"); err != nil {
				return err
			}
			return d.waitFor(ctx, b, drivers.PowerOn, timeout)
		}
		err = d.setPower(ctx, b, "cycle")
		if errors.Is(err, drivers.ErrBMCRejected) {
			d.log.Info("BMC refused a power cycle, resetting instead", "bmc", b.addr(), "error", err)
			err = d.setPower(ctx, b, "reset")
		}
		if err != nil {
			return err
		}
		return d.waitFor(ctx, b, drivers.PowerOn, timeout)
	}
	return &drivers.DriverError{Driver: Name, Op: "set power state", BMC: b.addr(),
		Err: fmt.Errorf("%w: unknown power action %q", drivers.ErrInvalidArgument, action)}
}

func (d *Driver) powerAndWait(ctx context.Context, b bmc, word string, target drivers.PowerState, timeout time.Duration) error {
	st, err := d.powerState(ctx, b)
	if err != nil {
		return err
	}
	if st == target {
		return nil
	}
	if err := d.setPower(ctx, b, word); err != nil {
		return err
	}
	return d.waitFor(ctx, b, target, timeout)
}

// setPower sends one of ipmitool's chassis power words: on, off, soft,
// cycle, reset. A BMC that answers success without acting is found by the
// wait that follows, which reads the state back (a PowerTimeoutError).
func (d *Driver) setPower(ctx context.Context, b bmc, word string) error {
	out, err := d.raw(ctx, b, "set power "+word, "chassis", "power", word)
	if err == nil && !strings.Contains(out, "Chassis Power Control") {
		return &drivers.DriverError{Driver: Name, Op: "set power " + word, BMC: b.addr(),
			Err: &cmdError{kind: drivers.ErrBMCFailed, msg: fmt.Sprintf("the BMC did not confirm power %s: %q", word, oneLine(out))}}
	}
	return err
}

// waitFor polls the power state until it is target or timeout has passed.
func (d *Driver) waitFor(ctx context.Context, b bmc, target drivers.PowerState, timeout time.Duration) error {
	start := time.Now()
	deadline := start.Add(timeout)
	last := drivers.NoPowerState
	timedOut := func() error {
		return &drivers.DriverError{Driver: Name, Op: "wait for " + string(target), BMC: b.addr(),
			Err: &drivers.PowerTimeoutError{Target: target, LastSeen: last, Waited: time.Since(start).Round(time.Millisecond).String()}}
	}
	for {
		st, err := d.powerState(ctx, b)
		switch {
		case err == nil && st == target:
			return nil
		case err == nil:
			last = st
		case errors.Is(err, context.Canceled), errors.Is(err, drivers.ErrBMCAuth):
			return err
		default:
			// A BMC busy with a power change may miss a read; keep
			// polling until the deadline.
			d.log.Debug("power state read failed while waiting", "bmc", b.addr(), "error", err)
		}
		if ctx.Err() != nil || time.Now().Add(d.cfg.PollInterval).After(deadline) {
			return timedOut()
		}
		t := time.NewTimer(d.cfg.PollInterval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.Canceled) {
				return ctx.Err()
			}
			return timedOut()
		}
	}
}

// Check implements drivers.Checker: it reads the power state, which needs a
// session, so it proves address and credentials.
func (d *Driver) Check(ctx context.Context, n drivers.Node) error {
	_, err := d.PowerState(ctx, n)
	return err
}

// InjectNMI implements drivers.NMIInjector: `chassis power diag`. BMCs
// refuse it for a node that is off (ErrBMCRejected), and ipmi_sim refuses it
// always.
func (d *Driver) InjectNMI(ctx context.Context, n drivers.Node) error {
	b, err := d.bmcOf(n, drivers.ManagementInterface)
	if err != nil {
		return err
	}
	_, err = d.raw(ctx, b, "inject NMI", "chassis", "power", "diag")
	return err
}
