package redfish

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stmcginnis/gofish/redfish"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// powerOf maps a Redfish PowerState to the agent's, as Ironic does: a
// system powering on counts as on, one powering off as off.
func powerOf(s redfish.PowerState) drivers.PowerState {
	switch s {
	case redfish.OnPowerState, redfish.PoweringOnPowerState, redfish.PausedPowerState:
		return drivers.PowerOn
	case redfish.OffPowerState, redfish.PoweringOffPowerState:
		return drivers.PowerOff
	}
	return drivers.PowerError
}

// PowerState implements drivers.PowerGetter. Read-only.
func (d *Driver) PowerState(ctx context.Context, n drivers.Node) (drivers.PowerState, error) {
	st := drivers.NoPowerState
	err := d.run(ctx, n, drivers.PowerInterface, "get power state", func(cl *call) error {
		s, err := cl.system()
		if err != nil {
			return err
		}
		st = powerOf(s.PowerState)
		return nil
	})
	return st, err
}

// SupportedPowerActions implements drivers.PowerGetter: the actions that
// the system's allowable reset types make possible. Read-only.
func (d *Driver) SupportedPowerActions(ctx context.Context, n drivers.Node) ([]drivers.PowerAction, error) {
	var out []drivers.PowerAction
	err := d.run(ctx, n, drivers.PowerInterface, "list power actions", func(cl *call) error {
		_, allowed, err := cl.systemResets()
		if err != nil {
			return err
		}
		for _, a := range drivers.PowerActions {
			_, errOff := plan(a, redfish.OffPowerState, allowed)
			_, errOn := plan(a, redfish.OnPowerState, allowed)
			if errOff == nil && errOn == nil {
				out = append(out, a)
			}
		}
		return nil
	})
	return out, err
}

// step is one reset of a power action and the state it must lead to. A
// step with no reset only waits.
type step struct {
	reset redfish.ResetType
	want  redfish.PowerState
}

// plan chooses the resets that perform action on a system in state cur,
// using only the reset types it allows. An action whose target is the
// current state needs none (or only a wait, while the system is heading
// there).
func plan(action drivers.PowerAction, cur redfish.PowerState, allowed []string) ([]step, error) {
	pick := func(ts ...redfish.ResetType) redfish.ResetType {
		for _, t := range ts {
			if slices.Contains(allowed, string(t)) {
				return t
			}
		}
		return ""
	}
	on := pick(redfish.OnResetType, redfish.ForceOnResetType)
	const (
		stOn  = redfish.OnPowerState
		stOff = redfish.OffPowerState
	)
	isOn := powerOf(cur) == drivers.PowerOn
	need := func(t redfish.ResetType, what string) error {
		if t == "" {
			return rejected("the system allows no reset type to %s (allowed: %v)", what, allowed)
		}
		return nil
	}
	switch action {
	case drivers.ActionPowerOn:
		if isOn {
			return settle(cur, stOn), nil
		}
		return []step{{on, stOn}}, need(on, "power on (On, ForceOn)")
	case drivers.ActionPowerOff, drivers.ActionSoftPowerOff:
		if !isOn {
			return settle(cur, stOff), nil
		}
		t := pick(redfish.ForceOffResetType)
		what := "power off (ForceOff)"
		if action == drivers.ActionSoftPowerOff {
			t, what = pick(redfish.GracefulShutdownResetType), "shut down gracefully (GracefulShutdown)"
		}
		return []step{{t, stOff}}, need(t, what)
	case drivers.ActionReboot, drivers.ActionSoftReboot:
		if !isOn {
			// Ironic powers on a node that is off; a restart would do nothing.
			return []step{{on, stOn}}, need(on, "power on (On, ForceOn)")
		}
		restart, off := pick(redfish.ForceRestartResetType), pick(redfish.ForceOffResetType)
		what := "reboot (ForceRestart, or ForceOff and On)"
		if action == drivers.ActionSoftReboot {
			restart, off = pick(redfish.GracefulRestartResetType), pick(redfish.GracefulShutdownResetType)
			what = "reboot gracefully (GracefulRestart, or GracefulShutdown and On)"
		}
		if restart != "" {
			return []step{{restart, stOn}}, nil
		}
		if off == "" || on == "" {
			return nil, need("", what)
		}
		return []step{{off, stOff}, {on, stOn}}, nil
	}
	return nil, fmt.Errorf("%w: unknown power action %q", drivers.ErrInvalidArgument, action)
}

