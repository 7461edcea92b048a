package ipmi

import "time"

// ParseTelemetry exposes the parser of a telemetry read's output to the
// tests of outputs no simulator produces.
var ParseTelemetry = parseTelemetry

// SetTelemetryClock replaces the clock the SDR cache ages by; call it
// before the first telemetry read.
func (d *Driver) SetTelemetryClock(now func() time.Time) {
	d.tel.mu.Lock()
	defer d.tel.mu.Unlock()
	d.tel.now = now
}

// SDRCacheDirectory is the directory of the SDR caches, "" before the
// first telemetry read or after Close.
func (d *Driver) SDRCacheDirectory() string {
	d.tel.mu.Lock()
	defer d.tel.mu.Unlock()
	return d.tel.dir
}
