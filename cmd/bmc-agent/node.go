package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/spf13/cobra"
)

// nodeFields are shown by `node show`, in order.
var nodeFields = []string{"uuid", "name", "driver", "power_state", "target_power_state", "provision_state",
	"target_provision_state", "maintenance", "maintenance_reason", "fault", "last_error", "reservation",
	"driver_info", "properties", "instance_info", "extra", "conductor_group", "resource_class",
	"created_at", "updated_at"}

// nodeCmd is the state shared by the node subcommands.
type nodeCmd struct {
	cfg clientConfig
	sc  *gophercloud.ServiceClient
	out printer
}

func newNodeCmd() *cobra.Command {
	n := &nodeCmd{}
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Manage nodes through a running agent's API",
		Long: "Manage nodes through a running agent's API (the Ironic bare metal API, so these\n" +
			"commands work against Ironic too)." + envHelp("BMC_AGENT_"),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd, "BMC_AGENT_"); err != nil {
				return err
			}
			sc, err := n.cfg.client()
			if err != nil {
				return err
			}
			n.sc, n.out = sc, printer{w: cmd.OutOrStdout(), format: n.cfg.output}
			return nil
		},
	}
	n.cfg.flags(cmd)
	cmd.AddCommand(n.create(), n.list(), n.show(), n.set(), n.unset(), n.delete(), n.power(), n.bootDevice(),
		n.vmedia(), n.validate(), n.maintenance(), n.nmi(), n.inventory(), n.telemetry())
	for _, p := range provisionVerbs {
		cmd.AddCommand(n.provision(p))
	}
	return cmd
}

// keyValues parses repeated k=v flags; a value that is valid JSON (a
// number, true, an object) is taken as such, anything else as a string.
func keyValues(flag string, kvs []string) (map[string]any, error) {
	m := map[string]any{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, &usageError{fmt.Errorf("--%s %q: want key=value", flag, kv)}
		}
		m[k] = jsonOrString(v)
	}
	return m, nil
}

func jsonOrString(v string) any {
	var x any
	if err := json.Unmarshal([]byte(v), &x); err == nil {
		return x
	}
	return v
}

func (n *nodeCmd) create() *cobra.Command {
	var name, driver, rc, group string
	var info, props, extra []string
	cmd := &cobra.Command{
		Use:   "create --driver DRIVER [--name NAME] [--driver-info k=v ...]",
		Short: "Enroll a node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := nodes.CreateOpts{Driver: driver, Name: name, ResourceClass: rc, ConductorGroup: group}
			var err error
			if opts.DriverInfo, err = keyValues("driver-info", info); err != nil {
				return err
			}
			if opts.Properties, err = keyValues("property", props); err != nil {
				return err
			}
			if opts.Extra, err = keyValues("extra", extra); err != nil {
				return err
			}
			node, err := nodes.Create(cmd.Context(), n.sc, opts).Extract()
			if err != nil {
				return apiError("create node", err)
			}
			return n.out.fields(node, nodeFields)
		},
	}
	f := cmd.Flags()
	f.StringVar(&driver, "driver", "", "driver: fake, redfish or ipmi (required)")
	f.StringVar(&name, "name", "", "unique name")
	f.StringVar(&rc, "resource-class", "", "resource class")
	f.StringVar(&group, "group", "", "agent group (Ironic's conductor group)")
	f.StringArrayVar(&info, "driver-info", nil, "driver_info key=value (BMC address, credentials), repeatable")
	f.StringArrayVar(&props, "property", nil, "properties key=value, repeatable")
	f.StringArrayVar(&extra, "extra", nil, "extra key=value, repeatable")
	cmd.MarkFlagRequired("driver")
	return cmd
}

func (n *nodeCmd) list() *cobra.Command {
	var opts nodes.ListOpts
	var state string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List nodes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.ProvisionState = nodes.ProvisionState(state)
			pages, err := nodes.ListDetail(n.sc, opts).AllPages(cmd.Context())
			if err != nil {
				return apiError("list nodes", err)
			}
			all, err := nodes.ExtractNodes(pages)
			if err != nil {
				return apiError("list nodes", err)
			}
			if opts.Limit > 0 && len(all) > opts.Limit {
				all = all[:opts.Limit]
			}
			if n.cfg.output == "json" {
				return n.out.json(all)
			}
			rows := make([][]string, 0, len(all))
			for _, x := range all {
				rows = append(rows, []string{x.UUID, x.Name, x.Driver, orNone(x.PowerState), x.ProvisionState, strconv.FormatBool(x.Maintenance)})
			}
			return n.out.table([]string{"UUID", "NAME", "DRIVER", "POWER STATE", "PROVISIONING STATE", "MAINTENANCE"}, rows)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Driver, "driver", "", "only nodes with this driver")
	f.StringVar(&state, "provision-state", "", "only nodes in this provision state")
	f.BoolVar(&opts.Maintenance, "maintenance", false, "only nodes in maintenance")
	f.StringVar(&opts.ConductorGroup, "group", "", "only nodes of this agent group")
	f.IntVar(&opts.Limit, "limit", 0, "at most this many nodes")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

