// Package pgtest gives tests a real PostgreSQL server: a throwaway cluster
// made with initdb and started with pg_ctl on a free 127.0.0.1 port, shared
// by the tests of one package, with a fresh database per test. Set
// BMC_AGENT_TEST_POSTGRES to a postgres:// URL (of a role that may create
// databases) to use an existing server instead.
//
// A test that asks for PostgreSQL and cannot get it fails: nothing is
// skipped silently. Packages that use it stop the cluster, and check for
// leaked goroutines, in TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"go.uber.org/goleak"
)

// EnvDSN names the variable that points the tests at an existing server.
const EnvDSN = "BMC_AGENT_TEST_POSTGRES"

// Cluster is a running PostgreSQL server the tests may create databases in.
type Cluster struct {
	// Admin is a URL of the server's superuser (or the role given by EnvDSN).
	Admin string
	// Port is the TCP port on 127.0.0.1.
	Port int

	dir      string
	bin      string
	cred     *syscall.Credential
	settings []string
	seq      atomic.Int64

	mu     sync.Mutex
	server *exec.Cmd
	exited chan struct{}
}

var (
	shared     *Cluster
	sharedErr  error
	sharedOnce sync.Once
)

// Main runs the tests, stops the shared cluster if one was started, and,
// if the tests passed, fails them when goroutines outlive them
// (go.uber.org/goleak). It returns the exit code.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	return code
}

// Shared returns the package's cluster, starting it on first use. It fails
// the test if PostgreSQL cannot be started.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedOnce.Do(func() {
		if dsn := os.Getenv(EnvDSN); dsn != "" {
			shared = &Cluster{Admin: dsn}
			return
		}
		shared, sharedErr = Start(Options{})
	})
	if sharedErr != nil {
		t.Fatalf("pgtest: PostgreSQL is required for this test: %v", sharedErr)
	}
	return shared
}

// DSN returns the URL of a fresh, empty database on the shared cluster,
// dropped when the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	return Shared(t).NewDatabase(t)
}

// Options tune Start.
type Options struct {
	// Durable keeps fsync and synchronous_commit on, as in production;
	// the default turns them off to make tests fast.
	Durable bool
	// Settings are extra "-c name=value" server settings.
	Settings []string
}

// Start creates and starts a new cluster. The caller must Stop it.
func Start(opt Options) (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	c.dir, err = os.MkdirTemp("", "bmc-agent-pg-")
	if err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(c.dir, "data")
	if out, err := c.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-instructions"); err != nil {
		os.RemoveAll(c.dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	var lastErr error
	for range 5 {
		c.Port, err = freePort()
		if err != nil {
			return nil, err
		}
		c.settings = []string{"listen_addresses=127.0.0.1", "port=" + strconv.Itoa(c.Port),
			"unix_socket_directories=" + c.dir, "max_connections=300", "shared_buffers=128MB"}
		if !opt.Durable {
			c.settings = append(c.settings, "fsync=off", "synchronous_commit=off", "full_page_writes=off")
		}
		c.settings = append(c.settings, opt.Settings...)
		c.Admin = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
		if lastErr = c.Resume(); lastErr == nil {
			return c, nil
		}
	}
	os.RemoveAll(c.dir)
	return nil, lastErr
}

// Stop stops the server and removes its files. A cluster from EnvDSN is left
// alone.
func (c *Cluster) Stop() error {
	if c.dir == "" {
		return nil
	}
	if err := c.signal(syscall.SIGQUIT); err != nil {
		return err
	}
	return os.RemoveAll(c.dir)
}

// Pause stops the server, keeping its data, as if the database went down.
func (c *Cluster) Pause() error {
	if c.dir == "" {
		return errors.New("pgtest: cannot stop a server this test did not start")
	}
	return c.signal(syscall.SIGINT) // fast shutdown
}

// signal stops the running server with sig and waits for it to exit.
func (c *Cluster) signal(sig syscall.Signal) error {
	c.mu.Lock()
	srv, exited := c.server, c.exited
	c.server = nil
	c.mu.Unlock()
	if srv == nil {
		return nil
	}
	_ = srv.Process.Signal(sig)
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		_ = srv.Process.Kill()
		<-exited
		return errors.New("pgtest: server did not stop within 30s and was killed")
	}
}

// Resume starts the server (again) on the same port and waits until it
// accepts connections. The server is a child process that is stopped if the
// test binary dies, so a crashed test leaves no server behind.
func (c *Cluster) Resume() error {
	args := []string{"-D", filepath.Join(c.dir, "data")}
	for _, s := range c.settings {
		args = append(args, "-c", s)
	}
	logf, err := os.OpenFile(filepath.Join(c.dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	c.mu.Lock()
	c.server, c.exited = cmd, exited
	c.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
			return fmt.Errorf("postgres exited at start:\n%s", log)
		default:
		}
		if err := c.ping(); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			c.signal(syscall.SIGQUIT)
			return fmt.Errorf("postgres did not accept connections within 60s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) ping() error {
	db, err := sql.Open("pgx", c.Admin+"&connect_timeout=2")
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// Bin returns the path of a PostgreSQL program (pgbench, psql, ...) from the
// same installation as the server.
func (c *Cluster) Bin(name string) string {
	if c.bin != "" {
		if p := filepath.Join(c.bin, name); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

// NewDatabase creates a fresh database and returns its URL; it is dropped
// when t ends.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), c.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := sql.Open("pgx", c.Admin)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		admin, err := sql.Open("pgx", c.Admin)
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(c.Admin)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func (c *Cluster) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, prog), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd.CombinedOutput()
}

// binDir finds the directory of initdb and pg_ctl: on PATH, or Debian's
// /usr/lib/postgresql/<version>/bin.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	return "", errors.New("initdb not found on PATH or in /usr/lib/postgresql/*/bin: install the PostgreSQL server (Debian: postgresql) or set " + EnvDSN)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
