package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// provisionVerb is a target of PUT .../states/provision: the state machine
// event it is, and the microversion that introduced it.
type provisionVerb struct {
	event string
	since int
}

var provisionVerbs = map[string]provisionVerb{
	"manage":   {taskmanager.EventManage, 4},
	"provide":  {taskmanager.EventProvide, 1},
	"inspect":  {taskmanager.EventInspect, vInspectStates},
	"active":   {taskmanager.EventDeploy, 1},
	"deploy":   {taskmanager.EventDeploy, vDeployVerbs},
	"rebuild":  {taskmanager.EventRebuild, 1},
	"deleted":  {taskmanager.EventDelete, 1},
	"undeploy": {taskmanager.EventDelete, vDeployVerbs},
	"abort":    {taskmanager.EventAbort, vAbort},
}

// unsupportedVerbs are Ironic's targets the agent does not offer.
var unsupportedVerbs = []string{"clean", "adopt", "rescue", "unrescue", "service", "unhold"}

// setProvisionState is PUT /v1/nodes/{node}/states/provision. The event is
// checked against the state machine under the node's lock; an event the
// node's state does not allow is the client's mistake (400, Ironic's
// InvalidStateRequested). Work for the new state is spawned and moves the
// node on with "done", or through "fail" with last_error.
func (a *API) setProvisionState(w http.ResponseWriter, r *http.Request) error {
	v := versionOf(r)
	var target string
	nullOnly := func(name string) func(json.RawMessage) error {
		return func(raw json.RawMessage) error {
			if isNull(raw) {
				return nil
			}
			return badRequest("The field %q is not supported by bmc-agent", name)
		}
	}
	err := fieldsOf(r, "provision state", map[string]func(json.RawMessage) error{
		"target":          func(raw json.RawMessage) (err error) { target, err = decodeString(raw, "target"); return err },
		"configdrive":     nullOnly("configdrive"),
		"clean_steps":     nullOnly("clean_steps"),
		"deploy_steps":    nullOnly("deploy_steps"),
		"service_steps":   nullOnly("service_steps"),
		"rescue_password": nullOnly("rescue_password"),
		"disable_ramdisk": nullOnly("disable_ramdisk"),
	})
	if err != nil {
		return err
	}
	verb, ok := provisionVerbs[target]
	switch {
	case target == "":
		return badRequest("The field \"target\" is mandatory")
	case contains(unsupportedVerbs, target):
		return badRequest("The provision target %q is not supported by bmc-agent", target)
	case !ok:
		return badRequest("Invalid provision target %q", truncate(target, 32))
	case !v.atLeast(verb.since):
		return notAcceptable("The provision target %q needs API version 1.%d or later (requested %s)", target, verb.since, v)
	}
	err = a.tm.Do(r.Context(), r.PathValue("node"), []taskmanager.Option{taskmanager.Purpose("provision: " + target)},
		func(ctx context.Context, t *taskmanager.Task) error {
			n := t.Node()
			next, err := taskmanager.NextState(n.ProvisionState, verb.event)
			if err != nil {
				return &Error{Status: http.StatusBadRequest, Err: err, Message: sentence(fmt.Sprintf(
					"The requested action %q can not be performed on node %s while it is in state %q", target, n.UUID, n.ProvisionState))}
			}
			if n.Maintenance && (verb.event == taskmanager.EventDeploy || verb.event == taskmanager.EventRebuild) {
				return badRequest("The requested action %q can not be performed on node %s while it is in maintenance mode", target, n.UUID)
			}
			if err := a.precheck(t, next); err != nil {
				return err
			}
			n.LastError = ""
			if next == taskmanager.StateInspecting { // as Ironic's node update does
				now := time.Now().UTC()
				n.InspectionStartedAt, n.InspectionFinishedAt = &now, nil
			}
			var opts []taskmanager.EventOption
			if _, ok := provisionSteps[next]; ok {
				opts = append(opts, taskmanager.Callback(a.runProvision))
			}
			return t.ProcessEvent(ctx, verb.event, opts...)
		})
	if err != nil {
		return err
	}
	return a.accepted(w, r)
}

// precheck refuses, before the node moves, work that could not succeed:
// a driver without the capabilities, driver_info it does not accept, a
// deploy without an image.
func (a *API) precheck(t *taskmanager.Task, next string) error {
	d := t.Driver()
	if fakeDeploy(t.Node()) {
		return nil
	}
	switch next {
	case taskmanager.StateDeploying:
		if err := deployProblem(t.Node()); err != nil {
			return err
		}
		if err := t.Driver().Require(drivers.MethodInsertMedia, drivers.MethodSetBootDevice, drivers.MethodSetPowerState, drivers.MethodPowerState); err != nil {
			return err
		}
		for _, iface := range []drivers.Interface{drivers.PowerInterface, drivers.ManagementInterface, drivers.VMediaInterface} {
			if err := d.Validate(iface); err != nil {
				return err
			}
		}
	case taskmanager.StateDeleting:
		if err := t.Driver().Require(drivers.MethodEjectMedia, drivers.MethodSetPowerState); err != nil {
			return err
		}
		return d.Validate(drivers.PowerInterface)
	case taskmanager.StateInspecting:
		return t.Driver().Require(drivers.MethodInspect)
	}
	return nil
}

