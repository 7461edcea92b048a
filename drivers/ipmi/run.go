package ipmi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// cmdError is why one BMC command failed: the agent's error class (one of
// the drivers.ErrBMC* sentinels, or a context error), whether it is worth a
// retry, and what ipmitool said (never the password: ipmitool does not echo
// it, and it is not on its command line).
type cmdError struct {
	kind      error
	transient bool
	msg       string
}

func (e *cmdError) Error() string {
	if e.msg == "" {
		return e.kind.Error()
	}
	return e.kind.Error() + ": " + e.msg
}

func (e *cmdError) Unwrap() error { return e.kind }

// attempts runs one gated, timed command and retries it while it fails
// transiently, up to Config.Retries times.
func (d *Driver) attempts(ctx context.Context, b bmc, op string, run func(ctx context.Context) error) error {
	addr := b.addr()
	for attempt := 0; ; attempt++ {
		start := time.Now()
		err := d.gates.do(ctx, addr, func(ctx context.Context) error {
			cctx, cancel := context.WithTimeout(ctx, d.cfg.CommandTimeout)
			defer cancel()
			err := run(cctx)
			if err == nil {
				return nil
			}
			return d.classify(ctx, cctx, b, err)
		})
		d.log.Debug("ipmi command", "op", op, "bmc", addr, "attempt", attempt+1,
			"duration", time.Since(start), "result", drivers.ErrorKind(err))
		if err == nil {
			return nil
		}
		if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, drivers.ErrBMCTimeout) {
			err = &cmdError{kind: drivers.ErrBMCTimeout, msg: "no time left after waiting for the BMC's earlier commands"}
		}
		var ce *cmdError
		if !errors.As(err, &ce) || !ce.transient || attempt >= d.cfg.Retries || ctx.Err() != nil {
			return &drivers.DriverError{Driver: Name, Op: op, BMC: addr, Err: err}
		}
		d.log.Warn("ipmi command failed, retrying", "op", op, "bmc", addr, "attempt", attempt+1, "error", err)
		if d.cfg.RetryInterval > 0 {
			t := time.NewTimer(d.cfg.RetryInterval)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return &drivers.DriverError{Driver: Name, Op: op, BMC: addr, Err: err}
			}
		}
	}
}

func (d *Driver) ipmitoolPath() (string, error) {
	if d.cfg.Ipmitool != "" {
		return d.cfg.Ipmitool, nil
	}
	p, err := exec.LookPath("ipmitool")
	if err != nil {
		return "", fmt.Errorf("ipmitool is required by the ipmi driver: %w", err)
	}
	return p, nil
}

// classify turns what a failed command returned into a *cmdError. ctx is the
// caller's, cctx the command's own (bounded by the command timeout).
//
// ipmitool reports failures only as text, so this is the one place where
// the driver reads error strings: the completion-code names ipmitool prints
// (lib/ipmi_strings.c, not localised) and its session messages.
func (d *Driver) classify(ctx, cctx context.Context, b bmc, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return ctx.Err()
	case cctx.Err() != nil:
		// Over UDP a silent BMC and a hung one look alike; the
		// sessionless probe tells them apart.
		if ctx.Err() == nil && !d.answers(ctx, b) {
			return &cmdError{kind: drivers.ErrBMCUnreachable, msg: "no answer in time, not even to a request that needs no session"}
		}
		return &cmdError{kind: drivers.ErrBMCTimeout, msg: "no answer in time"}
	case errors.Is(err, exec.ErrNotFound):
		return err
	}
	var ce *cmdError
	if errors.As(err, &ce) {
		return ce // already classified, e.g. an answer the driver could not read
	}
	msg := oneLine(err.Error())
	kind, transient := classifyText(msg)
	if kind == errSession {
		// Without -v ipmitool says the same for a wrong password and for
		// a BMC that never answered. Ask the BMC something that needs no
		// login to tell them apart.
		if d.answers(cctx, b) {
			return &cmdError{kind: drivers.ErrBMCAuth, msg: "the BMC answers but refused the session (user name, password, privilege or cipher suite): " + msg}
		}
		return &cmdError{kind: drivers.ErrBMCUnreachable, msg: "no answer to a session request: " + msg}
	}
	return &cmdError{kind: kind, transient: transient, msg: msg}
}

// errSession marks a failure to open a session, classified by a probe.
var errSession = errors.New("session not established")

// texts maps what ipmitool prints to the agent's error classes, first match
// wins. transient failures are the ones Ironic retries: the BMC refused to
// act, so a retry is safe.
var texts = []struct {
	text      string
	kind      error
	transient bool
}{
	{"insufficient resources for session", drivers.ErrBMCFailed, true},
	{"Node busy", drivers.ErrBMCFailed, true},
	{"BMC initialization in progress", drivers.ErrBMCFailed, true},
	{"Out of space", drivers.ErrBMCFailed, true},
	{": Timeout", drivers.ErrBMCFailed, true},
	{"Unable to establish", errSession, false},
	{"Insufficient privilege level", drivers.ErrBMCAuth, false},
	{"Invalid data field in request", drivers.ErrBMCRejected, false},
	{"Invalid command", drivers.ErrBMCRejected, false},
	{"Parameter out of range", drivers.ErrBMCRejected, false},
	{"Parameter not supported", drivers.ErrBMCRejected, false},
	{"Request data length invalid", drivers.ErrBMCRejected, false},
	{"Command not supported in present state", drivers.ErrBMCRejected, false},
	{"Cannot execute command", drivers.ErrBMCRejected, false},
	{"Destination unavailable", drivers.ErrBMCRejected, false},
}