// settle is the plan for a system that already is, or is heading to, want.
func settle(cur, want redfish.PowerState) []step {
	if cur == want {
		return nil
	}
	return []step{{"", want}}
}

// SetPowerState implements drivers.PowerSetter. It reads the system, chooses
// reset types it allows (reboot is ForceRestart, or ForceOff then On; soft
// reboot GracefulRestart, or GracefulShutdown then On), posts them and polls
// the power state with a growing interval until the target state or the
// timeout (zero: Options.PowerTimeout), which yields a
// *drivers.PowerTimeoutError naming the state last seen. A node already in
// the target state gets no reset. Mutating; not idempotent for reboots.
func (d *Driver) SetPowerState(ctx context.Context, n drivers.Node, action drivers.PowerAction, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = d.opts.PowerTimeout
	}
	start := time.Now()
	return d.run(ctx, n, drivers.PowerInterface, "set power state to "+string(action), func(cl *call) error {
		s, allowed, err := cl.systemResets()
		if err != nil {
			return err
		}
		steps, err := plan(action, s.PowerState, allowed)
		if err != nil {
			return err
		}
		wctx, cancel := context.WithDeadline(cl.ctx, start.Add(timeout))
		defer cancel()
		wc := cl.withContext(wctx)
		last := s.PowerState
		for i, st := range steps {
			if powersOn(st.reset) {
				// A persistent boot device the BMC keeps only Once
				// (bootonce.go) is set again before each boot.
				if err := wc.reapplyOnce(); err != nil {
					return err
				}
			}
			if st.reset != "" {
				// A BMC still settling refuses the reset for a while
				// (quirks.go): it is retried within the power timeout.
				if err := wc.retrying(siteReset, func(rc *call) error { return rc.doReset(s, allowed, st.reset) }); err != nil {
					if wctx.Err() != nil && i > 0 {
						return &drivers.PowerTimeoutError{Target: powerOf(st.want), LastSeen: powerOf(last), Waited: time.Since(start).Round(time.Millisecond).String()}
					}
					return err
				}
			}
			if s, last, err = d.waitPower(wc, st.want, last, start); err != nil {
				return err
			}
		}
		return nil
	})
}

// waitPower polls the system until it reads want. The wait ends with a
// *drivers.PowerTimeoutError when wc's deadline passes.
func (d *Driver) waitPower(wc *call, want, last redfish.PowerState, start time.Time) (*system, redfish.PowerState, error) {
	timedOut := func() error {
		if errors.Is(context.Cause(wc.ctx), context.Canceled) {
			return wc.ctx.Err()
		}
		return &drivers.PowerTimeoutError{Target: powerOf(want), LastSeen: powerOf(last), Waited: time.Since(start).Round(time.Millisecond).String()}
	}
	interval := d.opts.PollInterval
	for {
		s, err := wc.system()
		if err != nil {
			if wc.ctx.Err() != nil {
				return nil, last, timedOut()
			}
			return nil, last, err
		}
		last = s.PowerState
		if last == want {
			return s, last, nil
		}
		if interval == d.opts.PollInterval {
			wc.note(behaviourStalePower) // re-read until it changes (quirks.go)
		}
		if err := sleepCtx(wc.ctx, interval); err != nil {
			return nil, last, timedOut()
		}
		interval = min(interval*3/2, d.opts.MaxPollInterval)
	}
}

// InjectNMI implements drivers.NMIInjector with the Nmi reset type.
// Mutating; not idempotent; never retried once sent.
func (d *Driver) InjectNMI(ctx context.Context, n drivers.Node) error {
	return d.run(ctx, n, drivers.ManagementInterface, "inject NMI", func(cl *call) error {
		s, allowed, err := cl.systemResets()
		if err != nil {
			return err
		}
		return cl.doReset(s, allowed, redfish.NmiResetType)
	})
}

// Check implements drivers.Checker: it reads the public service root, then
// the node's system with its credentials (logging in where sessions are
// used). Read-only.
func (d *Driver) Check(ctx context.Context, n drivers.Node) error {
	return d.run(ctx, n, drivers.PowerInterface, "check BMC", func(cl *call) error {
		resp, err := cl.exchange(request{method: "GET", path: serviceRoot, anon: true})
		if err != nil {
			return err
		}
		resp.Body.Close()
		_, err = cl.system()
		return err
	})
}
