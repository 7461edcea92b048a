// Package simulator is a Redfish BMC simulator for a whole fleet: one
// process standing in for thousands of BMCs, stateful, with fault injection
// and a witness that proves whether two mutating operations ever hit one BMC
// at once. It ships as `bmc-agent sim` and is started in-process by the tests
// of the Redfish driver, the API and the fleet benchmarks.
//
// # State and faces
//
// The state model is separate from the protocol face. A [System] holds one
// machine and its BMC: power (with a configurable transition delay during
// which the old state is read), boot override (target, Once/Continuous, UEFI
// or Legacy), virtual media devices, BIOS attributes and pending settings,
// secure boot, indicator LED, what the firmware last booted from, whether the
// simulated OS honours graceful shutdown, credentials and faults. Its methods
// ([System.Reset], [System.SetBootOverride], [System.InsertMedia],
// [System.PowerState], ...) are safe for concurrent use. Power transitions
// are timestamps completed lazily by the next call that looks at the system,
// so idle systems cost no goroutine and no timer.
//
// The Redfish face (this package's HTTP handler) renders Systems, Managers,
// Chassis and the session service from that state. A later IPMI face can sit
// on the same Systems, so a power change over IPMI is seen over Redfish. Each
// face wraps every mutating operation in [System.BeginMutation] and
// [Mutation.End], which counts overlapping mutations and appends to the
// system's request log, and asks the system's [Fault] for an [Outcome] per
// request with [Fault.Roll].
//
// # Use from Go
//
//	sim, err := simulator.New(simulator.Config{Systems: 100, PowerDelay: 2 * time.Second})
//	if err != nil { ... }
//	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil { ... }
//	defer sim.Close()
//	id := sim.SystemIDs()[0]             // "sys-00001"
//	endpoint := sim.Endpoint(id)         // http://127.0.0.1:PORT, for gofish.ClientConfig
//	url := sim.SystemURL(id)             // .../redfish/v1/Systems/sys-00001
//	sim.System(id).SetOSCooperates(false)
//	sim.SetFault(id, simulator.Fault{Latency: 200 * time.Millisecond})
//	n, _ := sim.Overlaps(id)             // 0 if the agent's locking works
//
// [Simulator.Handler] serves the same thing for httptest.NewServer, and
// [Simulator.SystemHandler] serves one system as a stand-alone BMC. With
// [Config.PortPerSystem], Start gives every system its own listener as well.
// Close closes every listener and connection, releases hung requests and
// waits for the handlers, so nothing outlives it.
//
// # Redfish resources
//
// Native systems have ids sys-NNNNN and, per system, a ComputerSystem with
// the Reset action (On, ForceOn, ForceOff, GracefulShutdown, GracefulRestart,
// ForceRestart, Nmi, PushPowerButton, PowerCycle), Boot with allowable
// values, EthernetInterfaces, Processors, SimpleStorage, Bios with Settings
// and ResetBios, SecureBoot, and VirtualMedia (Cd and Usb); a Manager of the
// same id (Links.ManagedBy) exposing the same devices under
// Managers/<id>/VirtualMedia; and a Chassis with its power and thermal
// resources, in either or both schema generations (Power and Thermal;
// PowerSubsystem, ThermalSubsystem, EnvironmentMetrics and Sensors), whose
// readings come from the sensor model ([System.Telemetry], sensors.go):
// computed on read from the power state, the system's index and the clock,
// with parts made to fail by [System.SetPartHealth]. Every resource carries
// @odata.id, @odata.type and @odata.etag and an ETag header; PATCH honours
// If-Match (412 on a stale tag); errors use the Redfish error body.
// The EventService (eventservice.go) takes Redfish event subscriptions and
// pushes ResourceEvent power and health events to them, with retries and
// suspension; a BMC reset ([System.BMCReset]) loses them.
// Authentication is HTTP Basic or a session (POST SessionService/Sessions
// returns X-Auth-Token and Location; DELETE ends it). The service root,
// $metadata and the OData service document are public, as the Redfish
// specification asks; responses carry the headers it asks for (Allow,
// Cache-Control, Link rel=describedby, OData-Version), $expand, only and
// $top/$skip are understood (query.go), and [Config.TLS] serves HTTPS. DMTF's
// Service and Protocol Validators find no failure of the simulator's own
// (scripts/dmtf-validate.sh; see odata.go).
//
// # Vendor profiles
//
// [Config.Profile] or [Config.ProfileMix] give systems a vendor's shape and
// behaviour (dell-idrac, hpe-ilo, supermicro, lenovo-xcc, ami, openbmc;
// generic is the default). A [Profile] is a value: the vendor's ids and the
// [Quirks] it switches on. Every quirk is a separate switch, settable per
// system ([System.SetQuirks], PUT /sim/systems/{id}/quirks), consulted by the
// one request path; profile.go lists them all with their public sources.
//
// # Mockup mode
//
// [Config.MockupDir] serves a DMTF mockup bundle generically (see mockup.go):
// every ComputerSystem in it gets a System, so power, boot, virtual media,
// BIOS and secure boot behave like a native system's, and missing action
// targets are added.
//
// # Admin endpoint
//
// Outside /redfish, /sim/ (JSON, unauthenticated, meant for loopback) sets
// faults per system and fleet-wide at run time, shows a system's state and
// what it booted from, its sensor readings and request counts, fails parts,
// and exposes overlap counts and request logs. See
// docs/simulator.md for every route with curl examples.
package simulator
