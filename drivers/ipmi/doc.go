// Package ipmi is the IPMI driver: power, boot device and NMI over IPMI v2.0
// (RMCP+, ipmitool's lanplus interface) through bmclib's ipmitool provider,
// so ipmitool is a runtime dependency.
//
// # driver_info
//
// Ironic's names: ipmi_address (a host, or ipmi://host[:port]), ipmi_port
// (default 623), ipmi_username, ipmi_password, ipmi_priv_level
// (ADMINISTRATOR only), ipmi_cipher_suite (1-17; unset, bmclib tries 3 then
// 17), ipmi_protocol_version ("2.0" only) and ipmi_interface ("lanplus"
// only). Validate reports every problem at once without I/O, and refuses
// values that ipmitool could read as options (a leading '-', control
// characters, spaces).
//
// # Living with IPMI
//
// Every BMC command passes through one gate per BMC address: commands to
// one BMC never overlap, and at least Config.MinCommandInterval separates
// the end of one from the start of the next (Ironic's
// min_command_interval). A command is one bmclib call, bounded by
// Config.CommandTimeout; bmclib's own state checks (it reads the power state
// before powering on or off) run inside that call, back to back. Failures
// where the BMC said it did not act (node busy, out of sessions,
// initialising) are retried Config.Retries times; timeouts, refused logins
// and rejected requests are not.
//
// ipmitool tells a refused login and a silent BMC apart only with -v, which
// bmclib does not pass. When a session cannot be established, the driver
// sends the BMC one Get Channel Authentication Capabilities datagram, which
// needs no login: an answer makes the failure drivers.ErrBMCAuth, silence
// drivers.ErrBMCUnreachable.
//
// # The password
//
// bmclib runs ipmitool with -E and the password in IPMITOOL_PASSWORD, an
// environment holding nothing else; the driver's own ipmitool runs (the boot
// flags, which bmclib cannot read) do the same. The password is therefore
// never on a command line (ps, /proc/PID/cmdline), though the process's
// environment is readable by its own user and root, as with any password
// handed to a child process. It never appears in errors or logs.
//
// # What IPMI does not do
//
// Virtual media and boot mode are not IPMI: a Handle reports them as
// *drivers.UnsupportedError naming this driver.
package ipmi
