package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// setRAIDConfig is PUT /v1/nodes/{node}/states/raid: the target RAID
// configuration is checked and recorded on the node (target_raid_config),
// as Ironic's conductor does (ironic/conductor/manager.py,
// set_target_raid_config). Ironic applies it later in clean steps; the
// agent runs none, so it only records it (docs/api.md).
//
// Ironic's answers (ironic/api/controllers/v1/node.py,
// NodeStatesController.raid): 406 before 1.12 (NotAcceptable), 204 on
// success, 404 for a node whose raid interface is no-raid
// (UnsupportedDriverExtension with its code changed to NOT_FOUND), 400 for
// a configuration the schema refuses ("RAID config validation error").
func (a *API) setRAIDConfig(w http.ResponseWriter, r *http.Request) error {
	if !versionOf(r).atLeast(vRAIDConfig) {
		return newError(http.StatusNotAcceptable, "The requested version of the API does not allow setting the RAID configuration; it needs 1.%d", vRAIDConfig)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(body, &cfg); err != nil || cfg == nil {
		return badRequest("Invalid input for field/attribute target_raid_config. Value: %s. Wrong type. Expected 'dict'", truncate(string(body), 64))
	}
	err = a.tm.Do(r.Context(), r.PathValue("node"), lockOnly("setting target RAID config"),
		func(ctx context.Context, t *taskmanager.Task) error {
			n := t.Node()
			if a.nodeInterface(n, "raid") == "no-raid" {
				return newError(http.StatusNotFound, "Driver %s does not support raid (disabled or not implemented).", n.Driver)
			}
			if len(cfg) > 0 {
				if msg := raidProblem(cfg); msg != "" {
					return badRequest("RAID config validation error: %s", msg)
				}
			}
			n.TargetRAIDConfig = store.JSON(cfg)
			return t.Save(ctx)
		})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// raidProblem checks a target RAID configuration against Ironic's schema
// (ironic/drivers/raid_config_schema.json) and its one-root-volume rule
// (ironic/common/raid.py, _check_and_return_root_volumes); "" if it holds.
func raidProblem(cfg map[string]any) string {
	for k := range cfg {
		if k != "logical_disks" {
			return "Additional properties are not allowed ('" + k + "' was unexpected)"
		}
	}
	disks, ok := cfg["logical_disks"].([]any)
	if !ok {
		return "'logical_disks' is a required property of type array"
	}
	roots := 0
	for _, d := range disks {
		disk, ok := d.(map[string]any)
		if !ok {
			return "a logical disk is not an object"
		}
		for _, req := range []string{"raid_level", "size_gb"} {
			if _, ok := disk[req]; !ok {
				return "'" + req + "' is a required property"
			}
		}
		for k, v := range disk {
			if msg := raidDiskField(k, v); msg != "" {
				return msg
			}
		}
		if b, _ := disk["is_root_volume"].(bool); b {
			roots++
		}
	}
	if roots > 1 {
		return "Raid config cannot have more than one root volume"
	}
	return ""
}

// raidDiskField checks one member of a logical disk.
func raidDiskField(k string, v any) string {
	enum := func(allowed ...string) string {
		if s, ok := v.(string); ok && slices.Contains(allowed, s) {
			return ""
		}
		return k + " is not one of " + describe(allowed)
	}
	positive := func(min float64) string {
		if f, ok := v.(float64); ok && f == float64(int64(f)) && f >= min {
			return ""
		}
		return k + " must be an integer of at least " + describe(min)
	}
	switch k {
	case "raid_level":
		return enum("JBOD", "0", "1", "2", "5", "6", "1+0", "5+0", "6+0")
	case "size_gb":
		if s, ok := v.(string); ok && s == "MAX" {
			return ""
		}
		return positive(0)
	case "volume_name", "controller":
		if _, ok := v.(string); !ok {
			return k + " must be a string"
		}
	case "is_root_volume", "share_physical_disks":
		if _, ok := v.(bool); !ok {
			return k + " must be a boolean"
		}
	case "disk_type":
		return enum("hdd", "ssd")
	case "interface_type":
		return enum("sata", "scsi", "sas")
	case "number_of_physical_disks":
		return positive(1)
	case "physical_disks":
		if _, ok := v.([]any); !ok {
			return k + " must be an array"
		}
	default:
		return "Additional properties are not allowed ('" + k + "' was unexpected)"
	}
	return ""
}
