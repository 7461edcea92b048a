package simulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Query parameters of a GET (DSP0266 "Query parameters"): $expand (*, .
// and ~, with $levels up to maxExpandLevels), only, $top and $skip. Any
// other parameter starting with $ answers 501 QueryNotSupported; a malformed
// value of a supported one answers 400 QueryParameterValueFormatError;
// other parameters are ignored. excerpt, $select and $filter are not
// implemented: a mockup bundle's root that advertises them is corrected
// (ProtocolFeaturesSupported) so that clients do not rely on them.

// maxExpandLevels bounds $levels, as ProtocolFeaturesSupported.ExpandQuery
// MaxLevels says.
const maxExpandLevels = 6

// getQuery is a parsed query string.
type getQuery struct {
	expand    byte // 0 (none), '*', '.' or '~'
	levels    int
	only      bool
	top, skip int // -1 when absent
}

var expandRe = regexp.MustCompile(`^([.~*])(?:\(\$levels=(\d+)\))?$`)

func errQueryFormat(param, value string) error {
	return &httpError{status: http.StatusBadRequest, msgID: "QueryParameterValueFormatError",
		msg:  "The value '" + value + "' for the parameter " + param + " is of a different format than the parameter can accept.",
		args: []string{value, param}}
}

func errQueryNotSupported(param string) error {
	return &httpError{status: http.StatusNotImplemented, msgID: "QueryNotSupported",
		msg: "Querying is not supported by the implementation: " + param + ".", args: nil}
}

// parseQuery reads the parameters the simulator knows.
func parseQuery(raw string) (getQuery, error) {
	q := getQuery{top: -1, skip: -1}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, errQueryFormat("query", raw)
	}
	for k, vs := range vals {
		v := vs[0]
		switch k {
		case "$expand":
			m := expandRe.FindStringSubmatch(v)
			if m == nil {
				return q, errQueryFormat(k, v)
			}
			q.expand, q.levels = m[1][0], 1
			if m[2] != "" {
				n, err := strconv.Atoi(m[2])
				if err != nil || n < 1 || n > maxExpandLevels {
					return q, errQueryFormat(k, v)
				}
				q.levels = n
			}
		case "only":
			if v != "" {
				return q, errQueryFormat(k, v)
			}
			q.only = true
		case "$top", "$skip":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return q, errQueryFormat(k, v)
			}
			if k == "$top" {
				q.top = n
			} else {
				q.skip = n
			}
		default:
			if strings.HasPrefix(k, "$") {
				return q, errQueryNotSupported(k)
			}
		}
	}
	return q, nil
}

// writeQueried answers a GET with a query string.
func (h *handler) writeQueried(w http.ResponseWriter, r *http.Request, rt route) int {
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return h.writeError(w, err)
	}
	if rt.kind == kMetadata || rt.key == xmlKey {
		return h.writeResource(w, rt, http.StatusOK)
	}
	var jwr jw
	etag, ok := h.renderJSON(&jwr, rt)
	if !ok {
		return h.writeError(w, errNotFound)
	}
	if q.expand == 0 && !q.only && q.top < 0 && q.skip < 0 {
		return h.writeJSON(w, jwr.b, etag, http.StatusOK)
	}
	obj, err := decodeObject(jwr.b)
	if err != nil {
		return h.writeError(w, err)
	}
	if members, isColl := obj["Members"].([]any); isColl && q.only && len(members) == 1 {
		// only: a collection of one member answers with that member.
		if p := getStr(getObj(members[0]), "@odata.id"); p != "" {
			if sub, subTag, ok := h.fetchObject(p); ok {
				obj, etag = sub, subTag
			}
		}
	} else if isColl && (q.top >= 0 || q.skip >= 0) {
		pageMembers(obj, members, q, rt.path)
	}
	if q.expand != 0 {
		h.expand(obj, q.expand, q.levels)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return h.writeError(w, err)
	}
	return h.writeJSON(w, b, etag, http.StatusOK)
}

// pageMembers applies $skip and $top to a collection, with a nextLink when
// members are left.
func pageMembers(obj map[string]any, members []any, q getQuery, path string) {
	skip := max(q.skip, 0)
	if skip > len(members) {
		skip = len(members)
	}
	members = members[skip:]
	if q.top >= 0 && q.top < len(members) {
		members = members[:q.top]
		obj["Members@odata.nextLink"] = path + "?$skip=" + strconv.Itoa(skip+q.top) + "&$top=" + strconv.Itoa(q.top)
	}
	obj["Members"] = members
}

// fetchObject renders the resource at p as this client would GET it.
func (h *handler) fetchObject(p string) (map[string]any, string, bool) {
	if i := strings.IndexAny(p, "#?"); i >= 0 {
		p = p[:i]
	}
	rt := h.sim.model.resolve(h.scope, cleanPath(p))
	switch rt.kind {
	case kNotFound, kStaticMissing, kMetadata, kVersion:
		return nil, "", false
	}
	if rt.key == xmlKey || !strings.Contains(rt.kind.methods(), "GET") {
		return nil, "", false
	}
	var jwr jw
	etag, ok := h.renderJSON(&jwr, rt)
	if !ok {
		return nil, "", false
	}
	obj, err := decodeObject(bytes.TrimSpace(jwr.b))
	if err != nil {
		return nil, "", false
	}
	return obj, etag, true
}

// expand replaces references ({"@odata.id": ...} alone) with the resources
// they name, levels deep: '*' everywhere, '.' outside Links, '~' only in
// Links (DSP0266 "$expand").
func (h *handler) expand(v any, kind byte, levels int) {
	if levels < 1 {
		return
	}
	var walk func(v any, inLinks bool)
	expandOne := func(x any, inLinks bool) (any, bool) {
		ref, ok := x.(map[string]any)
		if !ok || len(ref) != 1 {
			return x, false
		}
		p, ok := ref["@odata.id"].(string)
		if !ok || (kind == '.' && inLinks) || (kind == '~' && !inLinks) {
			return x, false
		}
		sub, _, ok := h.fetchObject(p)
		if !ok {
			return x, false
		}
		h.expand(sub, kind, levels-1)
		return sub, true
	}
	walk = func(v any, inLinks bool) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if k == "@odata.id" {
					continue
				}
				sub := inLinks || k == "Links"
				if e, ok := expandOne(c, sub); ok {
					x[k] = e
					continue
				}
				walk(c, sub)
			}
		case []any:
			for i, c := range x {
				if e, ok := expandOne(c, inLinks); ok {
					x[i] = e
					continue
				}
				walk(c, inLinks)
			}
		}
	}
	walk(v, false)
}

// protocolFeatures writes the native service root's
// ProtocolFeaturesSupported: what parseQuery implements ($top/$skip too,
// but TopSkipQuery needs a newer ServiceRoot than v1_11_0).
func protocolFeatures(w *jw) {
	w.key("ProtocolFeaturesSupported")
	w.obj()
	w.key("ExpandQuery")
	w.obj()
	for _, k := range []string{"ExpandAll", "Levels", "Links", "NoLinks"} {
		w.key(k)
		w.bool(true)
	}
	w.key("MaxLevels")
	w.int(maxExpandLevels)
	w.end()
	w.key("OnlyMemberQuery")
	w.bool(true)
	for _, k := range []string{"ExcerptQuery", "SelectQuery", "FilterQuery"} {
		w.key(k)
		w.bool(false)
	}
	w.end()
}
