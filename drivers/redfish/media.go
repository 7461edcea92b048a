package redfish

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/stmcginnis/gofish/redfish"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// mediaTypes maps Redfish VirtualMediaType values to the agent's.
var mediaTypes = map[redfish.VirtualMediaType]drivers.MediaType{
	redfish.CDMediaType:       drivers.MediaCD,
	redfish.DVDMediaType:      drivers.MediaCD,
	redfish.USBStickMediaType: drivers.MediaUSB,
	redfish.FloppyMediaType:   drivers.MediaFloppy,
}

func typesOf(vm *redfish.VirtualMedia) []drivers.MediaType {
	var out []drivers.MediaType
	for _, t := range vm.MediaTypes {
		if mt, ok := mediaTypes[t]; ok && !slices.Contains(out, mt) {
			out = append(out, mt)
		}
	}
	return out
}

// occupied reports whether a device holds an image.
func occupied(vm *redfish.VirtualMedia) bool { return vm.Inserted || vm.Image != "" }

// devices finds the system's virtual media: under the system itself where
// the BMC exposes them there (Redfish 2021.1 and newer), else under the
// managers that manage it (Links.ManagedBy), in the order the BMC lists them.
func (cl *call) devices() ([]*redfish.VirtualMedia, error) {
	s, err := cl.system()
	if err != nil {
		return nil, err
	}
	vms, err := s.VirtualMedia()
	if err != nil || len(vms) > 0 {
		return sortMedia(vms), err
	}
	managers, err := s.ManagedBy()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, m := range managers {
		mv, err := m.VirtualMedia()
		if err != nil {
			return nil, err
		}
		for _, vm := range mv {
			if !seen[vm.ODataID] {
				seen[vm.ODataID] = true
				vms = append(vms, vm)
			}
		}
	}
	return sortMedia(vms), nil
}

// sortMedia orders devices by URI: gofish fetches collection members in
// parallel and returns them in the order they arrived.
func sortMedia(vms []*redfish.VirtualMedia) []*redfish.VirtualMedia {
	slices.SortStableFunc(vms, func(a, b *redfish.VirtualMedia) int { return strings.Compare(a.ODataID, b.ODataID) })
	return vms
}

// Media implements drivers.MediaGetter. Read-only.
func (d *Driver) Media(ctx context.Context, n drivers.Node) ([]drivers.Media, error) {
	var out []drivers.Media
	err := d.run(ctx, n, drivers.VMediaInterface, "list virtual media", func(cl *call) error {
		vms, err := cl.devices()
		if err != nil {
			return err
		}
		for _, vm := range vms {
			out = append(out, drivers.Media{
				ID:             vm.ID,
				Types:          typesOf(vm),
				Image:          vm.Image,
				Inserted:       occupied(vm),
				WriteProtected: vm.WriteProtected,
			})
		}
		return nil
	})
	return out, err
}

// InsertMedia implements drivers.MediaInserter. It picks a device that takes
// req.Type, an empty one first; an occupied one is ejected first only with
// req.EjectFirst, otherwise the insert is refused (ErrBMCRejected) without
// a request. It posts VirtualMedia.InsertMedia (Image, Inserted, and
// WriteProtected when asked; the BMC's default otherwise), or PATCHes the
// device on BMCs that do not advertise the action. Mutating; an insert
// that reached the BMC is never retried.
func (d *Driver) InsertMedia(ctx context.Context, n drivers.Node, req drivers.MediaRequest) error {
	op := fmt.Sprintf("insert %s into %s", redactURL(req.Image), req.Type)
	return d.run(ctx, n, drivers.VMediaInterface, op, func(cl *call) error {
		vms, err := cl.devices()
		if err != nil {
			return err
		}
		var fit []*redfish.VirtualMedia
		for _, vm := range vms {
			if slices.Contains(typesOf(vm), req.Type) {
				fit = append(fit, vm)
			}
		}
		if len(vms) == 0 {
			return unsupported("the BMC reports no virtual media device")
		}
		if len(fit) == 0 {
			return rejected("no virtual media device takes %s media (devices: %s)", req.Type, describe(vms))
		}
		i := slices.IndexFunc(fit, func(vm *redfish.VirtualMedia) bool { return !occupied(vm) })
		if i < 0 {
			if !req.EjectFirst {
				return rejected("device %s already holds %s: eject it first", fit[0].ID, redactURL(fit[0].Image))
			}
			i = 0
			if err := cl.eject(fit[0]); err != nil {
				return err
			}
		}
		return cl.insert(fit[i], req)
	})
}

