package ipmi

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Name is the name the IPMI driver registers under.
const Name = "ipmi"

// Defaults of Config.
const (
	// DefaultMinCommandInterval is the default pause between two commands
	// to one BMC. Ironic's min_command_interval defaults to 5 s for
	// fragile BMCs; raise Config.MinCommandInterval for those.
	DefaultMinCommandInterval = time.Second
	// DefaultCommandTimeout bounds one BMC command (one bmclib call, which
	// may run ipmitool up to three times, its own state checks included).
	DefaultCommandTimeout = 30 * time.Second
	// DefaultRetries is how often a transient failure is retried.
	DefaultRetries = 3
	// DefaultRetryInterval is the pause before a retry (on top of the
	// minimum command interval).
	DefaultRetryInterval = time.Second
	// DefaultPollInterval is how often SetPowerState reads the power state
	// while it waits for the target state.
	DefaultPollInterval = time.Second
	// DefaultSDRCacheTTL is how long a BMC's SDR repository, dumped to
	// disk, serves telemetry reads before it is read again.
	DefaultSDRCacheTTL = time.Hour
	// DefaultPowerTimeout is what SetPowerState waits for the target state
	// when the caller gives no timeout (Ironic's power_state_change_timeout).
	DefaultPowerTimeout = 60 * time.Second
)

// Config tunes the driver. The zero value is usable: zero fields take the
// defaults above; a negative MinCommandInterval, Retries or RetryInterval
// means none.
type Config struct {
	// Ipmitool is the ipmitool program (default: "ipmitool" looked up on
	// PATH at each call).
	Ipmitool string
	// MinCommandInterval is the least time between the end of one command
	// to a BMC and the start of the next, like Ironic's
	// [ipmi]min_command_interval.
	MinCommandInterval time.Duration
	// CommandTimeout bounds one BMC command.
	CommandTimeout time.Duration
	// Retries is how often a transient failure (the BMC busy, out of
	// sessions or initialising; never a refused login or a timeout) is
	// retried, after RetryInterval.
	Retries       int
	RetryInterval time.Duration
	// PollInterval and PowerTimeout govern SetPowerState's wait for the
	// target state.
	PollInterval time.Duration
	PowerTimeout time.Duration
	// SDRCacheTTL is how long a BMC's SDR repository, dumped to a file
	// (`ipmitool sdr dump`), serves telemetry reads (`ipmitool -S`) before
	// it is dumped again; negative means no cache: every read walks the
	// repository. A sensor added to the BMC (hot-plug, firmware update)
	// shows after at most this long.
	SDRCacheTTL time.Duration
	// SDRCacheDir is where the SDR caches are kept (default: a temporary
	// directory made at the first telemetry read and removed by Close).
	SDRCacheDir string
	// Logger receives debug logs of every command and warnings of retries
	// (default: discarded). Passwords are never logged.
	Logger *slog.Logger
}

// Driver is the IPMI driver: power, boot device, NMI and telemetry over
// IPMI v2.0 (lanplus) through ipmitool. It holds no connection:
// every command runs ipmitool afresh, as bmclib does. It is safe for
// concurrent use; commands to one BMC are serialised and spaced by
// Config.MinCommandInterval, commands to different BMCs run in parallel.
type Driver struct {
	cfg    Config
	log    *slog.Logger
	gates  *gates
	runs   atomic.Uint64 // ipmitool processes started
	suites sync.Map      // BMC address -> the cipher suite that worked
	tel    telemetryCache
}

// Stats are counters of the driver's work since New.
type Stats struct {
	// Runs counts the ipmitool processes started, retries included: the
	// cost of an operation is the difference across it.
	Runs uint64
}

// Stats returns the driver's counters.
func (d *Driver) Stats() Stats { return Stats{Runs: d.runs.Load()} }

// New returns an IPMI driver. It does not look for ipmitool yet: a missing
// ipmitool fails the calls, not the agent's start.
func New(cfg Config) *Driver {
	def := func(v *time.Duration, d time.Duration) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	def(&cfg.MinCommandInterval, DefaultMinCommandInterval)
	def(&cfg.CommandTimeout, DefaultCommandTimeout)
	def(&cfg.RetryInterval, DefaultRetryInterval)
	def(&cfg.PollInterval, DefaultPollInterval)
	def(&cfg.PowerTimeout, DefaultPowerTimeout)
	if cfg.SDRCacheTTL == 0 {
		cfg.SDRCacheTTL = DefaultSDRCacheTTL
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{cfg: cfg, log: log.With("driver", Name), gates: newGates(cfg.MinCommandInterval),
		tel: telemetryCache{cfgDir: cfg.SDRCacheDir, now: time.Now}}
}

// Name implements drivers.Driver.
func (d *Driver) Name() string { return Name }

// Validate implements drivers.Driver: it checks the node's driver_info for
// the power and management interfaces, without contacting the BMC, and
// reports every problem at once. Virtual media is not part of IPMI.
func (d *Driver) Validate(iface drivers.Interface, n drivers.Node) error {
	if iface != drivers.PowerInterface && iface != drivers.ManagementInterface {
		return &drivers.UnsupportedError{Driver: Name, Interface: iface, Method: "any method"}
	}
	_, p := parseInfo(n.Info)
	return p.Err(Name, iface)
}

// bmcOf parses the node's driver_info for a call, failing before any I/O.
func (d *Driver) bmcOf(n drivers.Node, iface drivers.Interface) (bmc, error) {
	b, p := parseInfo(n.Info)
	return b, p.Err(Name, iface)
}

// Interface guards.
var (
	_ drivers.Driver           = (*Driver)(nil)
	_ drivers.Checker          = (*Driver)(nil)
	_ drivers.PowerGetter      = (*Driver)(nil)
	_ drivers.PowerSetter      = (*Driver)(nil)
	_ drivers.BootDeviceGetter = (*Driver)(nil)
	_ drivers.BootDeviceSetter = (*Driver)(nil)
	_ drivers.NMIInjector      = (*Driver)(nil)
)
