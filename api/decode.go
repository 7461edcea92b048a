package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// object is a JSON object decoded one member at a time, so that every
// mistake names its field.
type object map[string]json.RawMessage

// readObject reads a request body that must be one JSON object. A body over
// the size limit surfaces as *http.MaxBytesError (413).
func readObject(r *http.Request) (object, error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return parseObject(b)
}

// readBody reads a request body; one over the size limit is an
// *http.MaxBytesError (413).
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, err
		}
		return nil, badRequest("Cannot read the request body: %v", err)
	}
	if err := checkBodyNUL(b); err != nil {
		return nil, err
	}
	return b, nil
}

// nulEscape is how JSON writes a NUL character; a raw NUL byte is not
// valid JSON at all.
var nulEscape = []byte(`\u0000`)

// checkBodyNUL refuses a JSON body with a NUL character in any string or
// key: no field can hold one, and PostgreSQL refuses it in text (SQLSTATE
// 22021), which would surface as a 500. It is the one check of the body
// for it, where every body is read; only a body that holds the escape at
// all is decoded to find it (an escaped backslash before "u0000" is not
// one).
func checkBodyNUL(b []byte) error {
	if !bytes.Contains(b, nulEscape) {
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil // the body's own parser reports the syntax error
	}
	if hasNUL(v) {
		return badRequest("The request body holds a NUL character (\\u0000) in a string; no field accepts one")
	}
	return nil
}

func hasNUL(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.IndexByte(t, 0) >= 0
	case map[string]any:
		for k, x := range t {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(x) {
				return true
			}
		}
	case []any:
		for _, x := range t {
			if hasNUL(x) {
				return true
			}
		}
	}
	return false
}

// checkURL refuses, for every request, a path or a query with a NUL byte
// (400 on both databases, rather than a 500 from PostgreSQL), and a query
// string that does not parse (?a=1;b=2, ?%zz=1): net/url's lenient
// Query() drops the parts it cannot read, so a filter would be silently
// ignored and a list would answer with everything.
func checkURL(u *url.URL) error {
	if strings.IndexByte(u.Path, 0) >= 0 {
		return badRequest("The request path holds a NUL byte")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return badRequest("Malformed query string: %s", truncate(err.Error(), 96))
	}
	for k, vs := range q {
		if strings.IndexByte(k, 0) >= 0 {
			return badRequest("The query holds a NUL byte")
		}
		for _, v := range vs {
			if strings.IndexByte(v, 0) >= 0 {
				return badRequest("The query argument %q holds a NUL byte", truncate(k, 64))
			}
		}
	}
	return nil
}

// parseObject decodes b as one JSON object.
func parseObject(b []byte) (object, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, badRequest("The request body is empty; a JSON object is required")
	}
	if !utf8.Valid(b) {
		return nil, badRequest("The request body is not valid UTF-8")
	}
	if b[0] != '{' {
		return nil, badRequest("The request body must be a JSON object")
	}
	var o object
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, badRequest("Malformed JSON in the request body: %s", jsonProblem(err))
	}
	if o == nil {
		o = object{}
	}
	return o, nil
}

// jsonProblem describes a JSON syntax error without echoing the body.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%s at byte %d", syn.Error(), syn.Offset)
	}
	return err.Error()
}

