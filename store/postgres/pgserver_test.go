package postgres_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store/postgres"
)

// wire counts the frontend messages of each type the store's connections send: what
// reaches the server. A Bind is a statement run (every one prepared: no Parse once warm),
// a Sync the end of a round trip.
type wire struct {
	mu sync.Mutex
	n  map[byte]int
}

func (w *wire) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &wireConn{Conn: c, w: w, startup: true}, nil
}

// count is how many messages of type typ (a Parse 'P', a Bind 'B', a Sync 'S') have been
// sent so far.
func (w *wire) count(typ byte) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n[typ]
}

// take returns the counts so far and starts again.
func (w *wire) take() map[byte]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.n
	w.n = map[byte]int{}
	return n
}

// wireConn reads the frontend messages a connection writes: the startup message (a
// length, no type), then a type byte and a length each.
type wireConn struct {
	net.Conn
	w       *wire
	startup bool
	head    []byte
	skip    int
}

func (c *wireConn) Write(b []byte) (int, error) {
	c.w.mu.Lock()
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
		if !c.startup {
			if c.w.n == nil {
				c.w.n = map[byte]int{}
			}
			c.w.n[c.head[0]]++
		}
		length := int(binary.BigEndian.Uint32(c.head[want-4:]))
		c.startup, c.head, c.skip = false, c.head[:0], length-4
	}
	c.w.mu.Unlock()
	return c.Conn.Write(b)
}

// wiredStore is a store of one connection, in a schema of its own, whose messages w
// counts and tr traces, with user u1 (alice) and its TOTP factor f1.
func wiredStore(t *testing.T) (*postgres.Store, *wire, *batchSQL) {
	t.Helper()
	sv := testdb.Connect(t)
	w, tr := &wire{}, &batchSQL{}
	return openAlice(t, sv.Migrated(t), t0, postgres.MaxConns(1), postgres.Dialed(w.dial), postgres.Traced(tr)), w, tr
}

// warm makes three decisions on s, which prepare the statements of one, and forgets the
// messages they sent; it returns the runs' counter for the next.
func warm(t *testing.T, s *postgres.Store, w *wire) (runs int) {
	t.Helper()
	for i := range int64(3) {
		if _, _, err := decide(t.Context(), s, i+1, key("w"+string(rune('a'+i)), "a"), &runs); err != nil {
			t.Fatal(err)
		}
	}
	w.take()
	return runs
}

// A decision that goes out whole (the compare-and-set, the audit row, the claim of the
// answer's record) is one pipeline ending in one Sync, which PostgreSQL runs as one
// implicit transaction, committed at the Sync: BEGIN and COMMIT around it were two more
// statements for the server to bind, run and answer on every validation, for a
// transaction it makes anyway.
func TestDecisionSendsNoBeginCommit(t *testing.T) {
	t.Parallel()
	s, w, tr := wiredStore(t)
	ctx := t.Context()
	runs := warm(t, s, w)
	tr.take()
	if _, _, err := decide(ctx, s, 4, key("w4", "a"), &runs); err != nil {
		t.Fatal(err)
	}
	got, sent := w.take(), tr.take()
	for _, q := range sent {
		if q == "BEGIN" || q == "COMMIT" {
			t.Errorf("a decision sent %s", q)
		}
	}
	if got['B'] != len(sent) || got['S'] != 1 || got['P'] != 0 {
		t.Errorf("a decision sent %d statements (Bind) of %d queued, %d Syncs, %d Parses; want them all, 1 Sync, no Parse",
			got['B'], len(sent), got['S'], got['P'])
	}
	if f, err := s.GetFactor(ctx, "f1"); err != nil || f.Counter != 4 {
		t.Errorf("counter %d, %v; want 4: the decision committed", f.Counter, err)
	}
	if got := audited(t, s); len(got) != 4 {
		t.Errorf("audit %q, want four rows", got)
	}
}

