package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// Error is an answer the API chose: a status code and a message for the
// client (Ironic's faultstring). Handlers return it for the client's
// mistakes; every other error is classified by statusOf.
type Error struct {
	Status  int
	Message string
	// Err is the cause, if any, for errors.Is/As and the log.
	Err error
}

// Error returns the client's message and the cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s (%v)", e.Message, e.Err)
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func newError(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: sentence(fmt.Sprintf(format, args...))}
}

// badRequest is the client's mistake: 400 naming what was wrong.
func badRequest(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, format, args...)
}

// notAcceptable is a field or value the requested microversion lacks.
func notAcceptable(format string, args ...any) *Error {
	return newError(http.StatusNotAcceptable, format, args...)
}

// errNoResource is Ironic's answer for a resource it does not have (or not
// at the requested version).
var errNoResource = &Error{Status: http.StatusNotFound, Message: "The resource could not be found."}

// statusClientClosed is nginx's convention for a request whose client went
// away; nobody reads the answer.
const statusClientClosed = 499

// statusOf is the one table from errors to HTTP statuses and the message the
// client sees. The order matters: the most specific errors come first.
func statusOf(err error) (int, string) {
	var ae *Error
	var locked *lock.LockedError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae.Status, ae.Message
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body is larger than %d bytes.", tooLarge.Limit)
	case errors.As(err, &locked):
		return http.StatusConflict, sentence(locked.Error())
	case errors.Is(err, lock.ErrFenced):
		// The task's lock changed hands (another agent swept it) before a
		// BMC mutation or a write: nothing was done; the node's new holder
		// owns it.
		return http.StatusConflict, sentence(err.Error())
	case errors.Is(err, lock.ErrNodeLocked), errors.Is(err, store.ErrNodeReserved):
		return http.StatusConflict, sentence(err.Error() + ", please retry after the current operation is completed")
	case errors.Is(err, taskmanager.ErrInvalidState):
		return http.StatusConflict, sentence(err.Error())
	case errors.Is(err, taskmanager.ErrLeaseLost):
		return http.StatusServiceUnavailable, sentence(err.Error() + "; retry later or through another agent")
	case errors.Is(err, taskmanager.ErrNoFreeWorker):
		return http.StatusServiceUnavailable, sentence("No free worker to run the request (" + err.Error() + "), retry later")
	case errors.Is(err, store.ErrUnavailable):
		return http.StatusServiceUnavailable, sentence("The database is unavailable, retry later: " + err.Error())
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, sentence(err.Error())
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, sentence(err.Error())
	case errors.Is(err, store.ErrInvalidQuery):
		return http.StatusBadRequest, sentence(err.Error())
	case errors.Is(err, drivers.ErrUnknownDriver), errors.Is(err, drivers.ErrUnsupported),
		errors.Is(err, drivers.ErrInvalidInfo), errors.Is(err, drivers.ErrInvalidArgument),
		errors.Is(err, drivers.ErrBMCRejected):
		return http.StatusBadRequest, sentence(err.Error())
	case errors.Is(err, drivers.ErrBMCTimeout), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, sentence(err.Error())
	case errors.Is(err, drivers.ErrBMCUnreachable), errors.Is(err, drivers.ErrBMCAuth), errors.Is(err, drivers.ErrBMCFailed):
		return http.StatusBadGateway, sentence(err.Error())
	case errors.Is(err, context.Canceled):
		return statusClientClosed, "The request was cancelled."
	}
	return http.StatusInternalServerError, "Internal error; the agent's log has the details under this request's id."
}

// ironicError is the inner object of Ironic's error body.
type ironicError struct {
	FaultCode   string  `json:"faultcode"`
	FaultString string  `json:"faultstring"`
	DebugInfo   *string `json:"debuginfo"`
}

// errorBody renders Ironic's error body: error_message is the JSON encoding,
// as a string, of the fault object.
func errorBody(status int, msg string) []byte {
	code := "Client"
	if status >= 500 {
		code = "Server"
	}
	inner, _ := json.Marshal(ironicError{FaultCode: code, FaultString: msg})
	body, _ := json.Marshal(map[string]string{"error_message": string(inner)})
	return body
}

// writeError answers a request with err. It is the only place that logs a
// 5xx: with the request's id, so that the client's message can be matched to
// the log line that holds the cause.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, msg := statusOf(err)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch {
	case status == statusClientClosed:
		log.Debug("request cancelled by the client", "method", r.Method, "path", r.URL.Path, "request_id", taskmanager.RequestID(r.Context()))
	case status >= 500:
		log.Error("request failed", "status", status, "method", r.Method, "path", r.URL.Path,
			"request_id", taskmanager.RequestID(r.Context()), "err", err)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(errorBody(status, msg))
}

// sentence makes msg read as Ironic's messages do: a capital first letter
// and a final full stop.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return msg
	}
	r, size := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[size:]
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") && !strings.HasSuffix(msg, "!") {
		msg += "."
	}
	return msg
}
