package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// job is asynchronous work on one node, run the one way every such action
// runs: the request takes the node's exclusive lock, checks what it can
// without the BMC (check), marks the node as working (begin) and saves it,
// and hands the lock to a worker of the task manager's pool; the worker does
// the BMC work (work) on the agent's lifetime context and records the
// outcome (end), success or failure, before the lock is released. When no
// worker is free, end records the refusal and the client gets 503.
type job struct {
	purpose string
	check   func(t *taskmanager.Task) error
	begin   func(n *store.Node)
	work    func(ctx context.Context, t *taskmanager.Task) error
	end     func(n *store.Node, err error)
}

// start runs j on the node named ident and returns once the work is
// handed to a worker.
func (a *API) start(ctx context.Context, ident string, j job) error {
	return a.tm.Do(ctx, ident, []taskmanager.Option{taskmanager.Purpose(j.purpose)}, func(ctx context.Context, t *taskmanager.Task) error {
		if j.check != nil {
			if err := j.check(t); err != nil {
				return err
			}
		}
		n := t.Node()
		n.LastError = ""
		if j.begin != nil {
			j.begin(n)
		}
		if err := t.Save(ctx); err != nil {
			return err
		}
		t.SetSpawnErrorHook(func(t *taskmanager.Task, err error) {
			j.end(t.Node(), err)
			saveOutcome(ctx, t)
		})
		return t.SpawnAfter(func(ctx context.Context, t *taskmanager.Task) error {
			defer func() {
				// A panic still ends the job (the target cleared,
				// last_error set) before it goes on to the task
				// manager, which logs it and releases the lock.
				if r := recover(); r != nil {
					j.end(t.Node(), fmt.Errorf("panic in the background work: %v", r))
					saveOutcome(ctx, t)
					panic(r)
				}
			}()
			err := j.work(ctx, t)
			if err != nil && ctx.Err() != nil {
				// Say why the work was cut short (the agent stopping),
				// not only that its context was.
				err = fmt.Errorf("%w (%v)", err, context.Cause(ctx))
			}
			j.end(t.Node(), err)
			saveOutcome(ctx, t)
			return err
		})
	})
}

// saveOutcome records the task's node even when ctx has ended (the request
// finished or the agent is stopping), retrying while the database is
// unavailable (Task.Settle: a node whose outcome cannot be recorded stays
// locked until the database answers and is then marked interrupted).
func saveOutcome(ctx context.Context, t *taskmanager.Task) {
	if err := t.Settle(ctx); err != nil {
		t.Log().Error("cannot record the outcome of an operation", "err", err)
	}
}

// lockOnly are the options of a task that only locks and edits the node
// (update, delete, maintenance, ports): it never calls the driver, so a node
// whose own driver this agent lacks can still be repaired or deleted.
func lockOnly(purpose string) []taskmanager.Option {
	return []taskmanager.Option{taskmanager.Purpose(purpose), taskmanager.NodeOnly()}
}

// exclusive runs fn under the node's exclusive lock while the client waits,
// bounded by SyncTimeout. A client that goes away does not cut a change
// short halfway on the BMC: fn's context outlives the request's.
func (a *API) exclusive(r *http.Request, purpose string, fn func(ctx context.Context, t *taskmanager.Task) error) error {
	return a.tm.Do(r.Context(), r.PathValue("node"), []taskmanager.Option{taskmanager.Purpose(purpose)},
		func(ctx context.Context, t *taskmanager.Task) error {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.SyncTimeout)
			defer cancel()
			return fn(ctx, t)
		})
}

// shared runs fn with a shared task (no lock: reads only), bounded by
// SyncTimeout.
func (a *API) shared(r *http.Request, purpose string, fn func(ctx context.Context, t *taskmanager.Task) error) error {
	return a.tm.Do(r.Context(), r.PathValue("node"), []taskmanager.Option{taskmanager.Shared(), taskmanager.Purpose(purpose)},
		func(ctx context.Context, t *taskmanager.Task) error {
			ctx, cancel := context.WithTimeout(ctx, a.cfg.SyncTimeout)
			defer cancel()
			return fn(ctx, t)
		})
}

// fieldsOf decodes a request body with one decoder per member; a member
// without one is refused, naming it.
func fieldsOf(r *http.Request, kind string, decoders map[string]func(raw json.RawMessage) error) error {
	o, err := readObject(r)
	if err != nil {
		return err
	}
	for _, k := range o.keys() {
		dec, ok := decoders[k]
		if !ok {
			return badRequest("Unknown field %q in the %s request", truncate(k, 64), kind)
		}
		if err := dec(o[k]); err != nil {
			return err
		}
	}
	return nil
}

