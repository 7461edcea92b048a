package redfish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
)

// This file is every BMC behaviour beyond the Redfish standard that the
// driver knows, as one table: "when the BMC answers X to request Y, do Z".
// Each entry is learned from the answer at run time, never from a vendor
// name, so a BMC of any make that answers the same way gets the same
// treatment. The request paths (power.go, boot.go, media.go) ask react()
// what an error answer means and never test a status or message id
// themselves. docs/drivers.md lists the same behaviours for readers, with
// the hardware-support table the matrix test writes.

// site is the kind of request an answer is to.
type site uint8

// The requests that have behaviours.
const (
	siteReset  site = iota + 1 // POST ComputerSystem.Reset
	siteBoot                   // PATCH of the System's Boot object
	siteInsert                 // POST VirtualMedia.InsertMedia
	siteEject                  // POST VirtualMedia.EjectMedia
	sitePatch                  // any PATCH carrying (or not) If-Match
	siteLogin                  // POST to the session collection
)

// reaction is what the driver does about an answer.
type reaction uint8

// The reactions.
const (
	// retryLater: the BMC is settling; the same request is sent again
	// after a pause, within the operation's deadline (the power timeout
	// for resets and boot changes, the call's context otherwise).
	retryLater reaction = iota + 1
	// fullBoot: the boot PATCH is sent again carrying
	// BootSourceOverrideTarget, BootSourceOverrideEnabled and
	// BootSourceOverrideMode together.
	fullBoot
	// viaSettings: the Boot PATCH goes to the System's @Redfish.Settings
	// resource, applied at the next reset.
	viaSettings
	// sendIfMatch: the PATCH is sent again with If-Match of the ETag just
	// read.
	sendIfMatch
	// strongETag: a weak ETag (W/"x") is sent again as strong ("x"), and if
	// that fails too, without If-Match.
	strongETag
	// insertBare: InsertMedia is sent again with Image only (no Inserted,
	// no WriteProtected).
	insertBare
)

// behaviour is one entry of the table.
type behaviour struct {
	// Name is how logs, tests and docs/drivers.md name it.
	Name string
	// At is the request it concerns.
	At site
	// When matches the BMC's answer.
	When func(*ResponseError) bool
	// Do is the reaction.
	Do reaction
	// Source is the public record of the behaviour.
	Source string
}

