package simulator

import (
	"fmt"
	"strconv"
	"strings"
)

// This file is the Redfish face of the sensor model (sensors.go): the
// Chassis' power and thermal resources in the two schema generations.
//
//   - Power and Thermal (deprecated by DMTF in Redfish 2020.4, DSP8010:
//     Power v1_7_0 and Thermal v1_7_0 point to the new schemas): PowerControl
//     with PowerConsumedWatts, PowerSupplies and Voltages in Power;
//     Temperatures and Fans in Thermal, each an array in one resource.
//   - PowerSubsystem (PowerSupplies collection, each with its Metrics),
//     ThermalSubsystem (ThermalMetrics with TemperatureReadingsCelsius, Fans
//     collection), EnvironmentMetrics (PowerWatts) and the Sensors
//     collection, one resource per sensor.
//
// Which generation the Chassis links is Quirks.Telemetry (both by default);
// the profiles set it from their public sources (profile.go). Percent fans
// and power supplies without input watts are Quirks.FanPercent and
// Quirks.NoPSUInputWatts. The documents are built per request from one
// Telemetry snapshot, so every resource of one read agrees with
// System.Telemetry at the same clock, and they are served through the same
// document path as the inventory (kInv), $expand included.

// telemetryRoots are the Chassis sub-resources of this file, by the first
// path segment below the Chassis.
var telemetryRoots = map[string]TelemetrySchema{
	"Power": TelemetryLegacy, "Thermal": TelemetryLegacy,
	"PowerSubsystem": TelemetryModern, "ThermalSubsystem": TelemetryModern,
	"EnvironmentMetrics": TelemetryModern, "Sensors": TelemetryModern,
}

// servesSchema reports whether a system links the generation g.
func servesSchema(q *Quirks, g TelemetrySchema) bool {
	return q.Telemetry == TelemetryBoth || q.Telemetry == g
}

// telemetryRoute resolves a path below a Chassis to a telemetry document,
// if it names one the system serves.
func telemetryRoute(rt route, n names, rest string) (route, bool) {
	seg, _ := nextSeg(rest)
	g, ok := telemetryRoots[seg]
	if !ok || !servesSchema(rt.sys.q(), g) {
		return rt, false
	}
	docs := telemetryDocs(rt.sys, n)
	if _, ok := docs[rt.path]; !ok {
		return rt, false
	}
	rt.kind, rt.inv = kInv, docs
	return rt, true
}

// chassisTelemetryLinks writes the Chassis' links to the generations it
// serves.
func chassisTelemetryLinks(w *jw, sys *System, self string) {
	q := sys.q()
	if servesSchema(q, TelemetryLegacy) {
		w.link("Power", self+"/Power")
		w.link("Thermal", self+"/Thermal")
	}
	if servesSchema(q, TelemetryModern) {
		w.link("PowerSubsystem", self+"/PowerSubsystem")
		w.link("ThermalSubsystem", self+"/ThermalSubsystem")
		w.link("EnvironmentMetrics", self+"/EnvironmentMetrics")
		w.link("Sensors", self+"/Sensors")
	}
}

// statusRollup writes a Status with the resource's own health and the
// rollup of its subordinates.
func statusRollup(w *jw, rollup string) {
	w.key("Status")
	w.obj()
	w.kv("State", "Enabled")
	w.kv("Health", HealthOK)
	w.kv("HealthRollup", rollup)
	w.end()
}

// sensorID is the Redfish Id of a sensor's resource: its name without
// spaces, dots as underscores ("CPU1 Temp" is CPU1Temp, "3.3V" is 3_3V).
func sensorID(name string) string {
	return strings.NewReplacer(" ", "", ".", "_").Replace(name)
}

// readingType is the Sensor ReadingType and UCUM ReadingUnits of a sensor
// (Sensor schema: Rotational is RPM, Percent is %).
func readingType(s Sensor) (typ, units string) {
	switch {
	case s.Kind == "temperature":
		return "Temperature", "Cel"
	case s.Kind == "fan" && s.Units == "Percent":
		return "Percent", "%"
	case s.Kind == "fan":
		return "Rotational", "RPM"
	case s.Kind == "voltage":
		return "Voltage", "V"
	case s.Kind == "current":
		return "Current", "A"
	}
	return "Power", "W"
}

