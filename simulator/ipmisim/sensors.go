package ipmisim

import (
	"context"
	"encoding/binary"
	"math"
	"time"

	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmc-agent/bmc-agent/simulator"
)

// What a system's BMC tells over IPMI of its sensors: an SDR repository
// holding one Full Sensor Record per sensor of System.Telemetry (IPMI v2.0
// §43.1), Get Sensor Reading (§35.14) and Get Sensor Thresholds (§35.9) on
// them, and the DCMI power reading (DCMI v1.5 §6.6.1). Everything is
// computed from System.Telemetry at the moment of the request, so what
// ipmitool shows is what the Redfish face serves, to the records'
// conversion resolution. A sensor the model lacks has no record.

// sdrKind is how the sensors of one model kind are described in their
// records: the sensor type (IPMI v2.0 Table 42-3), the base unit (Table
// 43-15) and the conversion step used when the sensor has no threshold to
// size its range from.
type sdrKind struct {
	sensorType byte
	unit       byte
	step       float64
	// low: the kind fails low (a fan stops), so its status is reported
	// against lower thresholds; the others fail high.
	low bool
}

// sdrKinds are the model's kinds the SDR repository describes.
var sdrKinds = map[string]sdrKind{
	"temperature": {sensorType: 0x01, unit: 1, step: 0.5}, // degrees C
	"voltage":     {sensorType: 0x02, unit: 4, step: 0.1}, // Volts
	"current":     {sensorType: 0x03, unit: 5, step: 0.1}, // Amps
	"fan":         {sensorType: 0x04, unit: 18, step: 100, low: true},
	// Watts: no sensor type of Table 42-3 is power, so "Other
	// Units-based Sensor" (0Bh), as BMCs publish their power meters.
	"power": {sensorType: 0x0b, unit: 6, step: 10},
}

// percentStep is the conversion step of a fan that reads in percent.
const percentStep = 0.5

// entities maps the model's Redfish PhysicalContext to an IPMI entity ID
// (IPMI v2.0 Table 43-13). A context without one (Exhaust) is given
// "unspecified" (00h), so a reader learns nothing wrong from it.
var entities = map[string]byte{
	"CPU":         0x03, // processor
	"SystemBoard": 0x07, // system board
	"PowerSupply": 0x0a, // power supply
	"Fan":         0x1d, // fan / cooling device
	"Intake":      0x37, // air inlet
}

// Constants of the records and readings.
const (
	sdrVersion      = 0x51 // IPMI v1.5/v2.0 SDR format (§43)
	sdrTypeFull     = 0x01 // Full Sensor Record
	bmcSlaveAddress = 0x20 // the BMC owns every sensor (§5.5)
	maxIDLength     = 16   // ID string bytes of a Full Sensor Record
	// Threshold comparison bits of Get Sensor Reading byte 3 (§35.14) and
	// of the threshold masks (§35.9, Table 43-1 bytes 19-20).
	atLNC = 1 << 0
	atLCR = 1 << 1
	atUNC = 1 << 3
	atUCR = 1 << 4
)

// sdrSensor is one sensor as the repository describes it.
type sdrSensor struct {
	simulator.Sensor
	kind     sdrKind
	number   byte // sensor number and record ID
	instance byte // entity instance, counted per entity
	m        int  // reading = m * 10^rexp * raw
	rexp     int
}

// step is the value of one raw count.
func (s sdrSensor) step() float64 { return float64(s.m) * math.Pow10(s.rexp) }

// raw converts a value in the sensor's unit to its raw count, rounded and
// clamped to the unsigned 8-bit range (§36.3).
func (s sdrSensor) raw(v float64) byte {
	r := math.Round(v / s.step())
	return byte(math.Max(0, math.Min(255, r)))
}

// sdrSensors lists the system's sensors that have a record, numbered from 1
// in the model's order.
func (s *sysBMC) sdrSensors() []sdrSensor {
	tel := s.sys.Telemetry()
	out := make([]sdrSensor, 0, len(tel.Sensors))
	instances := make(map[byte]byte)
	for _, sn := range tel.Sensors {
		k, ok := sdrKinds[sn.Kind]
		if !ok || len(out) == 254 {
			continue
		}
		step := k.step
		if sn.Units == "Percent" {
			step = percentStep
		}
		if sn.UpperCritical > 0 {
			// Room for a quarter above the threshold.
			step = sn.UpperCritical * 1.25 / 255
		}
		m, rexp := factors(step)
		e := entities[sn.Context]
		instances[e]++
		out = append(out, sdrSensor{Sensor: sn, kind: k, number: byte(len(out) + 1), instance: instances[e], m: m, rexp: rexp})
	}
	return out
}

