package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/spf13/cobra"
)

// telemetryDoc is the answer of GET /v1/nodes/{node}/telemetry (docs/api.md).
type telemetryDoc struct {
	NodeUUID string  `json:"node_uuid"`
	Interval float64 `json:"interval"`
	BMC      struct {
		State        string     `json:"state"`
		ReadDuration *float64   `json:"read_duration"`
		LastSuccess  *time.Time `json:"last_success_at"`
		Age          *float64   `json:"age"`
		LastError    *string    `json:"last_error"`
	} `json:"bmc"`
	Readings       *drivers.Telemetry `json:"readings"`
	SensorsDropped int                `json:"sensors_dropped"`
	Message        string             `json:"message"`
}

// units of the sensor kinds, for the table.
var units = map[drivers.SensorKind]string{
	drivers.SensorTemperature: "°C", drivers.SensorFan: "RPM", drivers.SensorVoltage: "V",
	drivers.SensorCurrent: "A", drivers.SensorPower: "W",
}

func (n *nodeCmd) telemetry() *cobra.Command {
	return &cobra.Command{
		Use:   "telemetry NODE",
		Short: "Show the node's BMC telemetry as the agent last read it (health, power, sensors)",
		Long: "Show the node's BMC telemetry as the agent that owns it last read it: the BMC's\n" +
			"state, the health rollup, the power draw, every sensor and power supply, and how\n" +
			"old the readings are. No BMC is called: the agent serves its cache.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var raw json.RawMessage
			_, err := n.sc.Get(cmd.Context(), n.sc.ServiceURL("nodes", args[0], "telemetry"), &raw, nil)
			if err != nil {
				return apiError("show the telemetry of node "+args[0], err)
			}
			if n.out.format == "json" {
				return n.out.json(raw)
			}
			var doc telemetryDoc
			if err := json.Unmarshal(raw, &doc); err != nil {
				return fmt.Errorf("telemetry of node %s: %w", args[0], err)
			}
			return n.out.table([]string{"KIND", "NAME", "CONTEXT", "READING", "HEALTH"}, telemetryRows(doc))
		},
	}
}

// telemetryRows lays the document out as one table: the BMC's state first,
// then the readings.
func telemetryRows(d telemetryDoc) [][]string {
	b := d.BMC
	rows := [][]string{{"bmc", "state", "", b.State, ""}}
	if b.Age != nil {
		rows = append(rows, []string{"bmc", "age", "", (time.Duration(*b.Age) * time.Second).String(), ""})
	}
	if b.ReadDuration != nil {
		rows = append(rows, []string{"bmc", "read duration", "", strconv.FormatFloat(*b.ReadDuration, 'f', 3, 64) + " s", ""})
	}
	if b.LastError != nil {
		rows = append(rows, []string{"bmc", "last error", "", *b.LastError, ""})
	}
	if d.Message != "" {
		rows = append(rows, []string{"message", "", "", d.Message, ""})
	}
	t := d.Readings
	if t == nil {
		return rows
	}
	if t.Vendor != "" || t.Model != "" || t.FirmwareVersion != "" {
		rows = append(rows, []string{"info", t.Vendor + " " + t.Model, "", "firmware " + t.FirmwareVersion, ""})
	}
	rows = append(rows, []string{"health", "rollup", "", "", string(t.Health)})
	for _, p := range t.Parts {
		rows = append(rows, []string{"health", p.Resource + " " + p.ID, "", "", string(p.Health)})
	}
	if t.PowerWatts != nil {
		rows = append(rows, []string{"power", "consumption", "", num(*t.PowerWatts) + " W", ""})
	}
	for _, s := range t.Sensors {
		unit := units[s.Kind]
		if s.Percent {
			unit = "%"
		}
		rows = append(rows, []string{string(s.Kind), s.Name, s.Context, num(s.Reading) + " " + unit, string(s.Health)})
	}
	for _, p := range t.PowerSupplies {
		in := ""
		if p.InputWatts != nil {
			in = "in " + num(*p.InputWatts) + " W"
		}
		rows = append(rows, []string{"power_supply", p.Name, p.State, in, string(p.Health)})
	}
	if d.SensorsDropped > 0 {
		rows = append(rows, []string{"dropped", strconv.Itoa(d.SensorsDropped) + " sensors over the cap", "", "", ""})
	}
	return rows
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