// deployProblem says why the node cannot be deployed: the agent's deploy is
// Ironic's ramdisk deploy of instance_info/boot_iso.
func deployProblem(n *store.Node) error {
	iso, ok := n.InstanceInfo["boot_iso"].(string)
	if !ok || iso == "" {
		return badRequest("Cannot deploy node %s: instance_info/boot_iso must hold the URL of the ISO to boot", n.UUID)
	}
	if u, err := url.Parse(iso); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return badRequest("Cannot deploy node %s: instance_info/boot_iso must be an http or https URL", n.UUID)
	}
	return nil
}

// provisionSteps is the agent's work in each transient provision state; when
// a step succeeds the node takes "done".
var provisionSteps = map[string]func(ctx context.Context, t *taskmanager.Task) error{
	taskmanager.StateVerifying:  verify,
	taskmanager.StateInspecting: nil, // API.inspect
	taskmanager.StateCleaning:   func(context.Context, *taskmanager.Task) error { return nil },
	taskmanager.StateDeploying:  deploy,
	taskmanager.StateDeleting:   undeploy,
}

// runProvision is the callback of every provisioning event: it runs the
// step of the node's state and moves it on with "done", until the node
// rests in a state without a step (deleting is followed by cleaning, then
// available). A failing step returns its error: the task manager moves the
// node through "fail" and records last_error.
func (a *API) runProvision(ctx context.Context, t *taskmanager.Task) error {
	for {
		step, ok := provisionSteps[t.Node().ProvisionState]
		if !ok {
			return nil
		}
		if step == nil {
			step = a.inspect
		}
		if err := step(ctx, t); err != nil {
			return err
		}
		if err := t.ProcessEvent(ctx, taskmanager.EventDone); err != nil {
			return err
		}
	}
}

// verify checks what the driver needs and that the BMC answers with the
// node's credentials, and records the power state it reads.
func verify(ctx context.Context, t *taskmanager.Task) error {
	d := t.Driver()
	if err := d.Validate(drivers.PowerInterface); err != nil {
		return err
	}
	if err := checkBMC(ctx, d); err != nil {
		return err
	}
	st, err := d.PowerState(ctx)
	if err != nil {
		return err
	}
	t.Node().PowerState = string(st)
	return nil
}

// deploy is the ramdisk deploy: the ISO in the virtual CD, the CD as the
// boot device, and the node powered on (rebooted if it was on).
func deploy(ctx context.Context, t *taskmanager.Task) error {
	n, d := t.Node(), t.Driver()
	if fakeDeploy(n) {
		return nil
	}
	iso, _ := n.InstanceInfo["boot_iso"].(string)
	if err := d.InsertMedia(ctx, drivers.MediaRequest{Type: drivers.MediaCD, Image: iso, EjectFirst: true, WriteProtected: true}); err != nil {
		return fmt.Errorf("insert the boot ISO %s: %w", redactURL(iso), err)
	}
	if err := d.SetBootDevice(ctx, drivers.BootCDROM, drivers.BootOptions{Persistent: true}); err != nil {
		return fmt.Errorf("boot from the virtual CD: %w", err)
	}
	st, err := d.PowerState(ctx)
	if err != nil {
		return err
	}
	action := drivers.ActionPowerOn
	if st == drivers.PowerOn {
		action = drivers.ActionReboot
	}
	if err := d.SetPowerState(ctx, action, 0); err != nil {
		return err
	}
	n.PowerState = string(drivers.PowerOn)
	return nil
}

// undeploy ejects the virtual media, powers the node off and forgets the
// instance, as Ironic's tear down erases instance_info.
func undeploy(ctx context.Context, t *taskmanager.Task) error {
	n, d := t.Node(), t.Driver()
	if fakeDeploy(n) {
		n.InstanceInfo = map[string]any{}
		return nil
	}
	if err := d.EjectMedia(ctx, drivers.MediaCD); err != nil {
		return fmt.Errorf("eject the boot ISO: %w", err)
	}
	if err := d.SetPowerState(ctx, drivers.ActionPowerOff, 0); err != nil {
		return err
	}
	n.PowerState = string(drivers.PowerOff)
	n.InstanceInfo = map[string]any{}
	return nil
}

// redactURL hides the password a URL may carry, read by the parser the
// drivers use (drivers.ParseURLCredentials).
func redactURL(s string) string { return drivers.RedactURLPassword(s) }

// fakeDeploy reports a node whose deploy interface is Ironic's fake one
// (fake-hardware's only deploy interface): deploy and tear down do nothing,
// the power state stays as recorded, and the conductor's tear down still
// forgets instance_info (ironic/drivers/modules/fake.py, FakeDeploy).
func fakeDeploy(n *store.Node) bool { return n.Driver == fake.HardwareName }
