package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// TestConcurrentDecisionsOneSuccess: validations of one TOTP code at once, each a
// decision (the compare-and-set with its audit row in one statement, the claim of its
// answer's record) committed at its pipeline's Sync without BEGIN and COMMIT, on
// connections of their own: exactly one decides SUCCESS, the others FAILED (a replay),
// and the audit has one SUCCESS row, one row per decision, each decision's record.
func TestConcurrentDecisionsOneSuccess(t *testing.T) {
	const n = 12
	s := withAlice(t, openTraced(t, "", n, nil), time.UnixMilli(0))
	ctx := t.Context()
	for round := range 5 {
		counter := int64(10 * (round + 1))
		outcomes := make([]string, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runs := 0
				<-start
				outcomes[i], _, errs[i] = decide(ctx, s, counter, key(fmt.Sprintf("r%d-w%d", round, i), "a"), &runs)
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d: decision %d: %v", round, i, errs[i])
			}
			if outcomes[i] == "SUCCESS" {
				wins++
			}
			if _, err := s.GetIdempotency(ctx, key(fmt.Sprintf("r%d-w%d", round, i), "a")); err != nil {
				t.Errorf("round %d: decision %d committed without its record: %v", round, i, err)
			}
		}
		if wins != 1 {
			t.Errorf("round %d: %d of %d concurrent decisions of one code succeeded, want 1 (%q)", round, wins, n, outcomes)
		}
		var got []string
		for _, a := range audited(t, s) {
			if strings.HasPrefix(a, fmt.Sprintf("r%d-", round)) {
				got = append(got, a)
			}
		}
		succ := slices.DeleteFunc(slices.Clone(got), func(a string) bool { return !strings.HasSuffix(a, ":SUCCESS") })
		if len(succ) != 1 || len(got) != n {
			t.Errorf("round %d: audit %q: want %d rows, one SUCCESS", round, got, n)
		}
		if f, err := s.GetFactor(ctx, "f1"); err != nil || f.Counter != counter {
			t.Errorf("round %d: counter %d (%v), want %d", round, f.Counter, err, counter)
		}
	}
}

// TestImplicitUnitAtomicEveryExecMode: a unit sent whole commits at its Sync
// without BEGIN and COMMIT (d43bbb3) under every default_query_exec_mode a DSN may set,
// each of which pgx sends a batch differently (a pipeline of prepared statements, one
// ExecBatch, one simple Query of the statements joined): a statement that fails after
// the compare-and-set and its audit row leaves nothing of them, and the next decisions
// decide as ever.
func TestImplicitUnitAtomicEveryExecMode(t *testing.T) {
	sv := testdb.Connect(t)
	for _, mode := range []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			dsn := sv.Migrated(t)
			if strings.Contains(dsn, "://") {
				dsn += "&default_query_exec_mode=" + mode
			} else {
				dsn += " default_query_exec_mode=" + mode
			}
			s := withAlice(t, openTraced(t, dsn, 2, nil), time.UnixMilli(0))
			ctx := t.Context()
			for range 2 { // the second with the statements prepared, where the mode keeps them
				failingUnit(t, s)
			}
			runs := 0
			for i, want := range []string{"SUCCESS", "FAILED"} {
				out, _, err := decide(ctx, s, 1, key(fmt.Sprint("w", i), "a"), &runs)
				if err != nil || out != want {
					t.Fatalf("decision %d: %s, %v; want %s", i, out, err, want)
				}
			}
			if got := audited(t, s); !slices.Equal(got, []string{"w0:SUCCESS", "w1:FAILED"}) {
				t.Errorf("audit %q", got)
			}
		})
	}
}

// cutDialer dials connections whose write, once cut is set, sends a batch's messages
// but its Sync and then closes the connection: the server has run the statements'
// Executes, in the implicit transaction a Sync would have committed.
type cutDialer struct{ cut, didCut atomic.Bool }

func (d *cutDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &cutConn{Conn: c, d: d}, nil
}

type cutConn struct {
	net.Conn
	d *cutDialer
}

var syncMsg = []byte{'S', 0, 0, 0, 4}

func (c *cutConn) Write(b []byte) (int, error) {
	if len(b) > len(syncMsg) && b[0] == 'B' && bytes.HasSuffix(b, syncMsg) && c.d.cut.CompareAndSwap(true, false) {
		n, _ := c.Conn.Write(b[:len(b)-len(syncMsg)])
		c.d.didCut.Store(true)
		c.Conn.Close()
		return n, errors.New("injected: the connection died before the batch's Sync")
	}
	return c.Conn.Write(b)
}

// TestDecisionCutBeforeSyncCommitsNothing: a decision sent without BEGIN and
// COMMIT whose connection dies after the server has its compare-and-set, audit row and
// claim but not its Sync commits none of them: the counter does not move, no audit row,
// no record, and the same code then decides SUCCESS on a new connection.
func TestDecisionCutBeforeSyncCommitsNothing(t *testing.T) {
	d := &cutDialer{}
	sv := testdb.Connect(t)
	s := openAlice(t, sv.Migrated(t), time.UnixMilli(0), postgres.MaxConns(1), postgres.Dialed(d.dial))
	ctx := t.Context()
	runs := 0
	if out, _, err := decide(ctx, s, 1, key("w1", "a"), &runs); err != nil || out != "SUCCESS" {
		t.Fatalf("warm-up decision: %s %v", out, err)
	}
	d.cut.Store(true)
	out, _, err := decide(ctx, s, 2, key("w2", "a"), &runs)
	if !d.didCut.Load() {
		t.Fatal("the decision's batch went out without a cut")
	}
	if err == nil {
		t.Fatalf("a decision whose Sync never went out: %s, no error", out)
	}
	if f, err := s.GetFactor(ctx, "f1"); err != nil || f.Counter != 1 {
		t.Errorf("counter %d (%v), want 1: half a decision committed", f.Counter, err)
	}
	if got := audited(t, s); !slices.Equal(got, []string{"w1:SUCCESS"}) {
		t.Errorf("audit %q, want only the warm-up's", got)
	}
	if _, err := s.GetIdempotency(ctx, key("w2", "a")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the cut decision's record: %v, want none", err)
	}
	if out, _, err := decide(ctx, s, 2, key("w2", "a"), &runs); err != nil || out != "SUCCESS" {
		t.Errorf("the same code after the cut: %s %v, want SUCCESS", out, err)
	}
}
