package sqlstore_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/bmc-agent/bmc-agent/internal/pgtest"
	"github.com/bmc-agent/bmc-agent/lock"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/store/sqlstore"
	"github.com/bmc-agent/bmc-agent/store/storetest"
)

// partition is a TCP proxy to a server that can stop carrying bytes, as a
// network partition or a frozen server does: connections stay open, but
// nothing answers.
type partition struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	open  chan struct{} // closed while bytes flow
	conns []net.Conn
	wg    sync.WaitGroup
}

func newPartition(t *testing.T, upstream string) *partition {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &partition{ln: ln, upstream: upstream, open: make(chan struct{})}
	close(p.open)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *partition) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.upstream)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(u, c)
		go p.pipe(c, u)
	}
}

// pipe copies src to dst, holding each chunk while the network is cut.
func (p *partition) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.open
			p.mu.Unlock()
			<-gate
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut stops the bytes; heal lets them flow again.
func (p *partition) cut() {
	p.mu.Lock()
	p.open = make(chan struct{})
	p.mu.Unlock()
}

func (p *partition) heal() {
	p.mu.Lock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
	p.mu.Unlock()
}

func (p *partition) close() {
	p.ln.Close()
	p.heal()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// A PostgreSQL server that stops answering without closing anything (a
// network partition) does not hold a caller without a deadline: each
// statement gives up after the statement timeout with store.ErrUnavailable
// (the API's 503), not with a deadline error (which the API would report as
// the caller's own timeout), and the store works again once the network
// heals.
func TestPostgresStopsAnswering(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := newPartition(t, u.Host)
	u.Host = p.ln.Addr().String()
	db, err := sqlstore.Open(context.Background(), u.String(), sqlstore.Options{MaxConns: 2, StatementTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := storetest.NewNode("partitioned")
	if err := db.CreateNode(context.Background(), n); err != nil {
		t.Fatal(err)
	}

	p.cut()
	ctx := context.Background() // as an API request's: no deadline of its own
	calls := map[string]func() error{
		"read a node":  func() error { _, err := db.Node(ctx, n.UUID); return err },
		"list nodes":   func() error { _, err := db.Nodes(ctx, store.NodeFilter{}); return err },
		"take a lock":  func() error { _, err := db.Reserve(ctx, n.UUID, lock.Reservation{Holder: "a"}); return err },
		"ping":         func() error { return db.Ping(ctx) },
		"release lock": func() error { return db.Release(ctx, n.UUID, lock.Lease{Holder: "a", Token: 1}) },
		"verify lock":  func() error { return db.Verify(ctx, n.UUID, lock.Lease{Holder: "a", Token: 1}) },
	}
	for name, call := range calls {
		done := make(chan error, 1)
		go func() { done <- call() }()
		select {
		case err := <-done:
			if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s with the database silent: %v, want store.ErrUnavailable", name, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s with the database silent has not returned after a minute", name)
		}
	}

	p.heal()
	var got *store.Node
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if got, err = db.Node(ctx, n.UUID); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover within a minute after the network healed: %v", err)
		}
	}
	if got.Name != "partitioned" {
		t.Fatalf("after healing: %+v", got)
	}
}

// The statement timeout bounds only PostgreSQL statements: a caller's own
// context still ends a statement with the caller's error.
func TestCallerDeadlineIsTheCallers(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, _ := url.Parse(dsn)
	p := newPartition(t, u.Host)
	u.Host = p.ln.Addr().String()
	db, err := sqlstore.Open(context.Background(), u.String(), sqlstore.Options{MaxConns: 1, StatementTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.cut()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = db.Nodes(ctx, store.NodeFilter{})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a statement cut by the caller's deadline: %v", err)
	}
	p.heal()
}