// describe lists devices and their types for messages.
func describe(vms []*redfish.VirtualMedia) string {
	if len(vms) == 0 {
		return "none"
	}
	parts := make([]string, len(vms))
	for i, vm := range vms {
		parts[i] = fmt.Sprintf("%s %v", vm.ID, vm.MediaTypes)
	}
	return strings.Join(parts, ", ")
}

// insert attaches req's image to vm: InsertMedia with Image, Inserted and
// WriteProtected, again with Image alone where the BMC refuses those flags,
// or a PATCH of the device where it has no InsertMedia action (quirks.go).
func (cl *call) insert(vm *redfish.VirtualMedia, req drivers.MediaRequest) error {
	if !vm.SupportsMediaInsert {
		cl.note(behaviourMediaPatch)
		body := map[string]any{"Image": req.Image, "Inserted": true}
		if req.WriteProtected {
			body["WriteProtected"] = true
		}
		return cl.patch(vm.ODataID, body, "")
	}
	target := actionTarget(vm, "VirtualMedia.InsertMedia")
	body := map[string]any{"Image": req.Image, "Inserted": true}
	if req.WriteProtected {
		body["WriteProtected"] = true // else the BMC's default (Redfish: true)
	}
	_, err := cl.exchangeJSON(http.MethodPost, target, body)
	if b, ok := react(siteInsert, err); ok && b.Do == insertBare {
		cl.note(b.Name)
		_, err = cl.exchangeJSON(http.MethodPost, target, map[string]any{"Image": req.Image})
	}
	return err
}

// eject detaches vm's image (EjectMedia with {}, or a PATCH where the device
// has no action) and reads the device until Inserted is false: some BMCs
// report the old state for a while (quirks.go).
func (cl *call) eject(vm *redfish.VirtualMedia) error {
	ec := cl.withContext(cl.ctx)
	ec.idempotentPost = true // ejecting twice leaves the device empty, as once
	var err error
	if vm.SupportsMediaEject {
		// Always {}: every BMC takes it and iLO answers 415 without a
		// body (sushy release note fix-eject-media-empty-dict, 9bd1d6b).
		_, err = ec.exchangeJSON(http.MethodPost, actionTarget(vm, "VirtualMedia.EjectMedia"), struct{}{})
	} else {
		ec.note(behaviourMediaPatch)
		err = ec.patch(vm.ODataID, map[string]any{"Image": nil, "Inserted": false}, "")
	}
	if err != nil {
		return err
	}
	ctx, cancel := cl.settleDeadline()
	defer cancel()
	wc := cl.withContext(ctx)
	interval, noted := cl.c.d.opts.PollInterval, false
	for {
		cur, err := redfish.GetVirtualMedia(wc, vm.ODataID)
		if err != nil {
			return err
		}
		if !cur.Inserted {
			return nil
		}
		if !noted {
			noted = true
			cl.note(behaviourEjectWait)
		}
		if sleepCtx(ctx, interval) != nil {
			return fmt.Errorf("%w: device %s still reads Inserted after EjectMedia", drivers.ErrBMCFailed, vm.ID)
		}
		interval = min(interval*3/2, cl.c.d.opts.MaxPollInterval)
	}
}

// actionTarget returns the URI of one of a device's actions, which the
// Redfish specification fixes as <resource>/Actions/<qualified name>.
func actionTarget(vm *redfish.VirtualMedia, action string) string {
	return strings.TrimSuffix(vm.ODataID, "/") + "/Actions/" + action
}

// EjectMedia implements drivers.MediaEjecter: every device of type t (all
// for AnyMedia) that holds an image is ejected with VirtualMedia.EjectMedia
// (or a PATCH on older BMCs); empty devices get no request. Mutating;
// idempotent, so its requests are retried like reads.
func (d *Driver) EjectMedia(ctx context.Context, n drivers.Node, t drivers.MediaType) error {
	op := "eject virtual media"
	if t != drivers.AnyMedia {
		op = "eject " + string(t) + " virtual media"
	}
	return d.run(ctx, n, drivers.VMediaInterface, op, func(cl *call) error {
		vms, err := cl.devices()
		if err != nil {
			return err
		}
		for _, vm := range vms {
			if (t == drivers.AnyMedia || slices.Contains(typesOf(vm), t)) && occupied(vm) {
				if err := cl.eject(vm); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
