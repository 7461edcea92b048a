package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// firmwareFields are a firmware component's members at 1.86
// (ironic/api/controllers/v1/firmware.py, _DEFAULT_RETURN_FIELDS, with the
// object's created_at and updated_at).
var firmwareFields = []string{"component", "initial_version", "current_version", "last_version_flashed", "created_at", "updated_at"}

// listFirmware is GET /v1/nodes/{node}/firmware (1.86). A node whose
// firmware interface is no-firmware has none: {"firmware": []}, as Ironic
// answers for a node whose components were never cached. For a node whose
// driver reads a firmware inventory, the BMC is read under a shared lock
// and its BIOS and BMC versions are shown: Ironic shows the components it
// cached at its last cleaning; the agent, which runs no cleaning, reads
// them when asked (docs/api.md).
func (a *API) listFirmware(w http.ResponseWriter, r *http.Request) error {
	var want []string
	for k, vals := range r.URL.Query() {
		if k != "fields" {
			return badRequest("Unknown argument: %q", truncate(k, 64))
		}
		for _, f := range strings.Split(strings.Join(vals, ","), ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			if !contains(firmwareFields, f) {
				return badRequest("Field(s) %q are not valid", truncate(f, 64))
			}
			want = append(want, f)
		}
	}
	out := []map[string]any{}
	err := a.shared(r, "reading firmware", func(ctx context.Context, t *taskmanager.Task) error {
		if a.nodeInterface(t.Node(), "firmware") == "no-firmware" {
			return nil
		}
		comps, err := t.Driver().Firmware(ctx)
		if errors.Is(err, drivers.ErrUnsupported) {
			return nil
		}
		if err != nil {
			return err
		}
		// Ironic refreshes updated_at whenever it caches the components
		// (ironic/drivers/modules/redfish/firmware.py,
		// cache_firmware_components); the agent's cache is this read.
		readAt := time.Now()
		for _, c := range comps {
			m := map[string]any{
				"component": c.Component, "initial_version": c.Version, "current_version": c.Version,
				"last_version_flashed": nil, "created_at": nil, "updated_at": jsonTime(readAt),
			}
			if want != nil {
				for k := range m {
					if !contains(want, k) {
						delete(m, k)
					}
				}
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"firmware": out})
}
