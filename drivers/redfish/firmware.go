package redfish

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/stmcginnis/gofish/common"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Firmware implements drivers.FirmwareGetter: the BIOS and BMC entries of
// the BMC's firmware inventory (UpdateService/FirmwareInventory), told
// apart by what each names in RelatedItem: the node's ComputerSystem for
// the BIOS, a Manager that manages it for the BMC. A BMC with no
// UpdateService or FirmwareInventory has no inventory (ErrUnsupported).
// Read-only.
//
// Ironic's redfish firmware interface reads the same two components
// (ironic/drivers/modules/redfish/firmware.py, cache_firmware_components,
// from the system's BiosVersion and the manager's FirmwareVersion); the
// inventory is where DMTF's UpdateService schema lists them with their
// release dates.
func (d *Driver) Firmware(ctx context.Context, n drivers.Node) ([]drivers.FirmwareComponent, error) {
	var out []drivers.FirmwareComponent
	err := d.run(ctx, n, drivers.ManagementInterface, "read firmware inventory", func(cl *call) error {
		inv, err := cl.firmwareInventory()
		if err != nil {
			return err
		}
		sysPath, err := cl.systemPath()
		if err != nil {
			return err
		}
		s, err := cl.system()
		if err != nil {
			return err
		}
		managers, err := s.ManagedBy()
		if err != nil {
			return err
		}
		var managerPaths []string
		for _, m := range managers {
			managerPaths = append(managerPaths, trimSlash(m.ODataID))
		}
		col, err := common.GetCollection(cl, inv)
		if err != nil {
			return err
		}
		for _, link := range col.ItemLinks {
			var item struct {
				Version     string
				ReleaseDate string
				RelatedItem []struct {
					ID string `json:"@odata.id"`
				}
			}
			if err := cl.getJSON(link, &item); err != nil {
				return err
			}
			comp := ""
			for _, rel := range item.RelatedItem {
				switch p := trimSlash(rel.ID); {
				case p == trimSlash(sysPath):
					comp = drivers.FirmwareBIOS
				case slices.Contains(managerPaths, p):
					comp = drivers.FirmwareBMC
				}
			}
			if comp == "" || item.Version == "" {
				continue
			}
			c := drivers.FirmwareComponent{Component: comp, Version: item.Version}
			if t, err := time.Parse(time.RFC3339, item.ReleaseDate); err == nil {
				c.ReleasedAt = &t
			}
			out = append(out, c)
		}
		slices.SortFunc(out, func(a, b drivers.FirmwareComponent) int { return cmp.Compare(a.Component, b.Component) })
		return nil
	})
	return out, err
}

// firmwareInventory finds the FirmwareInventory collection from the
// service root's UpdateService.
func (cl *call) firmwareInventory() (string, error) {
	var root struct {
		UpdateService *struct {
			ID string `json:"@odata.id"`
		}
	}
	if err := cl.getJSON(serviceRoot, &root); err != nil {
		return "", err
	}
	if root.UpdateService == nil || root.UpdateService.ID == "" {
		return "", fmt.Errorf("%w: the BMC has no UpdateService", drivers.ErrUnsupported)
	}
	var us struct {
		FirmwareInventory *struct {
			ID string `json:"@odata.id"`
		}
	}
	if err := cl.getJSON(root.UpdateService.ID, &us); err != nil {
		return "", err
	}
	if us.FirmwareInventory == nil || us.FirmwareInventory.ID == "" {
		return "", fmt.Errorf("%w: the BMC's UpdateService has no FirmwareInventory", drivers.ErrUnsupported)
	}
	return us.FirmwareInventory.ID, nil
}

// getJSON GETs a resource and decodes it into v.
func (cl *call) getJSON(path string, v any) error {
	resp, err := cl.exchange(request{method: http.MethodGet, path: path})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %v", drivers.ErrBMCFailed, path, err)
	}
	return nil
}

func trimSlash(p string) string {
	for len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

var _ drivers.FirmwareGetter = (*Driver)(nil)
