package postgres_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// parses counts the Parse messages (a statement prepared) the store's connections send.
type parses struct{ n atomic.Int64 }

func (p *parses) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &parseCounter{Conn: c, p: p, startup: true}, nil
}

// parseCounter reads the frontend messages a connection writes: the startup message (a
// length, no type), then a type byte and a length each.
type parseCounter struct {
	net.Conn
	p       *parses
	mu      sync.Mutex
	startup bool
	head    []byte // of the message being read, up to its 5 (4 for startup) bytes
	skip    int    // what is left of its body
}

func (c *parseCounter) Write(b []byte) (int, error) {
	c.mu.Lock()
	for rest := b; len(rest) > 0; {
		if c.skip > 0 {
			n := min(c.skip, len(rest))
			c.skip, rest = c.skip-n, rest[n:]
			continue
		}
		want := 5
		if c.startup {
			want = 4
		}
		n := min(want-len(c.head), len(rest))
		c.head, rest = append(c.head, rest[:n]...), rest[n:]
		if len(c.head) < want {
			break
		}
		length := int(binary.BigEndian.Uint32(c.head[want-4:]))
		if !c.startup && c.head[0] == 'P' {
			c.p.n.Add(1)
		}
		c.startup, c.head, c.skip = false, c.head[:0], length-4
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// A replayed code fails the speculative unit's assumption, whose batch pgx then takes for
// one that went wrong: it drops every statement of it from its cache (BEGIN, COMMIT, the
// compare-and-set, the claim) and prepares them again on their next use, a round trip
// and a parse and plan each on the server, hidden in the batches that follow. The
// statements of the speculative protocol stay prepared.
func TestFailedAssumptionKeepsStatementsPrepared(t *testing.T) {
	t.Parallel()
	sv := testdb.Connect(t)
	p := &parses{}
	s := openAlice(t, sv.SchemaDSN(t, sv.NewSchema(t)), time.UnixMilli(0), postgres.MaxConns(1),
		postgres.Traced(&roundTrips{}), postgres.Dialed(p.dial))
	ctx := t.Context()
	runs := 0
	counter := int64(0)
	replayThenNext := func() {
		t.Helper()
		for _, want := range []string{"FAILED", "SUCCESS"} {
			if want == "SUCCESS" {
				counter++
			}
			out, _, err := decide(ctx, s, counter, key("w"+time.Now().String(), "a"), &runs)
			if err != nil || out != want {
				t.Fatalf("decided %s, %v; want %s", out, err, want)
			}
		}
	}
	counter++
	if _, _, err := decide(ctx, s, counter, key("w0", "a"), &runs); err != nil {
		t.Fatal(err)
	}
	replayThenNext() // prepares the careful run's statements too
	replayThenNext()
	before := p.n.Load()
	replayThenNext()
	if n := p.n.Load() - before; n > 1 {
		t.Errorf("a replayed code and the next decision prepared %d statements, want at most 1 (the audit row's)", n)
	}
}

// A DSN that asks for the simple protocol (a pooler that cannot keep prepared
// statements) has none prepared by a unit, failed assumption or not.
func TestSimpleProtocolPreparesNothing(t *testing.T) {
	t.Parallel()
	sv := testdb.Connect(t)
	p := &parses{}
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	if strings.Contains(dsn, "://") {
		dsn += "&default_query_exec_mode=simple_protocol"
	} else {
		dsn += " default_query_exec_mode=simple_protocol"
	}
	s, err := postgres.Open(t.Context(), dsn, postgres.MaxConns(1), postgres.Dialed(p.dial))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: time.UnixMilli(0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("sealed"), KeyID: "k1", Counter: -1, CreatedAt: time.UnixMilli(0), UpdatedAt: time.UnixMilli(0)}); err != nil {
		t.Fatal(err)
	}
	before := p.n.Load()
	runs := 0
	for i, want := range []string{"SUCCESS", "FAILED"} {
		out, _, err := decide(ctx, s, 1, key(fmt.Sprint("w", i), "a"), &runs)
		if err != nil || out != want {
			t.Fatalf("decided %s, %v; want %s", out, err, want)
		}
	}
	if n := p.n.Load() - before; n != 0 {
		t.Errorf("prepared %d statements, want none", n)
	}
}
