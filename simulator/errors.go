package simulator

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of the state model. Faces map them to protocol answers
// (the Redfish face: 400, 404, 409); callers match them with errors.Is.
var (
	// ErrUnknownSystem is returned for a system id the simulator does not have.
	ErrUnknownSystem = errors.New("simulator: unknown system")
	// ErrUnknownDevice is returned for a virtual media device a system does not have.
	ErrUnknownDevice = errors.New("simulator: unknown virtual media device")
	// ErrInvalidValue is returned when a value is not one the system allows;
	// the error is a *ValueError with the details.
	ErrInvalidValue = errors.New("simulator: value not allowed")
	// ErrMediaOccupied is returned by InsertMedia on a device that already has
	// an image attached. Eject first. Nothing changed, so a retry after an
	// eject is safe.
	ErrMediaOccupied = errors.New("simulator: virtual media device already has an image")
	// ErrMissingValue is returned when a required parameter is absent.
	ErrMissingValue = errors.New("simulator: required value missing")
	// ErrClosed is returned by Start after Close.
	ErrClosed = errors.New("simulator: closed")
)

// ValueError says which property got which disallowed value. It matches
// ErrInvalidValue with errors.Is.
type ValueError struct {
	// Property is the Redfish property or action parameter, e.g. "ResetType".
	Property string
	// Value is the rejected value.
	Value string
	// Allowed lists the values that would have been accepted.
	Allowed []string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("simulator: %s %q not allowed (allowed: %s)", e.Property, e.Value, strings.Join(e.Allowed, ", "))
}

// Is reports whether target is ErrInvalidValue.
func (e *ValueError) Is(target error) bool { return target == ErrInvalidValue }

// invalid builds a *ValueError from any string-like allowed list.
func invalid[T ~string](property string, value T, allowed []T) error {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return &ValueError{Property: property, Value: string(value), Allowed: names}
}

// allowedIn reports whether v is in list.
func allowedIn[T comparable](v T, list []T) bool {
	for _, a := range list {
		if a == v {
			return true
		}
	}
	return false
}