func (n *nodeCmd) show() *cobra.Command {
	return &cobra.Command{
		Use:   "show NODE",
		Short: "Show a node (by UUID or name)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			node, err := nodes.Get(cmd.Context(), n.sc, args[0]).Extract()
			if err != nil {
				return apiError("show node "+args[0], err)
			}
			return n.out.fields(node, nodeFields)
		},
	}
}

// patchFlags are the fields `node set` and `node unset` change.
var patchFlags = []struct{ flag, path, help string }{
	{"driver-info", "/driver_info", "driver_info"},
	{"property", "/properties", "properties"},
	{"extra", "/extra", "extra"},
	{"instance-info", "/instance_info", "instance_info"},
}

func (n *nodeCmd) set() *cobra.Command {
	vals := make([][]string, len(patchFlags))
	var name, driver, rc, desc string
	cmd := &cobra.Command{
		Use:   "set NODE [--name N] [--driver-info k=v ...]",
		Short: "Change a node's fields",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ops nodes.UpdateOpts
			for _, s := range []struct{ v, path string }{{name, "/name"}, {driver, "/driver"}, {rc, "/resource_class"}, {desc, "/description"}} {
				if s.v != "" {
					ops = append(ops, nodes.UpdateOperation{Op: nodes.ReplaceOp, Path: s.path, Value: s.v})
				}
			}
			for i, pf := range patchFlags {
				kv, err := keyValues(pf.flag, vals[i])
				if err != nil {
					return err
				}
				for k, v := range kv {
					ops = append(ops, nodes.UpdateOperation{Op: nodes.AddOp, Path: pf.path + "/" + escapePointer(k), Value: v})
				}
			}
			return n.patch(cmd.Context(), args[0], ops)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringVar(&driver, "driver", "", "new driver")
	f.StringVar(&rc, "resource-class", "", "new resource class")
	f.StringVar(&desc, "description", "", "new description")
	for i, pf := range patchFlags {
		f.StringArrayVar(&vals[i], pf.flag, nil, "set "+pf.help+" key=value, repeatable")
	}
	return cmd
}

func (n *nodeCmd) unset() *cobra.Command {
	keys := make([][]string, len(patchFlags))
	cmd := &cobra.Command{
		Use:   "unset NODE [--driver-info KEY ...]",
		Short: "Remove keys from a node's fields",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ops nodes.UpdateOpts
			for i, pf := range patchFlags {
				for _, k := range keys[i] {
					ops = append(ops, nodes.UpdateOperation{Op: nodes.RemoveOp, Path: pf.path + "/" + escapePointer(k)})
				}
			}
			return n.patch(cmd.Context(), args[0], ops)
		},
	}
	for i, pf := range patchFlags {
		cmd.Flags().StringArrayVar(&keys[i], pf.flag, nil, "remove this "+pf.help+" key, repeatable")
	}
	return cmd
}

func (n *nodeCmd) patch(ctx context.Context, ident string, ops nodes.UpdateOpts) error {
	if len(ops) == 0 {
		return &usageError{fmt.Errorf("nothing to change")}
	}
	node, err := nodes.Update(ctx, n.sc, ident, ops).Extract()
	if err != nil {
		return apiError("update node "+ident, err)
	}
	return n.out.fields(node, nodeFields)
}

// escapePointer escapes a key for a JSON Pointer (RFC 6901).
func escapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func (n *nodeCmd) delete() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NODE...",
		Short: "Delete nodes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, id := range args {
				if err := nodes.Delete(cmd.Context(), n.sc, id).ExtractErr(); err != nil {
					return apiError("delete node "+id, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted node %s\n", id)
			}
			return nil
		},
	}
}

var powerVerbs = map[string]nodes.TargetPowerState{
	"on": nodes.PowerOn, "off": nodes.PowerOff, "reboot": nodes.Rebooting,
	"soft-off": nodes.SoftPowerOff, "soft-reboot": nodes.SoftRebooting,
}