// accepted answers 202 with the node's states as the place to watch.
func (a *API) accepted(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Location", a.baseURL(r)+"/v1/nodes/"+url.PathEscape(r.PathValue("node"))+"/states")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// setPowerState is PUT /v1/nodes/{node}/states/power.
func (a *API) setPowerState(w http.ResponseWriter, r *http.Request) error {
	v := versionOf(r)
	var target string
	var timeout int
	hasTimeout := false
	err := fieldsOf(r, "power state", map[string]func(json.RawMessage) error{
		"target": func(raw json.RawMessage) (err error) { target, err = decodeString(raw, "target"); return err },
		"timeout": func(raw json.RawMessage) (err error) {
			if !v.atLeast(vSoftPower) {
				return notAcceptable("The field \"timeout\" needs API version 1.%d or later (requested %s)", vSoftPower, v)
			}
			if isNull(raw) {
				return nil
			}
			hasTimeout = true
			timeout, err = decodeInt(raw, "timeout")
			return err
		},
	})
	if err != nil {
		return err
	}
	action := drivers.PowerAction(target)
	switch {
	case target == "":
		return badRequest("The field \"target\" is mandatory")
	case !action.Valid():
		return badRequest("Invalid value %q for the field \"target\": expected one of %s", truncate(target, 32), quoteList(drivers.PowerActions))
	case (action == drivers.ActionSoftPowerOff || action == drivers.ActionSoftReboot) && !v.atLeast(vSoftPower):
		return notAcceptable("The target %q needs API version 1.%d or later (requested %s)", target, vSoftPower, v)
	case hasTimeout && timeout <= 0:
		return badRequest("The field \"timeout\" must be a positive number of seconds, got %d", timeout)
	}
	wait := time.Duration(timeout) * time.Second
	err = a.start(r.Context(), r.PathValue("node"), job{
		purpose: string(action),
		check: func(t *taskmanager.Task) error {
			if err := t.Driver().Require(drivers.MethodSetPowerState); err != nil {
				return err
			}
			return t.Driver().Validate(drivers.PowerInterface)
		},
		begin: func(n *store.Node) { n.TargetPowerState = string(action.Target()) },
		work: func(ctx context.Context, t *taskmanager.Task) error {
			return t.Driver().SetPowerState(ctx, action, wait)
		},
		end: func(n *store.Node, err error) {
			n.TargetPowerState = ""
			if err != nil {
				n.LastError = fmt.Sprintf("Failed to change the power state to %q: %v", action, err)
				return
			}
			n.PowerState = string(action.Target())
		},
	})
	if err != nil {
		return err
	}
	return a.accepted(w, r)
}

func quoteList[T ~string](xs []T) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// setBootMode is PUT /v1/nodes/{node}/states/boot_mode.
func (a *API) setBootMode(w http.ResponseWriter, r *http.Request) error {
	var target string
	err := fieldsOf(r, "boot mode", map[string]func(json.RawMessage) error{
		"target": func(raw json.RawMessage) (err error) { target, err = decodeString(raw, "target"); return err },
	})
	if err != nil {
		return err
	}
	mode := drivers.BootMode(target)
	if !mode.Valid() {
		return badRequest("Invalid value %q for the field \"target\": expected \"uefi\" or \"bios\"", truncate(target, 32))
	}
	err = a.start(r.Context(), r.PathValue("node"), job{
		purpose: "set boot mode to " + target,
		check:   func(t *taskmanager.Task) error { return t.Driver().Require(drivers.MethodSetBootMode) },
		work: func(ctx context.Context, t *taskmanager.Task) error {
			return t.Driver().SetBootMode(ctx, mode)
		},
		end: func(n *store.Node, err error) {
			if err != nil {
				n.LastError = fmt.Sprintf("Failed to set the boot mode to %q: %v", mode, err)
				return
			}
			n.BootMode = string(mode)
		},
	})
	if err != nil {
		return err
	}
	return a.accepted(w, r)
}

// setSecureBoot is PUT /v1/nodes/{node}/states/secure_boot: no driver of the
// agent manages secure boot.
func (a *API) setSecureBoot(w http.ResponseWriter, r *http.Request) error {
	n, err := a.db.Node(r.Context(), r.PathValue("node"))
	if err != nil {
		return err
	}
	return badRequest("Driver %q does not support secure boot (bmc-agent manages no secure boot state)", n.Driver)
}

// getBootDevice is GET /v1/nodes/{node}/management/boot_device.
func (a *API) getBootDevice(w http.ResponseWriter, r *http.Request) error {
	var st drivers.BootDeviceStatus
	err := a.shared(r, "get boot device", func(ctx context.Context, t *taskmanager.Task) (err error) {
		st, err = t.Driver().BootDevice(ctx)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"boot_device": nullable(string(st.Device)), "persistent": st.Persistent})
}

// supportedBootDevices is GET .../management/boot_device/supported.
func (a *API) supportedBootDevices(w http.ResponseWriter, r *http.Request) error {
	var devs []drivers.BootDevice
	err := a.shared(r, "get supported boot devices", func(ctx context.Context, t *taskmanager.Task) (err error) {
		devs, err = t.Driver().SupportedBootDevices(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if devs == nil {
		devs = []drivers.BootDevice{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"supported_boot_devices": devs})
}

// setBootDevice is PUT /v1/nodes/{node}/management/boot_device.
func (a *API) setBootDevice(w http.ResponseWriter, r *http.Request) error {
	var device string
	var persistent bool
	err := fieldsOf(r, "boot device", map[string]func(json.RawMessage) error{
		"boot_device": func(raw json.RawMessage) (err error) { device, err = decodeString(raw, "boot_device"); return err },
		"persistent": func(raw json.RawMessage) (err error) {
			if isNull(raw) {
				return nil
			}
			persistent, err = decodeBool(raw, "persistent")
			return err
		},
	})
	if err != nil {
		return err
	}
	dev := drivers.BootDevice(device)
	switch {
	case device == "":
		return badRequest("The field \"boot_device\" is mandatory")
	case !dev.Valid():
		return badRequest("Invalid value %q for the field \"boot_device\": expected one of %s", truncate(device, 32), quoteList(drivers.BootDevices))
	}
	err = a.exclusive(r, "set boot device to "+device, func(ctx context.Context, t *taskmanager.Task) error {
		return t.Driver().SetBootDevice(ctx, dev, drivers.BootOptions{Persistent: persistent})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// injectNMI is PUT /v1/nodes/{node}/management/inject_nmi; the body must be
// an empty object.
func (a *API) injectNMI(w http.ResponseWriter, r *http.Request) error {
	if err := fieldsOf(r, "inject NMI", nil); err != nil {
		return err
	}
	err := a.exclusive(r, "inject NMI", func(ctx context.Context, t *taskmanager.Task) error {
		return t.Driver().InjectNMI(ctx)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// mediaTypes maps Ironic's virtual media device types to the agent's.
var mediaTypes = map[string]drivers.MediaType{
	"cdrom": drivers.MediaCD, "floppy": drivers.MediaFloppy, "disk": drivers.MediaUSB, "usb": drivers.MediaUSB,
}

func mediaType(s string) (drivers.MediaType, error) {
	t, ok := mediaTypes[strings.TrimSpace(s)]
	if !ok {
		return "", badRequest("Invalid virtual media device type %q: expected cdrom, floppy, disk or usb", truncate(s, 32))
	}
	return t, nil
}

// attachVMedia is POST /v1/nodes/{node}/vmedia.
func (a *API) attachVMedia(w http.ResponseWriter, r *http.Request) error {
	var device, image, source string
	err := fieldsOf(r, "virtual media", map[string]func(json.RawMessage) error{
		"device_type": func(raw json.RawMessage) (err error) { device, err = decodeString(raw, "device_type"); return err },
		"image_url":   func(raw json.RawMessage) (err error) { image, err = decodeString(raw, "image_url"); return err },
		"image_download_source": func(raw json.RawMessage) (err error) {
			source, err = decodeString(raw, "image_download_source")
			return err
		},
	})
	if err != nil {
		return err
	}
	switch {
	case device == "":
		return badRequest("The field \"device_type\" is mandatory")
	case image == "":
		return badRequest("The field \"image_url\" is mandatory")
	case source != "" && source != "http":
		return badRequest("image_download_source %q is not supported by bmc-agent: the BMC fetches the image itself (http)", truncate(source, 32))
	}
	mt, err := mediaType(device)
	if err != nil {
		return err
	}
	if u, err := url.Parse(image); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return badRequest("Invalid image_url: expected an http or https URL the BMC can fetch")
	}
	err = a.exclusive(r, "attach virtual media", func(ctx context.Context, t *taskmanager.Task) error {
		return t.Driver().InsertMedia(ctx, drivers.MediaRequest{Type: mt, Image: image, EjectFirst: true, WriteProtected: true})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// detachVMedia is DELETE /v1/nodes/{node}/vmedia[?device_types=a,b].
func (a *API) detachVMedia(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, "device_types"); err != nil {
		return err
	}
	types := []drivers.MediaType{drivers.AnyMedia}
	if raw := r.URL.Query().Get("device_types"); raw != "" {
		types = nil
		for _, s := range strings.Split(raw, ",") {
			t, err := mediaType(s)
			if err != nil {
				return err
			}
			types = append(types, t)
		}
	}
	err := a.exclusive(r, "detach virtual media", func(ctx context.Context, t *taskmanager.Task) error {
		for _, mt := range types {
			if err := t.Driver().EjectMedia(ctx, mt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// validation is one interface's entry of GET .../validate; Result is null
// for an interface the node's driver does not have.
type validation struct {
	Result *bool   `json:"result"`
	Reason *string `json:"reason"`
}

func verdict(err error) validation {
	ok := err == nil
	v := validation{Result: &ok}
	if err != nil {
		msg := sentence(err.Error())
		v.Reason = &msg
	}
	return v
}

// validateNode is GET /v1/nodes/{node}/validate: driver_info is checked for
// every interface without BMC I/O, and the power interface also logs in to
// the BMC. Wrong credentials are a finding (result false); a BMC that cannot
// be reached or does not answer is a 502/504, since nothing was validated.
func (a *API) validateNode(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r); err != nil {
		return err
	}
	notSupported := "not supported by bmc-agent"
	out := map[string]validation{}
	for _, iface := range []string{"bios", "console", "firmware", "network", "raid", "rescue", "storage"} {
		out[iface] = validation{Reason: &notSupported}
	}
	err := a.shared(r, "validate", func(ctx context.Context, t *taskmanager.Task) error {
		d := t.Driver()
		power := d.Validate(drivers.PowerInterface)
		if power == nil {
			if err := checkBMC(ctx, d); err != nil {
				if !errors.Is(err, drivers.ErrBMCAuth) && !errors.Is(err, drivers.ErrBMCRejected) {
					return err
				}
				power = err
			}
		}
		out["power"] = verdict(power)
		out["inspect"] = verdict(power)
		out["management"] = verdict(d.Validate(drivers.ManagementInterface))
		boot := d.Validate(drivers.VMediaInterface)
		if boot == nil && power == nil {
			boot = hasVirtualMedia(ctx, d)
		}
		out["boot"] = verdict(boot)
		deploy := deployProblem(t.Node())
		if deploy == nil && boot != nil && !fakeDeploy(t.Node()) {
			deploy = boot // the ramdisk deploy boots from virtual media
		}
		out["deploy"] = verdict(deploy)
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// hasVirtualMedia reads the BMC's virtual media devices: the agent boots its
// deploy ramdisks from virtual media, so a BMC that offers none (OpenBMC;
// see simulator/profile.go) is reported here, before any operation starts,
// rather than when a deploy tries to insert its image. A BMC that does not
// answer is not a verdict on its virtual media: the power check reports it.
func hasVirtualMedia(ctx context.Context, d *drivers.Handle) error {
	media, err := d.Media(ctx)
	switch {
	case errors.Is(err, drivers.ErrUnsupported):
		return err
	case err == nil && len(media) == 0:
		return fmt.Errorf("%w: the BMC reports no virtual media device, and the agent boots deploy ramdisks from virtual media", drivers.ErrUnsupported)
	}
	return nil
}

// checkBMC logs in to the BMC: the driver's Check, or a power state read for
// a driver without one.
func checkBMC(ctx context.Context, d *drivers.Handle) error {
	err := d.Check(ctx)
	if errors.Is(err, drivers.ErrUnsupported) {
		_, err = d.PowerState(ctx)
	}
	return err
}

// setMaintenance is PUT /v1/nodes/{node}/maintenance.
func (a *API) setMaintenance(w http.ResponseWriter, r *http.Request) error {
	var reason string
	if r.ContentLength != 0 {
		err := fieldsOf(r, "maintenance", map[string]func(json.RawMessage) error{
			"reason": func(raw json.RawMessage) (err error) { reason, err = decodeString(raw, "reason"); return err },
		})
		if err != nil {
			return err
		}
	}
	return a.maintenance(w, r, true, reason)
}

// unsetMaintenance is DELETE /v1/nodes/{node}/maintenance; it also clears
// the fault the agent recorded, as Ironic does.
func (a *API) unsetMaintenance(w http.ResponseWriter, r *http.Request) error {
	return a.maintenance(w, r, false, "")
}

func (a *API) maintenance(w http.ResponseWriter, r *http.Request, on bool, reason string) error {
	if len(reason) > 4096 {
		return badRequest("The maintenance reason is longer than 4096 characters")
	}
	purpose := "unset maintenance"
	if on {
		purpose = "set maintenance"
	}
	err := a.tm.Do(r.Context(), r.PathValue("node"), lockOnly(purpose),
		func(ctx context.Context, t *taskmanager.Task) error {
			n := t.Node()
			n.Maintenance, n.MaintenanceReason = on, reason
			if !on {
				n.Fault = ""
			}
			return t.Save(ctx)
		})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