// partStatus returns the Status object of an enabled part.
func partStatus(health string) hwDoc { return hwDoc{"State": "Enabled", "Health": health} }

// telemetryDocs builds the system's telemetry documents, keyed by path,
// from one snapshot.
func telemetryDocs(sys *System, n names) map[string]hwDoc {
	t := sys.Telemetry()
	q := sys.q()
	v := sys.view()
	cp := chassisPath + "/" + n.ch
	// The ETag changes with the power state, the parts' health and the
	// quirks (gen.system) and with each step of the readings.
	etag := fmt.Sprintf(`"t%d.%d"`, v.gen.system, sys.now().UnixNano()/int64(variationStep))
	out := map[string]hwDoc{}
	add := func(d hwDoc) string {
		p := d["@odata.id"].(string)
		d["@odata.etag"] = etag
		out[p] = d
		return p
	}
	if servesSchema(q, TelemetryLegacy) {
		legacyDocs(add, t, q, cp)
	}
	if servesSchema(q, TelemetryModern) {
		modernDocs(add, t, q, cp)
	}
	return out
}

// legacyDocs builds Power and Thermal.
func legacyDocs(add func(hwDoc) string, t Telemetry, q *Quirks, cp string) {
	var volts, temps, fans, psus []any
	for _, s := range t.Sensors {
		item := hwDoc{"Name": s.Name, "PhysicalContext": s.Context, "Status": partStatus(s.Health)}
		if s.UpperCritical != 0 {
			item["UpperThresholdCritical"] = s.UpperCritical
		}
		switch s.Kind {
		case "voltage":
			item["ReadingVolts"] = s.Reading
			item["MemberId"] = strconv.Itoa(len(volts))
			item["@odata.id"] = cp + "/Power#/Voltages/" + item["MemberId"].(string)
			volts = append(volts, item)
		case "temperature":
			item["ReadingCelsius"] = s.Reading
			item["MemberId"] = strconv.Itoa(len(temps))
			item["@odata.id"] = cp + "/Thermal#/Temperatures/" + item["MemberId"].(string)
			temps = append(temps, item)
		case "fan":
			item["Reading"] = s.Reading
			item["ReadingUnits"] = s.Units
			item["MemberId"] = strconv.Itoa(len(fans))
			item["@odata.id"] = cp + "/Thermal#/Fans/" + item["MemberId"].(string)
			fans = append(fans, item)
		}
	}
	for i, ps := range t.PowerSupplies {
		item := hwDoc{
			"@odata.id": cp + "/Power#/PowerSupplies/" + strconv.Itoa(i), "MemberId": strconv.Itoa(i),
			"Name": ps.Name, "Status": hwDoc{"State": ps.State, "Health": ps.Health},
		}
		if ps.InputWatts != 0 {
			item["PowerInputWatts"] = ps.InputWatts
		}
		if ps.OutputWatts != 0 {
			if q.NoPSUInputWatts {
				// iLO's form: the output only, as LastPowerOutputWatts.
				item["LastPowerOutputWatts"] = ps.OutputWatts
			} else {
				item["PowerOutputWatts"] = ps.OutputWatts
			}
		}
		psus = append(psus, item)
	}
	add(hwDoc{
		"@odata.id": cp + "/Power", "@odata.type": "#Power.v1_7_1.Power", "Id": "Power", "Name": "Power",
		"PowerControl": []any{hwDoc{
			"@odata.id": cp + "/Power#/PowerControl/0", "MemberId": "0", "Name": "System Power Control",
			"PowerConsumedWatts": t.PowerWatts, "Status": partStatus(HealthOK),
		}},
		"PowerSupplies": psus, "Voltages": volts,
	})
	add(hwDoc{
		"@odata.id": cp + "/Thermal", "@odata.type": "#Thermal.v1_7_1.Thermal", "Id": "Thermal", "Name": "Thermal",
		"Temperatures": temps, "Fans": fans,
	})
}

