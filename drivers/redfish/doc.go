// Package redfish is the agent's Redfish driver: power, boot device and mode,
// NMI and virtual media over DMTF Redfish, written against gofish v0.20's
// resource model (package redfish of github.com/stmcginnis/gofish).
//
// A node's driver_info names its BMC with Ironic's keys (redfish_address,
// redfish_system_id, redfish_username, redfish_password, redfish_verify_ca,
// redfish_auth_type) plus redfish_timeout; redfish_address also takes the
// BMC URLs of Metal3 (redfish://host/redfish/v1/Systems/1 is HTTPS,
// redfish+http://, redfish+https://, redfish-virtualmedia://). Validate checks
// all of it at once without contacting the BMC; Check contacts it.
//
// The driver keeps one client per BMC, user and TLS settings, shared by every
// node and task that uses them: one HTTP transport (connections are reused),
// one session token (created on first use, renewed when the BMC answers 401,
// deleted by Close), and a semaphore bounding the requests in flight to that
// BMC. The client holds no caller's context: gofish resources are fetched
// through a per-operation common.Client (a call) that carries the
// operation's context, so each request is bounded by the caller's deadline
// and by the node's per-request timeout. Idle clients are logged out after
// Options.IdleTimeout.
//
// Failures are retried a bounded number of times (Options.MaxRetries) with
// jittered exponential backoff, honouring Retry-After:
//
//   - GET, PATCH, PUT and DELETE: after network errors, per-request timeouts
//     and 5xx answers;
//   - POST actions (Reset, InsertMedia) and session logins, which are not
//     idempotent: only when the BMC provably did not process the request:
//     the connection was refused or never carried the request, or the BMC
//     answered 503 Service Unavailable. A POST that may have reached the BMC
//     (reset connection, timeout, 500) is reported, not repeated;
//   - EjectMedia, which is idempotent: like a GET;
//   - 4xx answers: never (a 401 on a session only triggers one new login).
//
// Every error is a *drivers.DriverError naming the operation and the BMC (its
// address, never credentials), wrapping a drivers sentinel: ErrBMCAuth for
// 401/403, ErrBMCRejected for other 4xx and for requests the system's
// advertised allowable values rule out, ErrBMCFailed for 5xx after retries
// and unparseable answers, ErrBMCTimeout for timeouts, ErrBMCUnreachable for
// connection failures. What the BMC answered is kept in a *ResponseError.
// Passwords never appear in errors or logs.
package redfish