func (n *nodeCmd) power() *cobra.Command {
	var w waitFlags
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:       "power on|off|reboot|soft-off|soft-reboot NODE",
		Short:     "Change a node's power state",
		Args:      cobra.ExactArgs(2),
		ValidArgs: []string{"on", "off", "reboot", "soft-off", "soft-reboot"},
		RunE: func(cmd *cobra.Command, args []string) error {
			target, ok := powerVerbs[args[0]]
			if !ok {
				return &usageError{fmt.Errorf("unknown power action %q: want on, off, reboot, soft-off or soft-reboot", args[0])}
			}
			opts := nodes.PowerStateOpts{Target: target}
			if timeout > 0 {
				opts.Timeout = int(timeout.Seconds())
			}
			if err := nodes.ChangePowerState(cmd.Context(), n.sc, args[1], opts).ExtractErr(); err != nil {
				return apiError(fmt.Sprintf("power %s node %s", args[0], args[1]), err)
			}
			if !w.wait {
				fmt.Fprintf(cmd.OutOrStdout(), "node %s: %s requested\n", args[1], target)
				return nil
			}
			return n.waitFor(cmd.Context(), cmd.OutOrStdout(), args[1], w, powerDone)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "how long the agent may wait for the node to reach the state")
	w.flags(cmd)
	return cmd
}

func (n *nodeCmd) bootDevice() *cobra.Command {
	cmd := &cobra.Command{Use: "boot-device", Short: "Show or set a node's boot device"}
	var persistent, supported bool
	set := &cobra.Command{
		Use:   "set NODE DEVICE",
		Short: "Set the boot device (pxe, disk, cdrom, bios, safe, usb)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := nodes.BootDeviceOpts{BootDevice: args[1], Persistent: persistent}
			if err := nodes.SetBootDevice(cmd.Context(), n.sc, args[0], opts).ExtractErr(); err != nil {
				return apiError("set boot device of node "+args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node %s: boot device %s (persistent: %v)\n", args[0], args[1], persistent)
			return nil
		},
	}
	set.Flags().BoolVar(&persistent, "persistent", false, "keep the device for every boot, not only the next")
	show := &cobra.Command{
		Use:   "show NODE",
		Short: "Show the boot device",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if supported {
				devs, err := nodes.GetSupportedBootDevices(cmd.Context(), n.sc, args[0]).Extract()
				if err != nil {
					return apiError("supported boot devices of node "+args[0], err)
				}
				return n.out.fields(map[string]any{"supported_boot_devices": devs}, []string{"supported_boot_devices"})
			}
			bd, err := nodes.GetBootDevice(cmd.Context(), n.sc, args[0]).Extract()
			if err != nil {
				return apiError("boot device of node "+args[0], err)
			}
			return n.out.fields(bd, []string{"boot_device", "persistent"})
		},
	}
	show.Flags().BoolVar(&supported, "supported", false, "list the devices the node supports instead")
	cmd.AddCommand(set, show)
	return cmd
}

