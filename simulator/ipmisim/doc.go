// Package ipmisim is the IPMI face of the project's BMC simulator: every
// simulated system can also be reached over IPMI v2.0 LAN (RMCP+, cipher
// suites 3 and 17, what ipmitool -I lanplus speaks) on its own loopback UDP
// port, built on the BMC server of github.com/bougou/go-ipmi (pkg/server).
//
// The face holds no machine state of its own: chassis commands act on the
// same *simulator.System the Redfish face serves, through the simulator's
// exported API only, so a power change over IPMI is seen over Redfish and the
// other way round, as on a real BMC.
//
//	sim, _ := simulator.New(simulator.Config{Systems: 100})
//	face := ipmisim.New(sim, ipmisim.Config{}) // admin / password
//	if err := face.Start(ctx, "127.0.0.1:0"); err != nil { ... }
//	defer face.Close()
//	port := face.Port("sys-00001")   // ipmitool -I lanplus -C 3 -p PORT ...
//
// What each command does:
//
//   - Get Chassis Status reads System.PowerState.
//   - Chassis Control: power down, up and cycle, hard reset and soft shutdown
//     are System.Reset with ForceOff, On, PowerCycle, ForceRestart and
//     GracefulShutdown (which completes only if the simulated OS
//     cooperates); the diagnostic interrupt is an NMI (System.NMIs), refused
//     with "not supported in present state" while the system is off.
//   - Set/Get System Boot Options parameter 5 (boot flags) read and write
//     the boot override: valid bit = enabled, persistent bit = Continuous
//     (else Once), EFI bit = UEFI (else Legacy); selectors PXE, disk, CD,
//     BIOS setup and removable media (USB). Safe mode has no counterpart
//     and is refused.
//   - Cold and Warm Reset reset the BMC, not the host: counted
//     (Face.BMCResets) and, with Config.BMCResetTime, silent for a while.
//   - Get SDR Repository Info, Reserve SDR Repository and Get SDR serve
//     one Full Sensor Record (IPMI v2.0 §43.1) per sensor of
//     System.Telemetry, with conversion factors sized from the sensor's
//     upper critical threshold or its kind (sensors.go); Get Sensor
//     Reading and Get Sensor Thresholds read the model now, its health as
//     threshold status. A sensor the model lacks has no record.
//   - DCMI Get Power Reading (DCMI v1.5 §6.6.1) is System.Telemetry's
//     PowerWatts; Face.SetDCMI takes DCMI away (Invalid Command).
//
// Face.Requests counts every request a BMC received, by command name.
//
// Every mutating command is wrapped in System.BeginMutation and
// Mutation.End with face "ipmi" (the result is the completion code), so the
// overlap witness sees IPMI and Redfish alike. The system's Fault is played
// once per command (session bookkeeping excluded): latency; errors as Node
// Busy (503) or Unspecified Error (500), not acted upon; hangs and drops as
// commands that get no answer, a hung one being held until Close; an
// unreachable BMC hears nothing at all; a BMC refusing logins answers every
// RAKP message 1 as for an unknown user. IPMI v1.5 is off.
//
// Close closes the sockets, releases held requests and waits for the
// servers and handlers; nothing outlives it.
package ipmisim