// behaviours is the table. The first entry that matches an answer wins.
var behaviours = []behaviour{
	{
		Name: "reset-conflict-while-settling", At: siteReset, Do: retryLater,
		When:   func(e *ResponseError) bool { return e.Status == http.StatusConflict },
		Source: "Ironic release note redfish-power-on-conflict-retry (iDRAC 10: 409 ActionParameterValueConflict for On while the BMC settles after a power-off)",
	},
	{
		Name: "reset-invalid-for-system-state", At: siteReset, Do: retryLater,
		When: func(e *ResponseError) bool {
			return e.Status == http.StatusBadRequest && idIs(e, "InvalidOperationForSystemState")
		},
		Source: "sushy commit eee778a \"Retry on ilo state error\" (connector.py: iLO 400 InvalidOperationForSystemState during a power transition)",
	},
	{
		Name: "boot-refused-during-post", At: siteBoot, Do: retryLater,
		When: func(e *ResponseError) bool {
			return e.Status == http.StatusBadRequest && idIs(e, "UnableToModifyDuringSystemPOST")
		},
		Source: "Ironic release note redfish-post-boot-retry (bug 2136275: iLO refuses boot changes during POST)",
	},
	{
		Name: "boot-not-writable-use-settings", At: siteBoot, Do: viaSettings,
		When: func(e *ResponseError) bool {
			return e.Status == http.StatusBadRequest && idIs(e, "PropertyNotWritable")
		},
		Source: "sushy release notes check-for-boot-attrs-in-settingsuri and idrac10-settings-resource (iDRAC 10: Boot is PATCHed on @Redfish.Settings)",
	},
	{
		Name: "boot-needs-full-payload", At: siteBoot, Do: fullBoot,
		When: func(e *ResponseError) bool {
			return e.Status == http.StatusBadRequest && (idIs(e, "PropertyMissing") || strings.Contains(e.Message, "BootSourceOverride"))
		},
		Source: "Ironic release notes redfish-full-boot-payload-asrockrack and fix-redfish-boot-device-full-request (AMI, ASRock Rack, Gigabyte want target, enabled and mode together)",
	},
	{
		Name: "precondition-required", At: sitePatch, Do: sendIfMatch,
		When:   func(e *ResponseError) bool { return e.Status == http.StatusPreconditionRequired },
		Source: "ansible/ansible PR 56150 (issue 56050: Lenovo XCC answers 428 Precondition Required to a PATCH without If-Match)",
	},
	{
		Name: "weak-etag-refused", At: sitePatch, Do: strongETag,
		When:   func(e *ResponseError) bool { return e.Status == http.StatusPreconditionFailed },
		Source: "sushy change \"Retry with strong ETag\" (releasenote-d7138d1e) and ansible-collections/community.general PR 6434 (AMI/Gigabyte send weak ETags but refuse them in If-Match)",
	},
	{
		Name: "insert-refuses-flags", At: siteInsert, Do: insertBare,
		When: func(e *ResponseError) bool {
			return e.Status == http.StatusBadRequest && (idIs(e, "ActionParameterNotSupported") ||
				strings.Contains(e.Message, "Inserted") || strings.Contains(e.Message, "WriteProtected"))
		},
		Source: "sushy release note fix-insert-media-payload (Supermicro X11/X12 refuse Inserted and WriteProtected in InsertMedia)",
	},
	{
		Name: "session-limit-reached", At: siteLogin, Do: retryLater,
		When:   func(e *ResponseError) bool { return e.Status == http.StatusServiceUnavailable },
		Source: "Dell iDRAC \"RAC0218: The maximum number of user sessions is reached.\" (a 503 to a login; sessions end as others log out)",
	},
}

// Behaviours that are not reactions to one error answer, named here so that
// the table above and docs/drivers.md list everything the driver does
// beyond the standard. Each is implemented where it is named.
const (
	// behaviourResetActionInfo: reset types read from the
	// @Redfish.ActionInfo resource when the action lists none inline
	// (OpenBMC bmcweb, Supermicro X12/X13; system.go resetTypes).
	behaviourResetActionInfo = "reset-types-from-actioninfo"
	// behaviourStalePower: a power state that still reads the old value
	// after an accepted reset is polled until it changes or the power
	// timeout passes (Ironic release note catch-redfish-409; power.go).
	behaviourStalePower = "stale-power-state-re-read"
	// behaviourEnabledReverted: the minimal boot PATCH applied, but the
	// read-back shows a field it did not carry moved (Supermicro sets
	// BootSourceOverrideEnabled to Once): the full payload is sent (Ironic
	// release note supermicro-redfish-override-enabled; bootset.go).
	behaviourEnabledReverted = "boot-enabled-reverted"
	// behaviourBootReadBack: the boot override is read back after a PATCH;
	// a 2xx that did not apply it is an error (bmclib PR 459, Ironic
	// release note redfish-sadness; boot.go).
	behaviourBootReadBack = "boot-read-back"
	// behaviourUsbCd: the virtual CD is booted as UsbCd where the System
	// allows UsbCd (sushy release notes change-bootdev-smc and
	// supermicro-vmedia-dev-workaround; boot.go).
	behaviourUsbCd = "virtual-cd-as-usbcd"
	// behaviourEjectWait: an eject is confirmed by reading the device
	// until Inserted is false (Ironic release note
	// fix-redfish-vmedia-stale-insert-skip; media.go).
	behaviourEjectWait = "eject-confirmed"
	// behaviourMediaPatch: devices without InsertMedia/EjectMedia actions
	// are attached and detached by PATCH of Image and Inserted (sushy
	// release note fix-virtual-media-fallback, Lenovo ThinkSystem; media.go).
	behaviourMediaPatch = "media-by-patch"
)