// factors picks the smallest conversion step of the form m * 10^rexp, m in
// {1, 2, 5}, that is at least step: M and R (K2) of the conversion formula
// y = (M*x + B*10^K1) * 10^K2 (IPMI v2.0 §36.3), B being 0.
func factors(step float64) (m, rexp int) {
	rexp = int(math.Floor(math.Log10(step)))
	for {
		for _, m := range []int{1, 2, 5} {
			if float64(m)*math.Pow10(rexp) >= step*(1-1e-9) {
				return m, rexp
			}
		}
		rexp++
	}
}

// fullRecord renders s as a Full Sensor Record (IPMI v2.0 §43.1, Table
// 43-1); offsets below are the table's byte numbers minus one.
func (s sdrSensor) fullRecord() []byte {
	name := s.Name
	if len(name) > maxIDLength {
		name = name[:maxIDLength]
	}
	r := make([]byte, 48, 48+len(name))
	binary.LittleEndian.PutUint16(r[0:], uint16(s.number)) // record ID
	r[2] = sdrVersion
	r[3] = sdrTypeFull
	r[4] = byte(48 - 5 + len(name)) // bytes after the header
	r[5] = bmcSlaveAddress
	r[6] = 0 // LUN 0, channel 0
	r[7] = s.number
	r[8] = entities[s.Context]
	r[9] = s.instance // physical entity
	// Sensor initialization: init scanning and events, scanning
	// enabled; no events generated.
	r[10] = 0x40 | 0x20 | 0x01
	// Capabilities: auto re-arm, no hysteresis, thresholds readable,
	// no event messages (11b).
	r[11] = 0x40 | 0x01<<2 | 0x03
	r[12] = s.kind.sensorType
	r[13] = 0x01 // threshold event/reading type
	// Threshold comparisons returned by Get Sensor Reading: lower
	// non-critical and critical (bits 12, 13 of bytes 15-16), upper
	// non-critical and critical (bytes 17-18); no events asserted.
	r[15] = 0x30
	r[17] = 0x30
	// Readable thresholds (byte 19): the upper critical one, if any.
	if s.UpperCritical > 0 {
		r[18] = atUCR
	}
	if s.Units == "Percent" {
		r[20] = 0x01 // unsigned, percentage, base unit unspecified
	} else {
		r[21] = s.kind.unit
	}
	r[23] = 0x00 // linear
	r[24] = byte(s.m)
	r[25] = byte(s.m>>8) << 6 // M's top bits; tolerance 0
	// B, accuracy, direction: 0. R (K2) and B (K1) exponents, 4 bits
	// each, two's complement.
	r[29] = byte(s.rexp&0x0f) << 4
	r[34] = 0xff // sensor maximum reading
	r[35] = 0x00 // sensor minimum reading
	if s.UpperCritical > 0 {
		r[37] = s.raw(s.UpperCritical)
	}
	r[47] = 0xc0 | byte(len(name)) // 8-bit ASCII + Latin 1
	return append(r, name...)
}

// status is the threshold comparison byte of Get Sensor Reading for the
// sensor's health: Warning past a non-critical threshold, Critical past a
// critical one (and so past the non-critical too), below for kinds that
// fail low.
func (s sdrSensor) status() byte {
	var b byte
	switch s.Health {
	case simulator.HealthWarning:
		b = atUNC
	case simulator.HealthCritical:
		b = atUNC | atUCR
	default:
		return 0
	}
	if s.kind.low {
		b >>= 3 // UNC/UCR bits to LNC/LCR
	}
	return b
}

// sdrStore is the system's SDR repository for go-ipmi's Get SDR Repository
// Info and Reserve SDR Repository handlers (and the face's Get SDR): record
// IDs are sensor numbers. It writes nothing.
type sdrStore struct{ s *sysBMC }

func (st sdrStore) Read(_ context.Context, id uint16) ([]byte, error) {
	for _, sn := range st.s.sdrSensors() {
		if uint16(sn.number) == id {
			return sn.fullRecord(), nil
		}
	}
	return nil, hal.ErrNotFound
}

func (st sdrStore) RecordIDs(context.Context) ([]uint16, error) {
	sensors := st.s.sdrSensors()
	ids := make([]uint16, len(sensors))
	for i, sn := range sensors {
		ids[i] = uint16(sn.number)
	}
	return ids, nil
}

func (sdrStore) Write(context.Context, uint16, []byte) error { return hal.ErrNotSupported }
func (sdrStore) Delete(context.Context, uint16) error        { return hal.ErrNotSupported }

