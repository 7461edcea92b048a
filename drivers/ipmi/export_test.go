package ipmi

// ParseTelemetry exposes the parser of a telemetry read's output to the
// tests of outputs no simulator produces.
var ParseTelemetry = parseTelemetry
