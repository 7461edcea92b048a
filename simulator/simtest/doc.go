// Package simtest starts the project's BMC simulator for the tests of other
// packages, as net/http/httptest starts a server: on a loopback port, closed
// with the test.
//
//	sim := simtest.Start(t, simulator.Config{Systems: 3})
//	url := sim.SystemURL(sim.SystemIDs()[0])
package simtest