// modernDocs builds PowerSubsystem, ThermalSubsystem, EnvironmentMetrics
// and Sensors.
func modernDocs(add func(hwDoc) string, t Telemetry, q *Quirks, cp string) {
	var sensors, fanLinks []string
	var temps []any
	for _, s := range t.Sensors {
		id := sensorID(s.Name)
		typ, units := readingType(s)
		sp := cp + "/Sensors/" + id
		d := hwDoc{
			"@odata.id": sp, "@odata.type": "#Sensor.v1_7_0.Sensor", "Id": id, "Name": s.Name,
			"ReadingType": typ, "Reading": s.Reading, "ReadingUnits": units,
			"PhysicalContext": s.Context, "Status": partStatus(s.Health),
		}
		if s.UpperCritical != 0 {
			d["Thresholds"] = hwDoc{"UpperCritical": hwDoc{"Reading": s.UpperCritical}}
		}
		sensors = append(sensors, add(d))
		switch s.Kind {
		case "temperature":
			temps = append(temps, hwDoc{"DataSourceUri": sp, "DeviceName": s.Name, "PhysicalContext": s.Context, "Reading": s.Reading})
		case "fan":
			speed := hwDoc{"DataSourceUri": sp}
			if s.Units == "Percent" {
				speed["Reading"] = s.Reading
			} else {
				speed["SpeedRPM"] = s.Reading
			}
			fanLinks = append(fanLinks, add(hwDoc{
				"@odata.id": cp + "/ThermalSubsystem/Fans/" + id, "@odata.type": "#Fan.v1_3_0.Fan",
				"Id": id, "Name": s.Name, "PhysicalContext": s.Context, "SpeedPercent": speed,
				"Status": partStatus(s.Health),
			}))
		}
	}
	add(collection(cp+"/Sensors", "SensorCollection", "Sensors", sensors))
	add(collection(cp+"/ThermalSubsystem/Fans", "FanCollection", "Fans", fanLinks))
	add(hwDoc{
		"@odata.id": cp + "/ThermalSubsystem/ThermalMetrics", "@odata.type": "#ThermalMetrics.v1_0_1.ThermalMetrics",
		"Id": "ThermalMetrics", "Name": "Thermal Metrics", "TemperatureReadingsCelsius": temps,
	})
	add(hwDoc{
		"@odata.id": cp + "/ThermalSubsystem", "@odata.type": "#ThermalSubsystem.v1_0_0.ThermalSubsystem",
		"Id": "ThermalSubsystem", "Name": "Thermal Subsystem", "Status": partStatus(HealthOK),
		"Fans": link(cp + "/ThermalSubsystem/Fans"), "ThermalMetrics": link(cp + "/ThermalSubsystem/ThermalMetrics"),
	})
	var psus []string
	for _, ps := range t.PowerSupplies {
		pp := cp + "/PowerSubsystem/PowerSupplies/" + ps.Name
		m := hwDoc{
			"@odata.id": pp + "/Metrics", "@odata.type": "#PowerSupplyMetrics.v1_0_1.PowerSupplyMetrics",
			"Id": "Metrics", "Name": ps.Name + " Metrics", "Status": hwDoc{"State": ps.State, "Health": ps.Health},
		}
		if ps.InputWatts != 0 {
			m["InputPowerWatts"] = hwDoc{"Reading": ps.InputWatts}
		}
		if ps.OutputWatts != 0 {
			m["OutputPowerWatts"] = hwDoc{"Reading": ps.OutputWatts}
		}
		add(m)
		psus = append(psus, add(hwDoc{
			"@odata.id": pp, "@odata.type": "#PowerSupply.v1_5_0.PowerSupply", "Id": ps.Name, "Name": ps.Name,
			"Status": hwDoc{"State": ps.State, "Health": ps.Health}, "Metrics": link(pp + "/Metrics"),
		}))
	}
	add(collection(cp+"/PowerSubsystem/PowerSupplies", "PowerSupplyCollection", "Power Supplies", psus))
	add(hwDoc{
		"@odata.id": cp + "/PowerSubsystem", "@odata.type": "#PowerSubsystem.v1_1_0.PowerSubsystem",
		"Id": "PowerSubsystem", "Name": "Power Subsystem", "Status": partStatus(HealthOK),
		"PowerSupplies": link(cp + "/PowerSubsystem/PowerSupplies"),
	})
	add(hwDoc{
		"@odata.id": cp + "/EnvironmentMetrics", "@odata.type": "#EnvironmentMetrics.v1_3_0.EnvironmentMetrics",
		"Id": "EnvironmentMetrics", "Name": "Chassis Environment Metrics", "PowerWatts": hwDoc{"Reading": t.PowerWatts},
	})
}
