package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// field is one member of a resource's JSON form.
type field[T any] struct {
	name string
	// since is the microversion that introduced it; older requests do not
	// see it.
	since int
	// brief fields are the ones a listing without detail shows.
	brief bool
	get   func(x *T, c *view) any
}

// view is what rendering needs besides the resource: the requested version
// and the base URL of links.
type view struct {
	v    Version
	base string
	api  *API
	// owners finds the agent owning a node, for its conductor field.
	owners *owners
}

func (a *API) view(r *http.Request) *view {
	return &view{v: versionOf(r), base: a.baseURL(r), api: a,
		owners: &owners{ctx: r.Context(), db: a.db, timeout: a.cfg.HeartbeatTimeout}}
}

// baseURL is the public URL of the service, the prefix of every link.
func (a *API) baseURL(r *http.Request) string {
	if a.cfg.PublicURL != "" {
		return strings.TrimRight(a.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// render returns x's JSON object: the fields visible at the requested
// version, only those named in want when want is not nil, only the brief
// ones when brief is set.
func render[T any](x *T, fields []field[T], c *view, want []string, brief bool) map[string]any {
	out := make(map[string]any, len(fields))
	for i := range fields {
		f := &fields[i]
		if !c.v.atLeast(f.since) || (brief && !f.brief) {
			continue
		}
		if want != nil && !contains(want, f.name) {
			continue
		}
		out[f.name] = f.get(x, c)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseFields reads the fields query parameter (Ironic's ?fields=a,b): every
// name must be a field of the resource visible at the requested version.
func parseFields[T any](raw string, fields []field[T], v Version) ([]string, error) {
	if !v.atLeast(vFields) {
		return nil, notAcceptable("The fields parameter needs API version 1.%d or later (requested %s)", vFields, v)
	}
	var want, bad []string
	for _, name := range strings.Split(raw, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		f, ok := findField(fields, name)
		switch {
		case !ok:
			bad = append(bad, truncate(name, 64))
		case !v.atLeast(f.since):
			return nil, notAcceptable("The field %q needs API version 1.%d or later (requested %s)", name, f.since, v)
		default:
			want = append(want, name)
		}
	}
	if len(bad) > 0 {
		return nil, badRequest("Field(s) %q are not valid", strings.Join(bad, ","))
	}
	if want == nil {
		want = []string{}
	}
	return want, nil
}

func findField[T any](fields []field[T], name string) (field[T], bool) {
	for _, f := range fields {
		if f.name == name {
			return f, true
		}
	}
	return field[T]{}, false
}

// show answers with one resource, honouring ?fields.
func show[T any](w http.ResponseWriter, r *http.Request, c *view, status int, x *T, fields []field[T]) error {
	var want []string
	if raw := r.URL.Query().Get("fields"); raw != "" {
		var err error
		if want, err = parseFields(raw, fields, c.v); err != nil {
			return err
		}
	}
	return writeJSON(w, status, render(x, fields, c, withLinks(want), false))
}

// withLinks adds "links" to a ?fields selection: Ironic keeps a resource's
// links whatever the fields asked (ironic/api/controllers/v1/utils.py,
// sanitize_dict).
func withLinks(want []string) []string {
	if want == nil || contains(want, "links") {
		return want
	}
	return append(want[:len(want):len(want)], "links")
}

// link is Ironic's link object.
type link struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

// selfLinks are a resource's self and bookmark links.
func selfLinks(base, path string) []link {
	return []link{{Href: base + "/v1/" + path, Rel: "self"}, {Href: base + "/" + path, Rel: "bookmark"}}
}

// nullable shows an unset string as JSON null, as Ironic does.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeFormat is how Ironic writes times: ISO 8601 with microseconds and an
// explicit UTC offset.
const timeFormat = "2006-01-02T15:04:05.000000-07:00"

func jsonTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeFormat)
}

func jsonTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return jsonTime(*t)
}

// emptyIfNil shows a nil JSON object column as {}.
func emptyIfNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(b)
	if err != nil {
		// The client is gone; nothing more to tell it.
		return nil
	}
	return nil
}
