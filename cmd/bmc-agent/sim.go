package main

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bmc-agent/bmc-agent/simulator"
	"github.com/bmc-agent/bmc-agent/simulator/ipmisim"
)

// simEnvPrefix prefixes the environment variables that set sim flags:
// --power-delay is BMC_AGENT_SIM_POWER_DELAY.
const simEnvPrefix = "BMC_AGENT_SIM_"

// simOptions are the flags of `bmc-agent sim`.
type simOptions struct {
	listen          string
	credentialsFile string
	profiles        string
	logLevel        string
	listMax         int
	ipmi            bool
	ipmiPort        int
	tls             bool
	tlsCert, tlsKey string
	cfg             simulator.Config
}

// newSimCmd builds `bmc-agent sim`, the Redfish BMC simulator.
func newSimCmd() *cobra.Command {
	var o simOptions
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the Redfish BMC simulator",
		Long: `Run the Redfish BMC simulator: one process serving many simulated BMCs, each
system at /redfish/v1/Systems/<id>, with fault injection and an admin endpoint
at /sim/. Every flag can also be set through the environment as
BMC_AGENT_SIM_<FLAG> (upper case, dashes as underscores), e.g.
BMC_AGENT_SIM_SYSTEMS=100. See docs/simulator.md.`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := flagsFromEnv(cmd.Flags(), os.LookupEnv); err != nil {
				return &usageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.readProfiles(cmd.Flags()); err != nil {
				return err
			}
			return runSim(cmd, &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8000", "address to listen on (host:port; port 0 picks one)")
	f.IntVar(&o.cfg.Systems, "systems", 1, "number of simulated systems (ignored with --mockup)")
	f.StringVar(&o.cfg.MockupDir, "mockup", "", "serve this DMTF mockup bundle instead of generated systems")
	f.StringVar(&o.cfg.Profile, "profile", "generic", "vendor profile of every system: "+strings.Join(profileNames(), ", "))
	f.StringVar(&o.profiles, "profiles", "", "mix of profiles, e.g. dell-idrac=40,hpe-ilo=30,supermicro=30: contiguous blocks in this order, sized by weight")
	f.StringVar(&o.cfg.Username, "username", "admin", "user name every system accepts")
	f.StringVar(&o.cfg.Password, "password", "password", "password every system accepts")
	f.StringVar(&o.credentialsFile, "credentials", "", "file of per-system credentials, one `id user password` a line")
	f.DurationVar(&o.cfg.PowerDelay, "power-delay", 0, "how long a power transition takes (the old state is read meanwhile)")
	f.BoolVar(&o.cfg.OSIgnoresGracefulShutdown, "os-ignores-shutdown", false, "the simulated OS ignores graceful shutdown and restart")
	f.BoolVar(&o.cfg.PortPerSystem, "port-per-system", false, "also serve each system on its own port (listen port+1+i, or picked when the port is 0)")
	f.IntVar(&o.cfg.RequestLogSize, "request-log-size", 64, "mutations kept in each system's request log (negative: none)")
	f.DurationVar(&o.cfg.SessionTimeout, "session-timeout", 30*time.Minute, "idle time after which a Redfish session expires")
	f.DurationVar(&o.cfg.Fault.Latency, "latency", 0, "fault: latency added to every request")
	f.DurationVar(&o.cfg.Fault.Jitter, "jitter", 0, "fault: random extra latency in [0, jitter)")
	f.Float64Var(&o.cfg.Fault.ErrorRate, "error-rate", 0, "fault: fraction of requests answered with --error-status")
	f.IntVar(&o.cfg.Fault.ErrorStatus, "error-status", 0, "fault: status of injected errors, 500 or 503 (0: 503)")
	f.DurationVar(&o.cfg.Fault.RetryAfter, "retry-after", 0, "fault: Retry-After sent with injected errors (0: 1s)")
	f.Float64Var(&o.cfg.Fault.HangRate, "hang-rate", 0, "fault: fraction of requests never answered")
	f.Float64Var(&o.cfg.Fault.DropRate, "drop-rate", 0, "fault: fraction of requests whose connection is closed unanswered")
	f.BoolVar(&o.cfg.Fault.RefuseLogin, "refuse-login", false, "fault: reject every authentication with 401")
	f.BoolVar(&o.cfg.Fault.Unreachable, "unreachable", false, "fault: reset every connection (BMCs unreachable)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.IntVar(&o.listMax, "list", 10, "print every system URL up to this many systems, else the first few")
	f.BoolVar(&o.ipmi, "ipmi", false, "also serve IPMI (lanplus, cipher suites 3 and 17): each system on its own UDP port of the listen host")
	f.IntVar(&o.ipmiPort, "ipmi-port", 0, "with --ipmi: system i listens on this UDP port + i (0: ports picked by the system)")
	f.BoolVar(&o.tls, "tls", false, "serve HTTPS; without --tls-cert/--tls-key a self-signed certificate is generated at start")
	f.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate (chain) for HTTPS; implies --tls")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	return cmd
}

// flagsFromEnv sets every flag not given on the command line from its
// BMC_AGENT_SIM_* variable, if present.
func flagsFromEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []error
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed {
			return
		}
		name := simEnvPrefix + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := lookup(name); ok {
			if err := fs.Set(fl.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	})
	return errors.Join(errs...)
}

func runSim(cmd *cobra.Command, o *simOptions) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return &usageError{fmt.Errorf("--log-level: %w", err)}
	}
	o.cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	tlsNote, err := simTLS(o)
	if err != nil {
		return err
	}
	sim, err := simulator.New(o.cfg)
	if err != nil {
		return err
	}
	var face *ipmisim.Face
	if o.ipmi {
		face = ipmisim.New(sim, ipmisim.Config{Username: o.cfg.Username, Password: o.cfg.Password, Logger: o.cfg.Logger})
	}
	if o.credentialsFile != "" {
		if err := loadCredentials(sim, face, o.credentialsFile); err != nil {
			return err
		}
	}
	ctx := cmd.Context()
	if err := sim.Start(ctx, o.listen); err != nil {
		return err
	}
	defer sim.Close()
	if face != nil {
		host, _, err := net.SplitHostPort(o.listen)
		if err != nil || host == "" {
			host = "127.0.0.1"
		}
		if err := face.Start(ctx, net.JoinHostPort(host, strconv.Itoa(o.ipmiPort))); err != nil {
			return err
		}
		defer face.Close()
	}
	printSimBanner(cmd.OutOrStdout(), sim, o)
	if tlsNote != "" {
		fmt.Fprintln(cmd.OutOrStdout(), tlsNote)
	}
	if face != nil {
		printIPMIBanner(cmd.OutOrStdout(), sim, face, o)
	}
	<-ctx.Done()
	fmt.Fprintln(cmd.OutOrStdout(), "simulator stopping")
	return nil
}