func (n *nodeCmd) vmedia() *cobra.Command {
	cmd := &cobra.Command{Use: "vmedia", Short: "Attach or detach virtual media"}
	var devType string
	attach := &cobra.Command{
		Use:   "attach NODE IMAGE_URL",
		Short: "Insert an image into the node's virtual media",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := nodes.AttachVirtualMediaOpts{DeviceType: nodes.VirtualMediaDeviceType(devType), ImageURL: args[1]}
			if err := nodes.AttachVirtualMedia(cmd.Context(), n.sc, args[0], opts).ExtractErr(); err != nil {
				return apiError("attach virtual media to node "+args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node %s: %s attached as %s\n", args[0], args[1], devType)
			return nil
		},
	}
	attach.Flags().StringVar(&devType, "device-type", "cdrom", "device type: cdrom, disk or floppy")
	var detachType string
	detach := &cobra.Command{
		Use:   "detach NODE",
		Short: "Eject the node's virtual media",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts nodes.DetachVirtualMediaOpts
			if detachType != "" {
				opts.DeviceTypes = []nodes.VirtualMediaDeviceType{nodes.VirtualMediaDeviceType(detachType)}
			}
			if err := nodes.DetachVirtualMedia(cmd.Context(), n.sc, args[0], opts).ExtractErr(); err != nil {
				return apiError("detach virtual media of node "+args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node %s: virtual media detached\n", args[0])
			return nil
		},
	}
	detach.Flags().StringVar(&detachType, "device-type", "", "only this device type (default: all)")
	cmd.AddCommand(attach, detach)
	return cmd
}

func (n *nodeCmd) validate() *cobra.Command {
	return &cobra.Command{
		Use:   "validate NODE",
		Short: "Validate the node's driver interfaces",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := nodes.Validate(cmd.Context(), n.sc, args[0])
			if r.Err != nil {
				return apiError("validate node "+args[0], r.Err)
			}
			var body map[string]struct {
				Result *bool  `json:"result"`
				Reason string `json:"reason"`
			}
			if err := r.ExtractInto(&body); err != nil {
				return err
			}
			if n.cfg.output == "json" {
				return n.out.json(body)
			}
			names := make([]string, 0, len(body))
			for k := range body {
				names = append(names, k)
			}
			sortStrings(names)
			rows := make([][]string, 0, len(names))
			for _, k := range names {
				res := "None"
				if v := body[k].Result; v != nil {
					res = strconv.FormatBool(*v)
				}
				rows = append(rows, []string{k, res, body[k].Reason})
			}
			return n.out.table([]string{"INTERFACE", "RESULT", "REASON"}, rows)
		},
	}
}

func (n *nodeCmd) maintenance() *cobra.Command {
	cmd := &cobra.Command{Use: "maintenance", Short: "Put a node into maintenance or take it out"}
	var reason string
	set := &cobra.Command{
		Use:   "set NODE",
		Short: "Put the node into maintenance",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nodes.SetMaintenance(cmd.Context(), n.sc, args[0], nodes.MaintenanceOpts{Reason: reason}).ExtractErr(); err != nil {
				return apiError("set maintenance of node "+args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node %s: in maintenance\n", args[0])
			return nil
		},
	}
	set.Flags().StringVar(&reason, "reason", "", "why")
	unset := &cobra.Command{
		Use:   "unset NODE",
		Short: "Take the node out of maintenance",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nodes.UnsetMaintenance(cmd.Context(), n.sc, args[0]).ExtractErr(); err != nil {
				return apiError("unset maintenance of node "+args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node %s: out of maintenance\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(set, unset)
	return cmd
}

func (n *nodeCmd) nmi() *cobra.Command {
	return &cobra.Command{
		Use:   "inject-nmi NODE",
		Short: "Send a diagnostic interrupt to the node",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nodes.InjectNMI(cmd.Context(), n.sc, args[0]).ExtractErr(); err != nil {
				return apiError("inject NMI into node "+args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node %s: NMI injected\n", args[0])
			return nil
		},
	}
}

// provisionVerb is a provision subcommand and the API target it sends.
type provisionVerb struct {
	use, short string
	target     nodes.TargetProvisionState
}

var provisionVerbs = []provisionVerb{
	{"manage", "Verify the node's BMC access and make it manageable", nodes.TargetManage},
	{"provide", "Make a manageable node available", nodes.TargetProvide},
	{"inspect", "Inspect a manageable node", nodes.TargetInspect},
	{"deploy", "Deploy an available node (boot its instance_info.boot_iso from virtual media)", nodes.TargetActive},
	{"undeploy", "Undeploy an active node", nodes.TargetDeleted},
	{"abort", "Abort the node's current provisioning operation", nodes.TargetAbort},
}

func (n *nodeCmd) provision(v provisionVerb) *cobra.Command {
	var w waitFlags
	var bootISO string
	cmd := &cobra.Command{
		Use:   v.use + " NODE",
		Short: v.short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, id := cmd.Context(), args[0]
			if bootISO != "" {
				op := nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/boot_iso", Value: bootISO}
				if _, err := nodes.Update(ctx, n.sc, id, nodes.UpdateOpts{op}).Extract(); err != nil {
					return apiError("set instance_info/boot_iso of node "+id, err)
				}
			}
			before, err := nodes.Get(ctx, n.sc, id).Extract()
			if err != nil {
				return apiError("show node "+id, err)
			}
			err = nodes.ChangeProvisionState(ctx, n.sc, id, nodes.ProvisionStateOpts{Target: v.target}).ExtractErr()
			if err != nil {
				return apiError(fmt.Sprintf("%s node %s", v.use, id), err)
			}
			if !w.wait {
				fmt.Fprintf(cmd.OutOrStdout(), "node %s: %s requested\n", id, v.use)
				return nil
			}
			done := provisionDone(before.ProvisionState)
			if v.target == nodes.TargetInspect {
				done = inspectDone(before) // ends where it began
			}
			return n.waitFor(ctx, cmd.OutOrStdout(), id, w, done)
		},
	}
	if v.target == nodes.TargetActive {
		cmd.Flags().StringVar(&bootISO, "boot-iso", "", "set instance_info.boot_iso to this URL first")
	}
	w.flags(cmd)
	return cmd
}
