package api

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/bmc-agent/bmc-agent/store"
)

// listing is a parsed collection request: paging, field selection, detail
// and the resource's own filters.
type listing struct {
	page store.Page
	// limit is the page size in force (the requested one capped, or the
	// maximum).
	limit int
	// fields is nil unless the client asked for a subset.
	fields []string
	detail bool
	// filters holds the resource's own query parameters that were given.
	filters map[string]string
}

// listOptions says what a collection accepts besides paging.
type listOptions[T any] struct {
	fields []field[T]
	// filters maps the resource's filter parameters to the microversion
	// that introduced them.
	filters map[string]int
	// detail is set for the .../detail form of the collection.
	detail bool
	// nameMarker accepts any marker (a conductor's hostname), not only a
	// UUID.
	nameMarker bool
	// detailSince is the version from which ?detail is accepted: 1.43
	// (Ironic's allow_detail_query) unless set; volume resources accept it
	// from 1.32, their first version (volume_connector.py does not check).
	detailSince int
}

// parseListing reads limit, marker, sort_key, sort_dir, fields, detail and
// the resource's filters; anything else is refused, as Ironic refuses an
// unknown argument.
func parseListing[T any](r *http.Request, maxLimit int, o listOptions[T]) (listing, error) {
	v := versionOf(r)
	l := listing{limit: maxLimit, detail: o.detail, filters: map[string]string{}}
	q := r.URL.Query()
	for _, k := range sortedKeys(q) {
		val := q.Get(k)
		switch k {
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil {
				return l, badRequest("Invalid value for limit: %q is not an integer", truncate(val, 32))
			}
			if n <= 0 {
				return l, badRequest("Limit must be positive, got %d", n)
			}
			l.limit = min(n, maxLimit)
		case "marker":
			if !o.nameMarker && !store.IsUUID(val) {
				return l, badRequest("Invalid marker %q: expected the UUID of the last item of the previous page", truncate(val, 64))
			}
			l.page.Marker = val
		case "sort_key":
			l.page.SortKey = val
		case "sort_dir":
			switch strings.ToLower(val) {
			case "asc":
			case "desc":
				l.page.Desc = true
			default:
				return l, badRequest("Invalid sort direction: %q. Acceptable values are 'asc' or 'desc'", truncate(val, 32))
			}
		case "fields":
			f, err := parseFields(val, o.fields, v)
			if err != nil {
				return l, err
			}
			l.fields = f
		case "detail":
			since := vDetailQuery
			if o.detailSince > 0 {
				since = o.detailSince
			}
			if !v.atLeast(since) {
				// ironic/api/controllers/v1/utils.py, get_request_return_fields.
				return l, badRequest("Invalid query parameter ?detail=%s received.", truncate(val, 32))
			}
			b, ok := parseBool(val)
			if !ok {
				return l, badRequest("Invalid value for detail: %q is not a boolean", truncate(val, 32))
			}
			if o.detail && !b {
				return l, badRequest("The detail parameter cannot be false on a /detail collection")
			}
			l.detail = b
		default:
			since, ok := o.filters[k]
			if !ok {
				return l, badRequest("Unknown argument: %q", truncate(k, 64))
			}
			if !v.atLeast(since) {
				return l, notAcceptable("The %s filter needs API version 1.%d or later (requested %s)", k, since, v)
			}
			l.filters[k] = val
		}
	}
	if l.fields != nil && l.detail {
		return l, badRequest("Can not specify ?detail=True and fields in the same request")
	}
	l.page.Limit = l.limit
	return l, nil
}

func sortedKeys(q url.Values) []string {
	// Sorted, so that the first mistake reported does not depend on map order.
	return slices.Sorted(maps.Keys(q))
}

// collection renders a page of items as Ironic does: {"<name>": [...]},
// with "next", the URL of the following page, when the page is full. It
// also carries "<name>_links" with a rel=next link, the form gophercloud's
// pager follows (an addition; Ironic's clients ignore it).
func collection[T any](r *http.Request, c *view, name string, items []*T, uuid func(*T) string, l listing, fields []field[T]) map[string]any {
	out := make([]map[string]any, 0, len(items))
	brief := !l.detail && l.fields == nil
	want := withLinks(l.fields)
	for _, x := range items {
		out = append(out, render(x, fields, c, want, brief))
	}
	body := map[string]any{name: out}
	if len(items) > 0 && len(items) == l.limit {
		next := nextURL(r, c, l.limit, uuid(items[len(items)-1]))
		body["next"] = next
		body[name+"_links"] = []link{{Href: next, Rel: "next"}}
	}
	return body
}

// nextURL is the URL of the page after marker: the request's own query
// with its limit and marker replaced.
func nextURL(r *http.Request, c *view, limit int, marker string) string {
	q := r.URL.Query()
	q.Del("limit")
	q.Del("marker")
	next := c.base + r.URL.Path + "?"
	if enc := q.Encode(); enc != "" {
		next += enc + "&"
	}
	return next + "limit=" + strconv.Itoa(limit) + "&marker=" + url.QueryEscape(marker)
}
