package simulator

import (
	"errors"
	"net/http"
	"strings"
)

// registryPrefix prefixes DMTF Base message ids.
const registryPrefix = "Base.1.18."

// httpError is a condition of the Redfish face that has no meaning in the
// state model (bad credentials, unknown URI, stale ETag, malformed body).
type httpError struct {
	status int
	msgID  string // without the registry prefix
	msg    string
	args   []string
}

func (e *httpError) Error() string { return e.msg }

var (
	errUnauthorized = &httpError{status: http.StatusUnauthorized, msgID: "NoValidSession",
		msg: "There is no valid session established with the implementation."}
	errNotFound = &httpError{status: http.StatusNotFound, msgID: "ResourceMissingAtURI",
		msg: "The resource at the URI was not found."}
	errPrecondition = &httpError{status: http.StatusPreconditionFailed, msgID: "PreconditionFailed",
		msg: "The ETag supplied did not match the ETag required to change this resource."}
	errMalformedJSON = &httpError{status: http.StatusBadRequest, msgID: "MalformedJSON",
		msg: "The request body submitted was malformed JSON and could not be parsed by the receiving service."}
	errTooLarge = &httpError{status: http.StatusRequestEntityTooLarge, msgID: "GeneralError",
		msg: "The request body is too large."}
)

func errMethod(method string) error {
	return &httpError{status: http.StatusMethodNotAllowed, msgID: "OperationNotAllowed",
		msg: "The HTTP method " + method + " is not allowed on this resource.", args: []string{method}}
}

// errODataVersion refuses a request for an OData version other than 4.0.
func errODataVersion(value string) error {
	h := "OData-Version: " + value
	return &httpError{status: http.StatusPreconditionFailed, msgID: "HeaderInvalid",
		msg: "Header '" + h + "' is invalid.", args: []string{h}}
}

func errPropertyUnknown(name string) error {
	return &httpError{status: http.StatusBadRequest, msgID: "PropertyNotWritable",
		msg: "The property " + name + " is unknown or read-only.", args: []string{name}}
}

func errActionParamMissing(action, param string) error {
	return &httpError{status: http.StatusBadRequest, msgID: "ActionParameterMissing",
		msg:  "The action " + action + " requires the parameter " + param + " to be present in the request body.",
		args: []string{action, param}}
}

// redfishError turns any error into a status, a message id and its
// message: the one place where the state model's errors meet HTTP.
func redfishError(err error) (status int, msgID, msg string, args []string) {
	var he *httpError
	var ve *ValueError
	switch {
	case errors.Is(err, errTooManySessions):
		return http.StatusServiceUnavailable, "SessionLimitExceeded", "The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.", nil
	case errors.As(err, &he):
		return he.status, he.msgID, he.msg, he.args
	case errors.As(err, &ve):
		id := "PropertyValueNotInList"
		if ve.Property == "ResetType" {
			id = "ActionParameterValueNotInList"
		}
		return http.StatusBadRequest, id, ve.Error(), []string{ve.Value, ve.Property}
	case errors.Is(err, ErrMediaOccupied):
		return http.StatusConflict, "ResourceInUse", err.Error(), nil
	case errors.Is(err, ErrMissingValue):
		return http.StatusBadRequest, "PropertyMissing", err.Error(), nil
	case errors.Is(err, ErrUnknownDevice), errors.Is(err, ErrUnknownSystem):
		return http.StatusNotFound, "ResourceMissingAtURI", err.Error(), nil
	default:
		return http.StatusInternalServerError, "InternalError", err.Error(), nil
	}
}

// appendErrorBody renders the Redfish error body.
func appendErrorBody(b []byte, msgID, msg string, args []string) []byte {
	w := jw{b: b}
	w.obj()
	w.key("error")
	w.obj()
	w.kv("code", registryPrefix+"GeneralError")
	w.kv("message", "A general error has occurred. See ExtendedInfo for more information.")
	w.key("@Message.ExtendedInfo")
	w.arr()
	w.obj()
	w.kv("@odata.type", "#Message.v1_1_1.Message")
	if !strings.Contains(msgID, ".") { // vendor and quirk ids come whole
		msgID = registryPrefix + msgID
	}
	w.kv("MessageId", msgID)
	w.kv("Message", msg)
	w.key("MessageArgs")
	strs(&w, args)
	w.kv("MessageSeverity", "Warning")
	w.kv("Severity", "Warning")
	w.kv("Resolution", "See the message and retry with corrected input.")
	w.end()
	w.endArr()
	w.end()
	w.end()
	return w.b
}
