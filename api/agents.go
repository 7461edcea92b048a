package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/bmc-agent/bmc-agent/store"
)

// conductorFields is an agent as GET /v1/conductors shows it: Ironic's
// conductor, whose hostname is the agent's id (the holder named in a node's
// reservation).
func (a *API) conductorFields() []field[store.Agent] {
	type A = store.Agent
	return []field[A]{
		{"hostname", 1, true, func(x *A, _ *view) any { return x.ID }},
		{"conductor_group", 1, true, func(x *A, _ *view) any { return x.Group }},
		{"alive", 1, true, func(x *A, _ *view) any { return x.Alive }},
		{"links", 1, true, func(x *A, c *view) any { return selfLinks(c.base, "conductors/"+url.PathEscape(x.ID)) }},
		{"drivers", 1, false, func(x *A, _ *view) any {
			// Only this agent's drivers are known; another agent's are not
			// recorded anywhere.
			if x.ID == a.tm.AgentID() {
				return a.cfg.Drivers.Names()
			}
			return nil
		}},
		{"created_at", 1, false, func(x *A, _ *view) any { return jsonTime(x.StartedAt) }},
		{"updated_at", 1, false, func(x *A, _ *view) any { return jsonTime(x.LastHeartbeat) }},
	}
}

// agents lists the registered agents with their liveness.
func (a *API) agents(r *http.Request) ([]*store.Agent, error) {
	all, err := a.db.Agents(r.Context(), a.cfg.HeartbeatTimeout)
	if err != nil {
		return nil, err
	}
	out := make([]*store.Agent, len(all))
	for i := range all {
		out[i] = &all[i]
	}
	return out, nil
}

// listConductors is GET /v1/conductors: every registered agent, alive or
// not (as Ironic lists conductors until they unregister), paged by hostname.
func (a *API) listConductors(w http.ResponseWriter, r *http.Request) error {
	l, err := parseListing(r, a.cfg.MaxLimit, listOptions[store.Agent]{fields: a.conductors, nameMarker: true})
	if err != nil {
		return err
	}
	all, err := a.agents(r)
	if err != nil {
		return err
	}
	key := l.page.SortKey
	switch key {
	case "", "hostname", "id":
		key = "hostname"
	case "conductor_group", "alive", "created_at", "updated_at":
	default:
		return badRequest("The sort_key value %q is an invalid field for sorting conductors", truncate(key, 32))
	}
	slices.SortStableFunc(all, func(x, y *store.Agent) int {
		c := 0
		switch key {
		case "conductor_group":
			c = strings.Compare(x.Group, y.Group)
		case "alive":
			c = boolCompare(x.Alive, y.Alive)
		case "created_at":
			c = x.StartedAt.Compare(y.StartedAt)
		case "updated_at":
			c = x.LastHeartbeat.Compare(y.LastHeartbeat)
		}
		if c == 0 {
			c = strings.Compare(x.ID, y.ID)
		}
		if l.page.Desc {
			c = -c
		}
		return c
	})
	if l.page.Marker != "" {
		i := slices.IndexFunc(all, func(x *store.Agent) bool { return x.ID == l.page.Marker })
		if i < 0 {
			return newError(http.StatusNotFound, "Conductor %s could not be found", truncate(l.page.Marker, 64))
		}
		all = all[i+1:]
	}
	if len(all) > l.limit {
		all = all[:l.limit]
	}
	return writeJSON(w, http.StatusOK, collection(r, a.view(r), "conductors", all, func(x *store.Agent) string { return x.ID }, l, a.conductors))
}

func boolCompare(x, y bool) int {
	switch {
	case x == y:
		return 0
	case !x:
		return -1
	}
	return 1
}

// getConductor is GET /v1/conductors/{hostname}.
func (a *API) getConductor(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, "fields"); err != nil {
		return err
	}
	all, err := a.agents(r)
	if err != nil {
		return err
	}
	name := r.PathValue("hostname")
	i := slices.IndexFunc(all, func(x *store.Agent) bool { return x.ID == name })
	if i < 0 {
		return newError(http.StatusNotFound, "Conductor %s could not be found", truncate(name, 64))
	}
	return show(w, r, a.view(r), http.StatusOK, all[i], a.conductors)
}
