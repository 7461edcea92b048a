// Package api serves the subset of the OpenStack Ironic bare metal API (v1)
// that the agent implements, so that existing clients (gophercloud's
// baremetal/v1, openstacksdk and the baremetal CLI, Metal3's tooling) work
// with it unchanged.
//
// The package talks to the inventory (store.Store) for plain CRUD and to
// drivers only through taskmanager Tasks: every action that touches a BMC
// acquires the node (exclusive for changes, shared for reads), and
// asynchronous actions (power, provisioning, boot mode) record their target on
// the node, spawn their work on the task manager's bounded worker pool and
// record the outcome (power_state, provision_state, last_error) when it ends.
//
// Versioning follows Ironic's microversions: every /v1 response carries the
// minimum and maximum versions, a request may ask for a version with
// X-OpenStack-Ironic-API-Version (or OpenStack-API-Version: baremetal X.Y, or
// "latest"), a request without one is served as the minimum version, as
// Ironic does, and a version outside the range is refused with 406. Fields and
// endpoints introduced after the requested version are hidden (404 for an
// endpoint, 406 for a field), as in Ironic. MaxVersion explains the choice of
// the maximum.
//
// Errors have Ironic's shape: a JSON object whose error_message is itself a
// JSON-encoded {"faultcode", "faultstring", "debuginfo"}. One function,
// statusOf, maps every error (the package's own *Error and the typed errors
// of store, lock, taskmanager and drivers) to a status code and message, and
// writeError is the only place that logs a 5xx.
//
// New builds the API handler. The middlewares RequestID, Authenticate (HTTP
// Basic against a bcrypt htpasswd file) are exported for the program to wrap
// around everything it serves; the API handler limits request bodies itself.
package api