// idIs reports whether the answer's MessageId ends in name (registry
// prefixes and versions differ between vendors: iLO.2.15.X, Base.1.18.X).
func idIs(e *ResponseError, name string) bool {
	return e.MessageID == name || strings.HasSuffix(e.MessageID, "."+name)
}

// react finds the behaviour that explains err, an answer to a request at s.
func react(s site, err error) (behaviour, bool) {
	var re *ResponseError
	if !errors.As(err, &re) {
		return behaviour{}, false
	}
	for _, b := range behaviours {
		if b.At == s && b.When(re) {
			return b, true
		}
	}
	return behaviour{}, false
}

// reacts reports whether err, at s, calls for reaction r.
func reacts(s site, err error, r reaction) bool {
	b, ok := react(s, err)
	return ok && b.Do == r
}

// note records that a behaviour was used on the call's BMC: a debug log and
// the driver's per-behaviour counter (Stats.Behaviours).
func (cl *call) note(name string) {
	d := cl.c.d
	d.log.Debug("redfish BMC behaviour handled", "bmc", cl.c.endpoint, "behaviour", name)
	v, _ := d.fired.LoadOrStore(name, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(1)
}

// firedCounts copies the per-behaviour counters.
func (d *Driver) firedCounts() map[string]uint64 {
	out := map[string]uint64{}
	d.fired.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// settleDeadline bounds a wait for a settling BMC: the call's deadline, or
// the power timeout where the caller gave none.
func (cl *call) settleDeadline() (context.Context, context.CancelFunc) {
	if _, ok := cl.ctx.Deadline(); ok {
		return context.WithCancel(cl.ctx)
	}
	return context.WithTimeout(cl.ctx, cl.c.d.opts.PowerTimeout)
}

// retrying sends a request with send until it succeeds, fails with an
// answer that is not a retryLater behaviour at s, or the deadline passes;
// the pause between tries grows like a power poll's.
func (cl *call) retrying(s site, send func(*call) error) error {
	ctx, cancel := cl.settleDeadline()
	defer cancel()
	rc := cl.withContext(ctx)
	interval := cl.c.d.opts.PollInterval
	for {
		err := send(rc)
		b, ok := react(s, err)
		if err == nil || !ok || b.Do != retryLater {
			return err
		}
		cl.note(b.Name)
		if serr := sleepCtx(ctx, interval); serr != nil {
			return err // the deadline passed: the BMC's last answer says why
		}
		interval = min(interval*3/2, cl.c.d.opts.MaxPollInterval)
	}
}

// patch sends a PATCH of body to path, handling If-Match as the BMC asks:
// tag is the ETag the resource was read with ("" when unknown). A 428 reads
// the ETag and sends it; a refused weak ETag is sent strong, then without
// If-Match. Any other answer is returned (a 412 to a strong ETag means the
// resource changed: the caller reads it again).
func (cl *call) patch(path string, body any, tag string) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("PATCH %s: encoding the request: %w", path, err)
	}
	refetched, wasWeak := false, false
	for {
		_, err := cl.exchange(request{method: http.MethodPatch, path: path, body: b, header: map[string]string{"If-Match": tag}})
		bh, ok := react(sitePatch, err)
		switch {
		case err == nil || !ok:
			return err
		case bh.Do == sendIfMatch && tag == "" && !refetched:
			refetched = true
			if tag, err = cl.etagOf(path); err != nil {
				return err
			}
		case bh.Do == strongETag && strings.HasPrefix(tag, "W/"):
			tag, wasWeak = strings.TrimPrefix(tag, "W/"), true
		case bh.Do == strongETag && wasWeak && tag != "":
			tag = ""
		default:
			return err
		}
		cl.note(bh.Name)
	}
}

// etagOf reads a resource's ETag: its @odata.etag, else the ETag header.
func (cl *call) etagOf(path string) (string, error) {
	resp, err := cl.Get(path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var v struct {
		ETag string `json:"@odata.etag"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&v)
	if v.ETag != "" {
		return v.ETag, nil
	}
	return resp.Header.Get("ETag"), nil
}
