// Package ipmi is the IPMI driver: power, boot device, NMI and telemetry
// (SDR sensors and the DCMI power reading, telemetry.go) over IPMI v2.0
// (RMCP+, ipmitool's lanplus interface), running ipmitool the way bmclib's
// ipmitool provider does, so ipmitool is a runtime dependency. The driver
// runs it itself (run.go) rather than through bmclib so that each run is
// bounded and killed with its process group, counted (Stats.Runs), and
// tries cipher suite 17 before 3.
//
// # driver_info
//
// Ironic's names: ipmi_address (a host, or ipmi://host[:port]), ipmi_port
// (default 623), ipmi_username, ipmi_password, ipmi_priv_level
// (ADMINISTRATOR only), ipmi_cipher_suite (1-17; unset, the driver tries 17, then
// 3, and keeps the one that worked for the BMC), ipmi_protocol_version ("2.0" only) and ipmi_interface ("lanplus"
// only). Validate reports every problem at once without I/O, and refuses
// values that ipmitool could read as options (a leading '-', control
// characters, spaces).
//
// # Living with IPMI
//
// Every BMC command passes through one gate per BMC address: commands to
// one BMC never overlap, and at least Config.MinCommandInterval separates
// the end of one from the start of the next (Ironic's
// min_command_interval). A command is one ipmitool run, bounded by
// Config.CommandTimeout, after which ipmitool is killed with its process
// group. Power on/off reads the state first and does nothing where the node
// is already there (one run), else acts and polls (three runs); a boot
// device change is read back (two runs) and a BMC that answers success
// without storing it is an error. Failures where the BMC said it did not act
// (node busy, out of sessions, initialising: Ironic's
// IPMITOOL_RETRYABLE_FAILURES) are retried Config.Retries times; timeouts,
// refused logins and rejected requests are not.
//
// ipmitool tells a refused login and a silent BMC apart only with -v, which
// the driver does not pass (as bmclib). When a session cannot be established, the driver
// sends the BMC one Get Channel Authentication Capabilities datagram, which
// needs no login: an answer makes the failure drivers.ErrBMCAuth, silence
// drivers.ErrBMCUnreachable.
//
// # The password
//
// The driver runs ipmitool with -E and the password in IPMITOOL_PASSWORD,
// an environment holding nothing else, as bmclib does. The password is therefore
// never on a command line (ps, /proc/PID/cmdline), though the process's
// environment is readable by its own user and root, as with any password
// handed to a child process. It never appears in errors or logs.
//
// # Telemetry
//
// A telemetry read is one ipmitool run (one session): `exec` runs the DCMI
// Get Power Reading (as `raw`) and `sdr elist full` together. The SDR
// repository is dumped to a file once per Config.SDRCacheTTL (`sdr dump`,
// one more run) and read from it (`-S FILE`), so a read asks the BMC for
// the sensor readings only, not for every record again. A BMC without DCMI
// costs one more run once, then gives PowerWatts nil without being asked.
// IPMI has no health rollup: Telemetry.Health stays unknown.
//
// # What IPMI does not do
//
// Virtual media and boot mode are not IPMI: a Handle reports them as
// *drivers.UnsupportedError naming this driver.
package ipmi