// keys returns the object's members in sorted order, so that the first
// mistake reported does not depend on map order.
func (o object) keys() []string {
	ks := make([]string, 0, len(o))
	for k := range o {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// input is one field a client may send for a resource of type T.
type input[T any] struct {
	name string
	// since is the microversion that introduced the field.
	since int
	// set decodes raw into x; null means the field's unset value.
	set func(x *T, raw json.RawMessage) error
}

// applyInputs decodes every member of o into x with the matching input. A
// member no input knows is refused with 400 naming it (readOnly names fields
// the client may see but not set), a field newer than v with 406. Members are
// checked in sorted order and applied in the order of inputs, so that a
// field may depend on one listed before it (an interface name on the driver).
func applyInputs[T any](x *T, o object, inputs []input[T], readOnly map[string]bool, kind string, v Version) error {
	for _, k := range o.keys() {
		in, ok := findInput(inputs, k)
		switch {
		case !ok && readOnly[k]:
			return badRequest("The field %q of a %s is read-only", k, kind)
		case !ok:
			return badRequest("Unknown field %q in the %s", truncate(k, 64), kind)
		case !v.atLeast(in.since):
			return notAcceptable("The field %q of a %s needs API version 1.%d or later (requested %s)", k, kind, in.since, v)
		}
	}
	for _, in := range inputs {
		if raw, ok := o[in.name]; ok {
			if err := in.set(x, raw); err != nil {
				return err
			}
		}
	}
	return nil
}

func findInput[T any](inputs []input[T], name string) (input[T], bool) {
	for _, in := range inputs {
		if in.name == name {
			return in, true
		}
	}
	return input[T]{}, false
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null" }

// decodeString decodes a string field; null is "".
func decodeString(raw json.RawMessage, name string) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badRequest("Invalid type for field %q: expected a string", name)
	}
	return s, nil
}

// decodeBool decodes a boolean field. Like Ironic it also accepts the
// strings "true"/"false" (and 1/0, yes/no, on/off), which clients send in
// JSON patches.
func decodeBool(raw json.RawMessage, name string) (bool, error) {
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil && !isNull(raw) {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if b, ok := parseBool(s); ok {
			return b, nil
		}
	}
	return false, badRequest("Invalid type for field %q: expected a boolean", name)
}

// parseBool reads the spellings of a boolean Ironic accepts.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on", "y", "t":
		return true, true
	case "false", "0", "no", "off", "n", "f":
		return false, true
	}
	return false, false
}

// decodeInt decodes an integer field (a JSON number without a fraction, or
// a string holding one).
func decodeInt(raw json.RawMessage, name string) (int, error) {
	var f json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&f); err == nil {
		if i, err := strconv.Atoi(f.String()); err == nil {
			return i, nil
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if i, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			return i, nil
		}
	}
	return 0, badRequest("Invalid type for field %q: expected an integer", name)
}

// Size bounds of the JSON object fields, measured compacted. Ironic keeps
// extra, properties and driver_info in oslo.db JsonEncodedDict columns, a
// TEXT of at most 65535 bytes on MySQL, and instance_info in a LONGTEXT
// (ironic/db/sqlalchemy/alembic/versions/e918ff30eb42_resize_column_nodes_instance_info.py):
// the agent keeps Ironic's TEXT bound for every object field but
// instance_info, which gets 256 KiB, a bound of the agent's own (Ironic's
// is 4 GiB). With them a node is at most about 450 KiB, which bounds what a
// listing holds in memory (see streamNodes).
const (
	maxObjectBytes       = 65535
	maxInstanceInfoBytes = 256 << 10
)

// maxFieldBytes is the size bound of the JSON object field name.
func maxFieldBytes(name string) int {
	if name == "instance_info" {
		return maxInstanceInfoBytes
	}
	return maxObjectBytes
}

// decodeMap decodes a JSON object field; null is an empty object. One
// larger than its bound (maxFieldBytes) is refused.
func decodeMap(raw json.RawMessage, name string) (map[string]any, error) {
	if isNull(raw) {
		return map[string]any{}, nil
	}
	if limit := maxFieldBytes(name); len(raw) > limit {
		var c bytes.Buffer
		if json.Compact(&c, raw) == nil && c.Len() > limit {
			return nil, badRequest("The field %q is %d bytes of JSON, more than the %d it may hold", name, c.Len(), limit)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, badRequest("Invalid type for field %q: expected a JSON object", name)
	}
	return m, nil
}

// unsupported is an input for a field of Ironic's that the agent shows with
// its unset value and cannot keep anything else in: null and the unset
// value are accepted, anything else is refused.
func unsupported[T any](name string, since int, unset any) input[T] {
	return input[T]{name: name, since: since, set: func(_ *T, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		var v any
		if err := json.Unmarshal(raw, &v); err == nil && jsonEqual(v, unset) {
			return nil
		}
		return badRequest("The field %q is not supported by bmc-agent; it can only be %s", name, describe(unset))
	}}
}

// fixed is an input for a field whose value the agent decides (e.g. an
// interface name): a client may send null or that value, nothing else.
func fixed[T any](name string, since int, value func(*T) any) input[T] {
	return input[T]{name: name, since: since, set: func(x *T, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		want := value(x)
		var v any
		if err := json.Unmarshal(raw, &v); err == nil && jsonEqual(v, want) {
			return nil
		}
		return badRequest("The field %q can only be %s with this node's driver in bmc-agent", name, describe(want))
	}}
}

func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func describe(v any) string {
	if v == nil {
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
