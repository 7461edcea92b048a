package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// patchOp is one operation of a JSON Patch (RFC 6902) as Ironic accepts it:
// add, replace or remove, with a path and, except for remove, a value.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// patchRules say which top-level members of a resource a patch may touch.
type patchRules struct {
	kind string
	// v is the requested microversion.
	v Version
	// since maps the members a client may change to the microversion that
	// introduced them.
	since map[string]int
	// internal are members the client sees but the agent alone changes.
	internal map[string]bool
}

// rulesFor derives the patch rules of a resource from its inputs.
func rulesFor[T any](kind string, v Version, inputs []input[T], internal map[string]bool) patchRules {
	since := make(map[string]int, len(inputs))
	for _, in := range inputs {
		since[in.name] = in.since
	}
	return patchRules{kind: kind, v: v, since: since, internal: internal}
}

// parsePatch checks a JSON Patch against the rules: a JSON array of
// operations, each one add, replace or remove with nothing but op, path and
// value, on a path whose first segment is a member the client may change.
func parsePatch(body []byte, rules patchRules) ([]patchOp, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '[' {
		return nil, badRequest("The request body must be a JSON Patch: a JSON array of operations")
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, badRequest("Malformed JSON Patch: %s", jsonProblem(err))
	}
	ops := make([]patchOp, 0, len(raw))
	for i, m := range raw {
		if m == nil {
			return nil, badRequest("Patch operation %d is not a JSON object", i)
		}
		for _, k := range object(m).keys() {
			if k != "op" && k != "path" && k != "value" {
				return nil, badRequest("Unknown field %q in patch operation %d", truncate(k, 64), i)
			}
		}
		var op patchOp
		var err error
		if op.Op, err = decodeString(m["op"], "op"); err != nil {
			return nil, err
		}
		if op.Path, err = decodeString(m["path"], "path"); err != nil {
			return nil, err
		}
		switch op.Op {
		case "add", "replace":
			v, ok := m["value"]
			if !ok {
				return nil, badRequest("Patch operation %d (%s %s) has no value", i, op.Op, truncate(op.Path, 64))
			}
			op.Value = v
		case "remove":
		case "":
			return nil, badRequest("Patch operation %d has no op", i)
		default:
			return nil, badRequest("Invalid patch operation %q: only add, replace and remove are supported", truncate(op.Op, 16))
		}
		if err := rules.checkPath(op.Path); err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// checkPath refuses a path outside the members a client may change.
func (rules patchRules) checkPath(path string) error {
	if !strings.HasPrefix(path, "/") || path == "/" {
		return badRequest("Invalid patch path %q: it must name a field, like /name", truncate(path, 64))
	}
	top, _, _ := strings.Cut(path[1:], "/")
	top = strings.NewReplacer("~1", "/", "~0", "~").Replace(top)
	since, ok := rules.since[top]
	switch {
	case ok && !rules.v.atLeast(since):
		return notAcceptable("The field %q of a %s needs API version 1.%d or later (requested %s)", top, rules.kind, since, rules.v)
	case ok:
		return nil
	case rules.internal[top]:
		return badRequest("'/%s' is an internal attribute and can not be updated", top)
	}
	return badRequest("Unknown field %q in the patch of a %s: it cannot be updated", "/"+truncate(top, 64), rules.kind)
}

// applyPatch applies ops to doc, the JSON object of the members a client may
// change, and returns the patched members.
func applyPatch(doc map[string]any, ops []patchOp) (object, error) {
	in, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	pb, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch.DecodePatch(pb)
	if err != nil {
		return nil, badRequest("Invalid JSON Patch: %v", err)
	}
	out, err := p.Apply(in)
	if err != nil {
		return nil, badRequest("Cannot apply the patch: %s", patchProblem(err))
	}
	var o object
	if err := json.Unmarshal(out, &o); err != nil || o == nil {
		return nil, badRequest("The patch does not leave a JSON object")
	}
	return o, nil
}

// patchProblem describes a failed patch without the document's values.
func patchProblem(err error) string {
	msg := err.Error()
	// The library's messages name the operation and the path; cut anything
	// after a newline to keep the answer to one sentence.
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Sprint(truncate(msg, 300))
}