// classifyText finds the error class of ipmitool's message.
func classifyText(msg string) (kind error, transient bool) {
	for _, t := range texts {
		if strings.Contains(msg, t.text) {
			return t.kind, t.transient
		}
	}
	return drivers.ErrBMCFailed, false
}

// oneLine folds a multi-line message into one bounded line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// answers reports whether the BMC answers a Get Channel Authentication
// Capabilities request, which needs no session and no credentials (IPMI
// v2.0 §22.13): one UDP datagram, waited for at most a second.
func (d *Driver) answers(ctx context.Context, b bmc) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "udp", b.addr())
	if err != nil {
		return false
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(authCapsRequest); err != nil {
		return false
	}
	buf := make([]byte, 512)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return false
		}
		// RMCP (4) + IPMI v1.5 session header (10) + rsAddr, netFn,
		// checksum, rqAddr, rqSeq, cmd: the command byte is at 19.
		if n > 20 && buf[3] == 0x07 && buf[19] == 0x38 {
			return true
		}
	}
}

// authCapsRequest is Get Channel Authentication Capabilities for this
// channel at ADMINISTRATOR level, asking for the IPMI v2.0 data, outside any
// session, as ipmitool sends it first.
var authCapsRequest = func() []byte {
	msg := []byte{0x20, 0x06 << 2, 0, 0x81, 0x00, 0x38, 0x8e, 0x04, 0}
	msg[2] = checksum(msg[0:2])
	msg[8] = checksum(msg[3:8])
	p := []byte{0x06, 0x00, 0xff, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, byte(len(msg))}
	return append(p, msg...)
}()

func checksum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return -s
}

// raw runs `ipmitool -I lanplus ... command...` as one BMC command for
// the operation op: through the BMC's gate, bounded by the command timeout,
// retried while it fails transiently (attempts). It is the driver's only way
// to the BMC, so that every run is counted (Stats) and bounded:
//
//   - the password is in IPMITOOL_PASSWORD with -E, never on the command
//     line, as bmclib's ipmitool provider does;
//   - ipmitool runs in its own process group, killed whole when the command
//     times out or the caller gives up, as Ironic kills a hung ipmitool
//     (ironic/drivers/modules/ipmitool.py, kill_on_timeout);
//   - without a pinned ipmi_cipher_suite it tries suite 17 first, then 3,
//     and keeps the one that worked for the BMC, so later commands cost one
//     run (Ironic's ipmi_cipher_suite help: "17 is preferred"; its
//     choose_cipher_suite starts from the strongest).
func (d *Driver) raw(ctx context.Context, b bmc, op string, command ...string) (string, error) {
	var out string
	err := d.attempts(ctx, b, op, func(ctx context.Context) error {
		path, err := d.ipmitoolPath()
		if err != nil {
			return err
		}
		ciphers := d.ciphers(b)
		for i, cs := range ciphers {
			out, err = d.exec(ctx, path, b, cs, command)
			if err == nil {
				d.remember(b, cs)
				return nil
			}
			// Another suite only where the session could not be set up.
			if ctx.Err() != nil || i == len(ciphers)-1 || !strings.Contains(err.Error(), "Unable to establish") {
				break
			}
		}
		return err
	})
	return out, err
}

// exec runs ipmitool once, in its own process group.
func (d *Driver) exec(ctx context.Context, path string, b bmc, cipher string, command []string) (string, error) {
	args := []string{"-I", "lanplus", "-U", b.user, "-E", "-N", "2", "-R", "3",
		"-H", b.host, "-p", strconv.Itoa(b.port), "-C", cipher}
	// The last instant to find that the task may no longer act
	// (drivers.Preflight): nothing has been run.
	if err := drivers.Preflight(ctx); err != nil {
		return "", fmt.Errorf("ipmitool %s not run: %w", strings.Join(command, " "), err)
	}
	cmd := exec.CommandContext(ctx, path, append(args, command...)...)
	cmd.Env = []string{"IPMITOOL_PASSWORD=" + b.password}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second // output pipes held by a stray child do not hold the call
	d.runs.Add(1)
	o, err := cmd.CombinedOutput()
	out := string(o)
	if err != nil {
		return out, fmt.Errorf("%s: %w", strings.TrimSpace(out), err)
	}
	return out, nil
}

// ciphers are the suites to try on b, in order.
func (d *Driver) ciphers(b bmc) []string {
	if b.cipher != "" {
		return []string{b.cipher}
	}
	if v, ok := d.suites.Load(b.addr()); ok {
		return []string{v.(string)}
	}
	return []string{"17", "3"}
}

// remember keeps the suite that worked on an unpinned BMC.
func (d *Driver) remember(b bmc, cs string) {
	if b.cipher == "" {
		d.suites.Store(b.addr(), cs)
	}
}