// printSimBanner says where the simulator listens and which systems it has.
func printSimBanner(out io.Writer, sim *simulator.Simulator, o *simOptions) {
	ids := sim.SystemIDs()
	fmt.Fprintf(out, "Redfish simulator listening on %s with %d systems (user %q; password not shown)\n",
		sim.URL(), len(ids), o.cfg.Username)
	fmt.Fprintf(out, "admin endpoint: %s/sim/\n", sim.URL())
	shown := shownIDs(ids, o.listMax)
	for _, id := range shown {
		prof := "" // named only when not generic
		if p := sim.System(id).Profile(); p != "generic" {
			prof = "  " + p
		}
		fmt.Fprintf(out, "  %s  %s%s\n", id, sim.SystemURL(id), prof)
	}
	if len(shown) < len(ids) {
		fmt.Fprintf(out, "  ... and %d more (GET %s/sim/systems lists them all)\n", len(ids)-len(shown), sim.URL())
	}
	printProfileBlocks(out, sim)
}

// printProfileBlocks says which systems got which profile, when the fleet
// mixes them: "profiles: sys-00001..sys-04000 dell-idrac, ...".
func printProfileBlocks(out io.Writer, sim *simulator.Simulator) {
	ids := sim.SystemIDs()
	var blocks []string
	for i := 0; i < len(ids); {
		p, j := sim.System(ids[i]).Profile(), i
		for j+1 < len(ids) && sim.System(ids[j+1]).Profile() == p {
			j++
		}
		blocks = append(blocks, fmt.Sprintf("%s..%s %s", ids[i], ids[j], p))
		i = j + 1
	}
	if len(blocks) > 1 {
		fmt.Fprintf(out, "profiles: %s\n", strings.Join(blocks, ", "))
	}
}