// sensorOf returns the sensor a Sensor/Event request names in its first
// byte, or the completion code of a request that names none.
func (s *sysBMC) sensorOf(req []byte) (sdrSensor, types.CompletionCode) {
	if len(req) < 1 {
		return sdrSensor{}, types.CodeRequestDataLengthInvalid
	}
	for _, sn := range s.sdrSensors() {
		if sn.number == req[0] {
			return sn, types.CodeOK
		}
	}
	return sdrSensor{}, types.CodeRequestedDataNotPresent
}

// getSDR implements Get SDR (Storage 0x23, IPMI v2.0 §33.12): a part of a
// record, from offset 0 (the header, which ipmitool reads first) or later
// (under a reservation, §33.11). It replaces go-ipmi's handler, which caps
// a read at 16 bytes: ipmitool would then shrink its reads one byte per
// refused request. Here a read ends at the record's end.
func (s *sysBMC) getSDR(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if len(req) < 6 {
		return nil, types.CodeRequestDataLengthInvalid, nil
	}
	reservation := binary.LittleEndian.Uint16(req[0:])
	id := binary.LittleEndian.Uint16(req[2:])
	offset, count := int(req[4]), int(req[5])
	if offset > 0 && !hctx.BMC.SDRRepo.Validate(reservation) {
		return nil, types.CodeReservationCanceled, nil
	}
	record, next, err := hctx.BMC.SDRRepository().GetRecord(ctx, id)
	if err != nil || offset >= len(record) {
		return nil, types.CodeRequestedDataNotPresent, nil
	}
	end := len(record)
	if count != 0xff && offset+count < end {
		end = offset + count
	}
	out := binary.LittleEndian.AppendUint16(nil, next)
	return append(out, record[offset:end]...), types.CodeOK, nil
}

// getSensorReading implements Get Sensor Reading (Sensor/Event 0x2D, IPMI
// v2.0 §35.14): the raw reading, scanning enabled, and the threshold
// comparisons that stand for the sensor's health.
func (s *sysBMC) getSensorReading(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	sn, cc := s.sensorOf(req)
	if cc != types.CodeOK {
		return nil, cc, nil
	}
	return []byte{sn.raw(sn.Reading), 0x40, sn.status()}, types.CodeOK, nil
}

// getSensorThresholds implements Get Sensor Thresholds (Sensor/Event 0x27,
// IPMI v2.0 §35.9): the upper critical threshold where the model has one.
func (s *sysBMC) getSensorThresholds(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	sn, cc := s.sensorOf(req)
	if cc != types.CodeOK {
		return nil, cc, nil
	}
	out := make([]byte, 7) // mask, LNC, LCR, LNR, UNC, UCR, UNR
	if sn.UpperCritical > 0 {
		out[0] = atUCR
		out[5] = sn.raw(sn.UpperCritical)
	}
	return out, types.CodeOK, nil
}

// DCMI (group extension DCh of NetFn 2Ch, DCMI v1.5 §6.6.1).
const (
	dcmiGroup         = 0xdc
	dcmiModeBasic     = 0x01 // system power statistics
	dcmiReportingTime = 1000 // milliseconds the statistics cover
)

// getPowerReading implements DCMI Get Power Reading (DCMI v1.5 §6.6.1) in
// its basic mode: the system's draw now, as current, minimum, maximum and
// average (the face keeps no history), the wall clock as the timestamp and the measurement active. A BMC without DCMI
// (Face.SetDCMI) answers Invalid Command, as BMCs that do not implement
// the group extension do (ipmi_sim among them).
func (s *sysBMC) getPowerReading(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if s.noDCMI.Load() || len(req) < 1 || req[0] != dcmiGroup {
		return nil, types.CodeInvalidCommand, nil
	}
	if len(req) < 4 {
		return nil, types.CodeRequestDataLengthInvalid, nil
	}
	if req[1] != dcmiModeBasic {
		return nil, types.CodeRequestDataFieldInvalid, nil
	}
	w := uint16(math.Round(math.Max(0, math.Min(65535, s.sys.Telemetry().PowerWatts))))
	out := []byte{dcmiGroup}
	for range 4 { // current, minimum, maximum, average
		out = binary.LittleEndian.AppendUint16(out, w)
	}
	out = binary.LittleEndian.AppendUint32(out, uint32(time.Now().Unix()))
	out = binary.LittleEndian.AppendUint32(out, dcmiReportingTime)
	return append(out, 0x40), types.CodeOK, nil // power measurement active
}
