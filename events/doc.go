// Package events is the agent's side of Redfish push events: a listener
// that BMCs post their events to, and a reconciler that keeps one event
// subscription per node on the BMCs of the nodes this agent owns.
//
// # Subscriptions
//
// For every node this agent owns (the power sync's ownership: the same
// ring, the same nodes) whose driver is an [drivers.EventSubscriber], the
// [Reconciler] makes sure the node's BMC holds exactly one subscription of
// this agent's: Destination the listener's URL for the node
// (<url>/events/<node uuid>), Context naming the agent, the node and the key
// the secret came from ("bmc-agent/<agent>/<node>/<key id>"), and
// HttpHeaders carrying the node's secret in [TokenHeader]. It recognises its
// own by that Context and never touches a subscription whose Context does
// not name this agent. One of its own that points elsewhere (another event
// URL), carries a secret of another key, or that the BMC suspended after
// failed deliveries is deleted and replaced; a missing one (a BMC reset or a
// firmware update lost it) is created again at the next pass. When a node
// leaves the agent's ownership or is deleted, or the agent shuts down, its
// subscriptions are deleted. [Reconciler.Nodes] does a pass's work for a
// few nodes now (nodes the agent has just come to own) rather than at the
// next pass.
//
// A pass costs each BMC one GET in the steady state: the subscription the
// last pass kept or made, read by its URI. Only on the first pass after a
// start, or when that one is gone or wrong, does it list them all (service
// root, EventService, Subscriptions, one GET per subscription) and then POST
// or DELETE what needs it. At the default interval of five minutes that is a
// request every five minutes per BMC, far below what the power sync costs,
// and a lost subscription is back within one interval. Meanwhile the power
// sync is the source of truth: events only make it faster.
//
// # Secrets
//
// A node's secret is HMAC-SHA256(key, agent id, node uuid) of a 32-byte key
// kept in a file ([LoadKey]; created with mode 0600 on first start). So it
// survives a restart: after a crash (no shutdown to delete them) the
// subscriptions left on the BMCs still carry a valid secret and are kept, and
// no event is refused. With a new key file the key id in the Context differs
// and the reconciler replaces every subscription of the agent's. The secret
// and the key are never logged.
//
// # Listener
//
// [Listener] answers POST /events/{node}. It checks the node's secret in
// [TokenHeader] in constant time before reading the body (401 without it or
// with a wrong one: nothing is read from any BMC), bounds the body (413),
// refuses what is not a Redfish Event (400), and for a power or health
// event (DMTF ResourceEvent registry: ResourcePowerStateChanged,
// ResourceStatusChanged*, ResourceStateChanged) asks its [Refresher] to read
// the node now. Reads are coalesced: a node has at most one read running and
// one queued, however many events arrive meanwhile, and a bounded number of
// workers serve all nodes. Other events are accepted (204) and ignored.
package events
