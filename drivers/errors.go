package drivers

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers test for them with errors.Is; the HTTP layer maps
// each to one status code.
var (
	// ErrUnsupported: the driver does not implement the capability. Returned
	// before any BMC I/O; safe to retry with another driver.
	ErrUnsupported = errors.New("not supported by driver")
	// ErrExclusiveLockRequired: a mutating method was called through a shared
	// task. Returned before any BMC I/O.
	ErrExclusiveLockRequired = errors.New("exclusive lock required")
	// ErrReleased: the task the driver was handed out by has been released.
	// A programming error; returned before any BMC I/O.
	ErrReleased = errors.New("task already released")
	// ErrInvalidInfo: the node's driver_info is missing a field or has a
	// malformed one. Returned before any BMC I/O.
	ErrInvalidInfo = errors.New("invalid driver_info")
	// ErrInvalidArgument: a caller asked for a value the agent does not know
	// (an unknown power action, boot device or media type).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnknownDriver: no driver of that name is registered.
	ErrUnknownDriver = errors.New("unknown driver")

	// ErrBMCUnreachable: the BMC could not be reached (refused, reset, DNS).
	// The BMC may or may not have acted on a request that was sent.
	ErrBMCUnreachable = errors.New("BMC unreachable")
	// ErrBMCTimeout: the BMC did not answer in time, or did not reach the
	// requested state in time. It may have acted.
	ErrBMCTimeout = errors.New("BMC timed out")
	// ErrBMCAuth: the BMC refused the credentials.
	ErrBMCAuth = errors.New("BMC refused the credentials")
	// ErrBMCRejected: the BMC answered the request with an error of its own
	// (a Redfish 4xx, an IPMI completion code). It did not act.
	ErrBMCRejected = errors.New("BMC rejected the request")
	// ErrBMCFailed: the BMC failed while handling the request (a 5xx after
	// retries, an unparseable answer). It may have acted.
	ErrBMCFailed = errors.New("BMC failed")
)

// ErrorKind names the class of a driver error for metrics and logs: one of
// "unsupported", "lock", "invalid", "unreachable", "timeout", "auth",
// "rejected", "failed", "canceled" or "other". The set is bounded, so it is
// safe as a metric label.
func ErrorKind(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrUnsupported):
		return "unsupported"
	case errors.Is(err, ErrExclusiveLockRequired):
		return "lock"
	case errors.Is(err, ErrInvalidInfo), errors.Is(err, ErrInvalidArgument):
		return "invalid"
	case errors.Is(err, ErrBMCUnreachable):
		return "unreachable"
	case errors.Is(err, ErrBMCTimeout):
		return "timeout"
	case errors.Is(err, ErrBMCAuth):
		return "auth"
	case errors.Is(err, ErrBMCRejected):
		return "rejected"
	case errors.Is(err, ErrBMCFailed):
		return "failed"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "other"
}

// UnsupportedError says that a driver lacks a capability.
type UnsupportedError struct {
	Driver    string
	Interface Interface
	Method    string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("driver %q does not support %s (%s interface)", e.Driver, e.Method, e.Interface)
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// InvalidInfoError lists every problem found in a node's driver_info at once.
type InvalidInfoError struct {
	Driver    string
	Interface Interface
	Problems  []string
}

func (e *InvalidInfoError) Error() string {
	return fmt.Sprintf("driver %q: invalid driver_info for %s: %s", e.Driver, e.Interface, strings.Join(e.Problems, "; "))
}

// Is makes errors.Is(err, ErrInvalidInfo) true.
func (e *InvalidInfoError) Is(target error) bool { return target == ErrInvalidInfo }

// Problems collects validation problems; its Err is nil when there are none.
type Problems []string

// Addf records one problem.
func (p *Problems) Addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// Err returns an *InvalidInfoError listing every problem, or nil.
func (p Problems) Err(driver string, iface Interface) error {
	if len(p) == 0 {
		return nil
	}
	return &InvalidInfoError{Driver: driver, Interface: iface, Problems: p}
}

// DriverError describes a failed BMC operation, like os.PathError: which
// driver attempted what on which BMC, and why. BMC never holds credentials.
type DriverError struct {
	Driver string
	// Op is what was attempted, e.g. "set power state to power on".
	Op string
	// BMC is the BMC's address without credentials.
	BMC string
	Err error
}

func (e *DriverError) Error() string {
	if e.BMC == "" {
		return fmt.Sprintf("%s: %s: %v", e.Driver, e.Op, e.Err)
	}
	return fmt.Sprintf("%s: %s on %s: %v", e.Driver, e.Op, e.BMC, e.Err)
}

// Unwrap returns the cause.
func (e *DriverError) Unwrap() error { return e.Err }

// PowerTimeoutError reports that a node did not reach a power state in time.
type PowerTimeoutError struct {
	Target   PowerState
	LastSeen PowerState
	Waited   string
}

func (e *PowerTimeoutError) Error() string {
	last := string(e.LastSeen)
	if last == "" {
		last = "unknown"
	}
	return fmt.Sprintf("timed out after %s waiting for %q, last state seen %q", e.Waited, e.Target, last)
}

// Is makes errors.Is(err, ErrBMCTimeout) true.
func (e *PowerTimeoutError) Is(target error) bool { return target == ErrBMCTimeout }