// readProfiles checks --profile and reads --profiles into the config.
func (o *simOptions) readProfiles(fs *pflag.FlagSet) error {
	if _, err := simulator.LookupProfile(o.cfg.Profile); err != nil {
		return &usageError{fmt.Errorf("--profile: %w", err)}
	}
	if o.profiles == "" {
		return nil
	}
	if fs.Changed("profile") {
		return &usageError{errors.New("--profile and --profiles exclude each other")}
	}
	mix, err := simulator.ParseProfiles(o.profiles)
	if err != nil {
		return &usageError{fmt.Errorf("--profiles: %w", err)}
	}
	o.cfg.ProfileMix = mix
	return nil
}

// profileNames lists the simulator's profiles for the flag help.
func profileNames() []string {
	var names []string
	for _, p := range simulator.Profiles() {
		names = append(names, p.Name)
	}
	return names
}

// shownIDs is what a banner lists: every id of a fleet of at most listMax
// systems, the first five of a larger one.
func shownIDs(ids []string, listMax int) []string {
	if len(ids) > listMax {
		return ids[:min(5, len(ids))]
	}
	return ids
}

// printIPMIBanner says where each system answers IPMI.
func printIPMIBanner(out io.Writer, sim *simulator.Simulator, face *ipmisim.Face, o *simOptions) {
	ids := sim.SystemIDs()
	fmt.Fprintf(out, "IPMI (lanplus, cipher suites 3 and 17) for %d systems, one UDP port each:\n", len(ids))
	shown := shownIDs(ids, o.listMax)
	for _, id := range shown {
		fmt.Fprintf(out, "  %s  %s\n", id, face.Addr(id))
	}
	if len(shown) < len(ids) {
		last := ids[len(ids)-1]
		fmt.Fprintf(out, "  ... and %d more, up to %s  %s\n", len(ids)-len(shown), last, face.Addr(last))
	}
}

// loadCredentials reads `id user password` lines ('#' starts a comment).
// With the IPMI face on, it gets the same credentials.
func loadCredentials(sim *simulator.Simulator, face *ipmisim.Face, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			return &usageError{fmt.Errorf("credentials %s:%d: want `id user password`", path, n)}
		}
		sys := sim.System(fields[0])
		if sys == nil {
			return &usageError{fmt.Errorf("credentials %s:%d: no system %q", path, n, fields[0])}
		}
		sys.SetCredentials(fields[1], fields[2])
		if face != nil {
			if err := face.SetCredentials(fields[0], fields[1], fields[2]); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

// simTLS sets o.cfg.TLS from --tls, --tls-cert and --tls-key, and returns
// the banner line that describes the certificate ("" without TLS).
func simTLS(o *simOptions) (string, error) {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return "", &usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	var cert tls.Certificate
	var note string
	switch {
	case o.tlsCert != "":
		c, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return "", &usageError{fmt.Errorf("--tls-cert/--tls-key: %w", err)}
		}
		cert, note = c, "TLS certificate "+o.tlsCert
	case o.tls:
		host, _, err := net.SplitHostPort(o.listen)
		if err != nil {
			return "", &usageError{fmt.Errorf("--listen: %w", err)}
		}
		c, err := simulator.SelfSignedCert(host, "127.0.0.1", "::1", "localhost")
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(c.Certificate[0])
		cert, note = c, "TLS: self-signed certificate generated at start, SHA-256 fingerprint "+hex.EncodeToString(sum[:])
	default:
		return "", nil
	}
	o.cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return note, nil
}
