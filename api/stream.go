package api

import (
	"bufio"
	"encoding/json"
	"net/http"

	"github.com/bmc-agent/bmc-agent/store"
)

// A node listing is the one answer whose size grows with the inventory: a
// page of 1000 nodes of a few hundred KiB each, built whole in memory (the
// nodes, their rendered maps and the encoded body at once) and three times
// in parallel, took an agent to 4 GB. streamNodes bounds what one listing
// holds instead:
//
//   - it reads the page from the store listChunk nodes at a time (the
//     store's own paging, by marker), renders and writes each node, and
//     lets the chunk go before reading the next: with the field bounds
//     (maxFieldBytes) one chunk is at most about 15 MB;
//   - it ends a page early once the answer reached MaxListBytes, with the
//     "next" link of a short page, which clients follow as they follow
//     any page (a divergence only for pages that large);
//   - it writes to the connection as it goes, so a client that does not
//     read blocks the writer on the socket, and the server's write timeout
//     (bmc-agent serve --write-timeout) ends it.
const listChunk = 32

// DefaultMaxListBytes is Config.MaxListBytes's default.
const DefaultMaxListBytes = 8 << 20

// streamNodes answers a node listing (see above). f selects the nodes, l
// is the parsed request.
func (a *API) streamNodes(w http.ResponseWriter, r *http.Request, f store.NodeFilter, l listing) error {
	c := a.view(r)
	brief := !l.detail && l.fields == nil
	// As Ironic, a conductor filter applies to the page after it is read
	// (ironic/api/controllers/v1/node.py, _filter_by_conductor): the page
	// may come out shorter than the limit.
	conductor, byConductor := l.filters["conductor"]
	want := withLinks(l.fields)
	remaining, written, last := l.limit, 0, ""
	var bw *bufio.Writer
	start := func() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		bw = bufio.NewWriterSize(w, 32<<10)
		bw.WriteString(`{"nodes":[`)
	}
	short := false
	for remaining > 0 && !short {
		page := l.page
		page.Limit = min(listChunk, remaining)
		if last != "" {
			page.Marker = last
		}
		f.Page = page
		nodes, err := a.db.Nodes(r.Context(), f)
		if err != nil {
			if bw == nil {
				return err
			}
			// The status is out: all that can tell the client is a
			// cut connection.
			a.log.Error("node listing cut short", "err", err)
			panic(http.ErrAbortHandler)
		}
		for i, n := range nodes {
			last = n.UUID
			remaining--
			nodes[i] = nil
			if byConductor && c.conductor(n) != conductor {
				continue
			}
			b, err := json.Marshal(render(n, a.nodes, c, want, brief))
			if err != nil {
				return err
			}
			if bw == nil {
				start()
			} else {
				bw.WriteByte(',')
			}
			if _, err := bw.Write(b); err != nil {
				return nil // the client is gone
			}
			written += len(b)
			if written >= a.cfg.MaxListBytes && remaining > 0 {
				short = true
				break
			}
		}
		if len(nodes) < page.Limit {
			break // the end of the collection
		}
	}
	if bw == nil {
		start()
	}
	bw.WriteByte(']')
	if last != "" && (remaining == 0 || short) {
		u := nextURL(r, c, l.limit, last)
		next, _ := json.Marshal(u)
		links, _ := json.Marshal([]link{{Href: u, Rel: "next"}})
		bw.WriteString(`,"next":`)
		bw.Write(next)
		bw.WriteString(`,"nodes_links":`)
		bw.Write(links)
	}
	bw.WriteByte('}')
	bw.Flush()
	return nil
}
