package drivers

import "context"

// preflightKey is the context key of a preflight check.
type preflightKey struct{}

// WithPreflight returns ctx carrying check: a condition that must still hold
// at the instant a driver sends a request that may change the BMC. The task
// manager puts its lease check there for every mutating call, because the
// check its middleware makes before the call can be stale by the time the
// driver writes to the BMC (a process stopped between the two, after the
// driver's own reads).
func WithPreflight(ctx context.Context, check func() error) context.Context {
	return context.WithValue(ctx, preflightKey{}, check)
}

// Preflight runs the check ctx carries, if any. Drivers call it right before
// they send a request that may change the BMC (an HTTP method other than GET
// or HEAD, an ipmitool run within a mutating call) and send nothing if it
// fails.
func Preflight(ctx context.Context) error {
	if check, ok := ctx.Value(preflightKey{}).(func() error); ok && check != nil {
		return check()
	}
	return nil
}
