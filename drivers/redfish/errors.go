package redfish

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// ResponseError is an error answer of a BMC: the request, the HTTP status
// and the Redfish error message it carried. It wraps the drivers sentinel
// that classifies it: ErrBMCAuth for 401 and 403, ErrBMCRejected for other
// 4xx, ErrBMCFailed for 5xx (after retries) and anything unexpected.
type ResponseError struct {
	// Method and Path are the request, e.g. POST and the Reset action.
	Method, Path string
	// Status is the HTTP status code.
	Status int
	// MessageID is the Redfish message id (e.g. Base.1.18.ResourceInUse),
	// "" when the BMC sent none.
	MessageID string
	// Message is what the BMC said, credentials removed.
	Message string
	// Attempts is how many times the request was sent.
	Attempts int

	kind error
}

func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %s %s: %d %s", e.kind, e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.MessageID != "" {
		b.WriteString(": " + e.MessageID)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap returns the drivers sentinel the error is classified as.
func (e *ResponseError) Unwrap() error { return e.kind }

// transportError is a request that got no HTTP answer: refused, reset,
// dropped, timed out or cancelled.
type transportError struct {
	kind         error
	method, path string
	attempts     int
	cause        error
}

func (e *transportError) Error() string {
	s := fmt.Sprintf("%v: %s %s: %v", e.kind, e.method, e.path, e.cause)
	if e.attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.attempts)
	}
	return s
}

// Unwrap returns the sentinel and the cause (context.DeadlineExceeded, a
// *net.OpError, ...).
func (e *transportError) Unwrap() []error { return []error{e.kind, e.cause} }

// maxMessage bounds what is kept of a BMC's error message.
const maxMessage = 512

// responseError builds the error for a non-2xx answer from its body.
func responseError(kind error, method, path string, status int, body []byte, scrub func(string) string) *ResponseError {
	e := &ResponseError{Method: method, Path: path, Status: status, kind: kind}
	var rb struct {
		Error struct {
			Code     string `json:"code"`
			Message  string `json:"message"`
			Extended []struct {
				MessageID string `json:"MessageId"`
				Message   string `json:"Message"`
			} `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &rb) == nil && (rb.Error.Code != "" || rb.Error.Message != "" || len(rb.Error.Extended) > 0) {
		e.MessageID = rb.Error.Code
		var msgs []string
		for _, x := range rb.Error.Extended {
			if x.Message != "" {
				msgs = append(msgs, x.Message)
			}
			if e.MessageID == "" || strings.HasSuffix(e.MessageID, "GeneralError") {
				if x.MessageID != "" {
					e.MessageID = x.MessageID
				}
			}
		}
		if len(msgs) == 0 && rb.Error.Message != "" {
			msgs = append(msgs, rb.Error.Message)
		}
		e.Message = strings.Join(msgs, "; ")
	} else {
		e.Message = strings.Join(strings.Fields(string(body)), " ")
	}
	e.Message = scrub(e.Message)
	if len(e.Message) > maxMessage {
		e.Message = e.Message[:maxMessage] + "..."
	}
	return e
}

// statusKind classifies an HTTP error status.
func statusKind(status int) error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return drivers.ErrBMCAuth
	case status >= 400 && status < 500:
		return drivers.ErrBMCRejected
	default:
		return drivers.ErrBMCFailed
	}
}

// rejected reports a request the driver did not send because the BMC said,
// in what it advertises, that it would refuse it.
func rejected(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{drivers.ErrBMCRejected}, args...)...)
}

// unsupported reports something Redfish (or this driver) has no way to do.
func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{drivers.ErrUnsupported}, args...)...)
}

// classified reports whether err already says what went wrong in the
// drivers vocabulary.
func classified(err error) bool {
	for _, s := range []error{
		drivers.ErrBMCUnreachable, drivers.ErrBMCTimeout, drivers.ErrBMCAuth, drivers.ErrBMCRejected,
		drivers.ErrBMCFailed, drivers.ErrInvalidInfo, drivers.ErrUnsupported, errClosed,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// errClosed is returned by calls made after Close.
var errClosed = errors.New("redfish driver closed")

// scrubber returns a function that removes the password from text a BMC
// sent back or a library produced.
func scrubber(password string) func(string) string {
	if password == "" {
		return func(s string) string { return s }
	}
	return func(s string) string { return strings.ReplaceAll(s, password, drivers.Redacted) }
}