// A successful decision's audit row goes out in its compare-and-set's statement (a
// data-modifying CTE beside the UPDATE that already carries the factor's last use): each
// statement the server runs costs it a portal, a snapshot, an executor's start and end
// and an answer, whatever it does. The decision is then one statement: the
// compare-and-set with its audit row and the claim of the answer's record
// (TestDecisionOneStatement).
func TestDecisionAuditInCompareAndSet(t *testing.T) {
	t.Parallel()
	s, w, _ := wiredStore(t)
	ctx := t.Context()
	runs := warm(t, s, w)
	out, claim, err := decide(ctx, s, 4, key("w4", "a"), &runs)
	if err != nil || out != "SUCCESS" || !claim.Claimed {
		t.Fatalf("decided %s, claim %+v, %v; want SUCCESS, claimed", out, claim, err)
	}
	if got := w.take(); got['B'] != 1 || got['S'] != 1 {
		t.Errorf("a decision sent %d statements (Bind), %d Syncs; want 1, 1", got['B'], got['S'])
	}
	if got := audited(t, s); len(got) != 4 || got[3] != "w4:SUCCESS" {
		t.Errorf("audit %q, want wa wb wc w4, all SUCCESS", got)
	}
	used, err := s.LastUsed(ctx, []string{"f1"})
	if err != nil || !used["f1"].Equal(t0) {
		t.Errorf("last used %v, %v; want %v", used["f1"], err, t0)
	}
	// A replayed code: the speculative run (its audit row said SUCCESS) rolls back
	// whole, and the careful run records the failure alone.
	runs = 0
	if out, _, err := decide(ctx, s, 4, key("w5", "a"), &runs); err != nil || out != "FAILED" || runs != 2 {
		t.Errorf("replay decided %s, %v, in %d runs; want FAILED in 2", out, err, runs)
	}
	if got := audited(t, s); len(got) != 5 || got[4] != "w5:FAILED" {
		t.Errorf("audit %q, want the four successes and w5:FAILED", got)
	}
}

// The statements a decision assumes results of test them without an aggregate: an
// EXISTS on the data-modifying CTE's rows (an InitPlan over its CTE scan, stopping at the
// first row) divides by zero as 1/count(*) did, where the Aggregate node, set up and torn
// down on every run of the statement, cost the server about 8k instructions a statement,
// two on every validation.
func TestAssumptionsPlanNoAggregate(t *testing.T) {
	t.Parallel()
	s, tr, sv, schema := tracedAlice(t)
	ctx := t.Context()
	runs := 0
	if _, _, err := decide(ctx, s, 1, key("w1", "a"), &runs); err != nil {
		t.Fatal(err)
	}
	sent := tr.take()
	plan := genericPlans(t, sv, schema)
	assumed := 0
	for _, q := range sent {
		if !strings.HasPrefix(q, "WITH ") {
			continue
		}
		assumed++
		if p := plan(q); strings.Contains(p, "Aggregate") {
			t.Errorf("%.60s… plans an aggregate:\n%s", q, p)
		}
	}
	if assumed != 1 {
		t.Errorf("a decision sent %d assumed statements, want 1: %q", assumed, sent)
	}
}

// genericPlans answers, for a statement of the store's, the generic plan PostgreSQL makes
// of it (as the store's prepared statements run after their fifth execution), on a
// connection of its own in schema: PREPAREd there, then EXPLAIN EXECUTE with every
// parameter NULL.
func genericPlans(t *testing.T, sv *testdb.Server, schema string) func(q string) string {
	t.Helper()
	ctx := t.Context()
	c, err := sv.Admin.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Release)
	if _, err := c.Exec(ctx, "SET search_path TO "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "SET plan_cache_mode TO force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	prepared := 0
	return func(q string) string {
		t.Helper()
		params := 0
		for _, m := range regexp.MustCompile(`\$(\d+)`).FindAllStringSubmatch(q, -1) {
			n, _ := strconv.Atoi(m[1])
			params = max(params, n)
		}
		prepared++
		name := fmt.Sprintf("plan_%d", prepared)
		if _, err := c.Exec(ctx, "PREPARE "+name+" AS "+q); err != nil {
			t.Fatal(err)
		}
		nulls := strings.TrimSuffix(strings.Repeat("NULL, ", params), ", ")
		rows, err := c.Query(ctx, "EXPLAIN EXECUTE "+name+"("+nulls+")", pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(plan) == 0 {
			t.Fatalf("no plan of %.60s…: %v", q, err)
		}
		return strings.Join(plan, "\n")
	}
}
