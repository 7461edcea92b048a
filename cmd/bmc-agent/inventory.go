package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/spf13/cobra"
)

// inventory is `node inventory NODE`: the hardware the node's last
// inspection found (GET /v1/nodes/{node}/inventory), as a summary table or,
// with -o json, Ironic's record unchanged.
func (n *nodeCmd) inventory() *cobra.Command {
	return &cobra.Command{
		Use:   "inventory NODE",
		Short: "Show the hardware the node's last inspection found",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := nodes.GetInventory(cmd.Context(), n.sc, args[0])
			data, err := r.Extract()
			if err != nil {
				return apiError("show the inventory of node "+args[0], err)
			}
			if n.out.format == "json" {
				return n.out.json(r.Body)
			}
			inv := data.Inventory
			v := inv.SystemVendor
			rows := [][]string{
				{"vendor", strings.TrimSpace(v.Manufacturer + " " + v.ProductName)},
				{"serial", v.SerialNumber},
				{"cpu", fmt.Sprintf("%d x %s (%s, %s MHz)", inv.CPU.Count, inv.CPU.ModelName, inv.CPU.Architecture, inv.CPU.Frequency)},
				{"memory_mb", strconv.Itoa(inv.Memory.PhysicalMb)},
				{"boot_mode", inv.Boot.CurrentBootMode},
			}
			for _, d := range inv.Disks {
				rows = append(rows, []string{"disk", fmt.Sprintf("%s %s %d GB", d.Name, d.Model, d.Size/1e9)})
			}
			for _, i := range inv.Interfaces {
				rows = append(rows, []string{"interface", strings.TrimSpace(fmt.Sprintf("%s %s %s", i.Name, i.MACAddress, i.Product))})
			}
			return n.out.table([]string{"FIELD", "VALUE"}, rows)
		},
	}
}

// inspectDone is the end of an inspection: it returns to the state it
// started from (manageable), so the end is a new inspection_finished_at
// with no target left, or "inspect failed".
func inspectDone(before *nodes.Node) doneFunc {
	return func(n *nodes.Node) outcome {
		switch {
		case isFailedState(n.ProvisionState):
			return failed
		case n.TargetProvisionState != "" || n.InspectionFinishedAt == nil:
			return pending
		case before.InspectionFinishedAt != nil && !n.InspectionFinishedAt.After(*before.InspectionFinishedAt):
			return pending
		}
		return succeeded
	}
}
