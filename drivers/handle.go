package drivers

import (
	"context"
	"fmt"
	"time"
)

// Binding is what a Handle needs of the task that owns it.
type Binding interface {
	// DriverNode returns the node as the driver should see it now.
	DriverNode() Node
	// Exclusive reports whether the task holds the node's exclusive lock.
	Exclusive() bool
	// Released reports whether the task has been released; a released
	// binding refuses every call with ErrReleased.
	Released() bool
}

// Call is one driver call as the middleware sees it.
type Call struct {
	Driver string
	Method Method
	Node   Node
	// Wait is the time a SetPowerState call may wait for the node to reach
	// its target state; zero for other methods.
	Wait time.Duration
}

// Middleware wraps every driver call a Handle makes: metrics, logs, timeouts.
// It must call next at most once and return its error (or its own).
type Middleware func(ctx context.Context, c Call, next func(context.Context) error) error

// Handle is a driver bound to one node and the lock state of the task that
// holds it. It implements every capability: a mutating method runs only
// while the binding is exclusive, a capability the driver lacks yields an
// *UnsupportedError, arguments are checked, and every call passes through the
// middleware. All of that happens before any BMC I/O.
//
// A Handle is safe for concurrent use if the driver is.
type Handle struct {
	d  Driver
	b  Binding
	mw []Middleware
}

// NewHandle binds d to b. Middleware run in order, the first outermost.
func NewHandle(d Driver, b Binding, mw ...Middleware) *Handle {
	return &Handle{d: d, b: b, mw: mw}
}

// Name returns the driver's name.
func (h *Handle) Name() string { return h.d.Name() }

// Supports reports whether the driver implements any method of iface.
func (h *Handle) Supports(iface Interface) bool { return Supports(h.d, iface) }

// Require reports, without BMC I/O, an *UnsupportedError for the first of
// ms the driver does not implement: a caller checks every capability an
// operation will need before it starts one.
func (h *Handle) Require(ms ...Method) error {
	for _, m := range ms {
		if !m.Implemented(h.d) {
			return &UnsupportedError{Driver: h.d.Name(), Interface: m.Interface, Method: m.Name}
		}
	}
	return nil
}

// Validate checks the node's driver_info for iface without BMC I/O.
func (h *Handle) Validate(iface Interface) error {
	if !Supports(h.d, iface) {
		return &UnsupportedError{Driver: h.d.Name(), Interface: iface, Method: "any method"}
	}
	return h.d.Validate(iface, h.b.DriverNode())
}

// invoke runs fn as the call m, after the guard, the capability check and
// through the middleware chain.
func (h *Handle) invoke(ctx context.Context, m Method, wait time.Duration, fn func(context.Context, Node) error) error {
	if h.b.Released() {
		return fmt.Errorf("%s: %w", m, ErrReleased)
	}
	if m.Mutates && !h.b.Exclusive() {
		return fmt.Errorf("%s: %w", m, ErrExclusiveLockRequired)
	}
	if err := h.Require(m); err != nil {
		return err
	}
	c := Call{Driver: h.d.Name(), Method: m, Node: h.b.DriverNode(), Wait: wait}
	next := func(ctx context.Context) error { return fn(ctx, c.Node) }
	for i := len(h.mw) - 1; i >= 0; i-- {
		mw, inner := h.mw[i], next
		next = func(ctx context.Context) error { return mw(ctx, c, inner) }
	}
	return next(ctx)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)
}

// PowerState reads the node's power state.
func (h *Handle) PowerState(ctx context.Context) (st PowerState, err error) {
	err = h.invoke(ctx, MethodPowerState, 0, func(ctx context.Context, n Node) (err error) {
		st, err = h.d.(PowerGetter).PowerState(ctx, n)
		return err
	})
	return st, err
}

// SupportedPowerActions lists the power actions the node accepts.
func (h *Handle) SupportedPowerActions(ctx context.Context) (a []PowerAction, err error) {
	err = h.invoke(ctx, MethodSupportedPowerActions, 0, func(ctx context.Context, n Node) (err error) {
		a, err = h.d.(PowerGetter).SupportedPowerActions(ctx, n)
		return err
	})
	return a, err
}

// SetPowerState performs a power action and waits for its target state.
// Needs the exclusive lock.
func (h *Handle) SetPowerState(ctx context.Context, action PowerAction, timeout time.Duration) error {
	if !action.Valid() {
		return invalid("unknown power action %q", action)
	}
	if timeout < 0 {
		return invalid("negative power timeout %s", timeout)
	}
	return h.invoke(ctx, MethodSetPowerState, timeout, func(ctx context.Context, n Node) error {
		return h.d.(PowerSetter).SetPowerState(ctx, n, action, timeout)
	})
}

