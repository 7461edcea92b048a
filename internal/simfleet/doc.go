// Package simfleet runs a simulated fleet of Redfish BMCs in a child process
// (internal/childproc) for the fleet benchmarks, so that the memory and CPU
// the agent's side reports are its own, and tells the benchmark each
// system's address.
package simfleet