// BootDevice reads the node's boot device override.
func (h *Handle) BootDevice(ctx context.Context) (st BootDeviceStatus, err error) {
	err = h.invoke(ctx, MethodBootDevice, 0, func(ctx context.Context, n Node) (err error) {
		st, err = h.d.(BootDeviceGetter).BootDevice(ctx, n)
		return err
	})
	return st, err
}

// SupportedBootDevices lists the boot devices the node accepts.
func (h *Handle) SupportedBootDevices(ctx context.Context) (d []BootDevice, err error) {
	err = h.invoke(ctx, MethodSupportedBootDevices, 0, func(ctx context.Context, n Node) (err error) {
		d, err = h.d.(BootDeviceGetter).SupportedBootDevices(ctx, n)
		return err
	})
	return d, err
}

// SetBootDevice sets the boot device. Needs the exclusive lock.
func (h *Handle) SetBootDevice(ctx context.Context, dev BootDevice, opts BootOptions) error {
	if !dev.Valid() {
		return invalid("unknown boot device %q", dev)
	}
	if opts.Mode != NoBootMode && !opts.Mode.Valid() {
		return invalid("unknown boot mode %q", opts.Mode)
	}
	return h.invoke(ctx, MethodSetBootDevice, 0, func(ctx context.Context, n Node) error {
		return h.d.(BootDeviceSetter).SetBootDevice(ctx, n, dev, opts)
	})
}

// BootMode reads the node's boot mode.
func (h *Handle) BootMode(ctx context.Context) (m BootMode, err error) {
	err = h.invoke(ctx, MethodBootMode, 0, func(ctx context.Context, n Node) (err error) {
		m, err = h.d.(BootModeGetter).BootMode(ctx, n)
		return err
	})
	return m, err
}

// SetBootMode sets the boot mode. Needs the exclusive lock.
func (h *Handle) SetBootMode(ctx context.Context, mode BootMode) error {
	if !mode.Valid() {
		return invalid("unknown boot mode %q", mode)
	}
	return h.invoke(ctx, MethodSetBootMode, 0, func(ctx context.Context, n Node) error {
		return h.d.(BootModeSetter).SetBootMode(ctx, n, mode)
	})
}

// InjectNMI sends a diagnostic interrupt. Needs the exclusive lock.
func (h *Handle) InjectNMI(ctx context.Context) error {
	return h.invoke(ctx, MethodInjectNMI, 0, func(ctx context.Context, n Node) error {
		return h.d.(NMIInjector).InjectNMI(ctx, n)
	})
}

// Media lists the node's virtual media devices.
func (h *Handle) Media(ctx context.Context) (m []Media, err error) {
	err = h.invoke(ctx, MethodMedia, 0, func(ctx context.Context, n Node) (err error) {
		m, err = h.d.(MediaGetter).Media(ctx, n)
		return err
	})
	return m, err
}

// InsertMedia inserts an image. Needs the exclusive lock.
func (h *Handle) InsertMedia(ctx context.Context, req MediaRequest) error {
	if !req.Type.Valid() {
		return invalid("unknown media type %q", req.Type)
	}
	if req.Image == "" {
		return invalid("an image URL is required")
	}
	return h.invoke(ctx, MethodInsertMedia, 0, func(ctx context.Context, n Node) error {
		return h.d.(MediaInserter).InsertMedia(ctx, n, req)
	})
}

// EjectMedia ejects every device of type t (all for AnyMedia). Needs the
// exclusive lock.
func (h *Handle) EjectMedia(ctx context.Context, t MediaType) error {
	if t != AnyMedia && !t.Valid() {
		return invalid("unknown media type %q", t)
	}
	return h.invoke(ctx, MethodEjectMedia, 0, func(ctx context.Context, n Node) error {
		return h.d.(MediaEjecter).EjectMedia(ctx, n, t)
	})
}

// Check contacts the BMC with the node's credentials.
func (h *Handle) Check(ctx context.Context) error {
	return h.invoke(ctx, MethodCheck, 0, func(ctx context.Context, n Node) error {
		return h.d.(Checker).Check(ctx, n)
	})
}

// Timeout is a Middleware that bounds every driver call: d for reads and
// quick setters, d plus the requested wait for SetPowerState. A deadline the
// caller already set is kept when it is sooner.
func Timeout(d time.Duration) Middleware {
	return func(ctx context.Context, c Call, next func(context.Context) error) error {
		ctx, cancel := context.WithTimeout(ctx, d+c.Wait)
		defer cancel()
		return next(ctx)
	}
}
