package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
	"github.com/emfa/emfa/store/sqlstore"
)

// batchDecisions opens an in-memory SQLite store with n active factors of one user, and
// returns it with the unit of a successful validation of factor i at counter c.
func batchDecisions(t *testing.T, n int) (*sqlstore.Store, func(i int, c int64) func(w store.Writer) error) {
	t.Helper()
	st := testdb.Memory(t)
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	if err := st.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := st.CreateFactor(ctx, store.Factor{ID: fmt.Sprint("f", i), UserID: "u1", Type: "totp", State: store.FactorActive,
			Secret: []byte("s"), KeyID: "k1", Counter: -1, CreatedAt: at, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	decide := func(i int, c int64) func(w store.Writer) error {
		id := fmt.Sprint("f", i)
		return func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, id, c, at); err != nil {
				return err
			}
			return w.AppendAudit(ctx, store.AuditEvent{Time: at, Provider: "p", Username: "alice", Capability: "totp",
				FactorID: id, Resource: "validate", Outcome: "SUCCESS"})
		}
	}
	return st.(*sqlite.Store).Store, decide
}

// bareAndGuarded runs test twice, as subtests, on a store of batchDecisions(t, n): with
// its next batch run bare (no savepoints), and guarded (guardNext), which it is told.
func bareAndGuarded(t *testing.T, n int, test func(t *testing.T, s *sqlstore.Store, decide func(i int, c int64) func(w store.Writer) error, guarded bool)) {
	for _, guarded := range []bool{false, true} {
		t.Run(fmt.Sprint("guarded=", guarded), func(t *testing.T) {
			s, decide := batchDecisions(t, n)
			if guarded {
				guardNext(s)
			}
			test(t, s, decide, guarded)
		})
	}
}

// guardNext runs a batch with a failing unit on s, which leaves s's next batch guarded:
// each unit in a savepoint of its own.
func guardNext(s *sqlstore.Store) {
	boom := errors.New("boom")
	sqlstore.RunBatch(s, func(store.Writer) error { return boom }, func(store.Writer) error { return nil })
}

// TestBatchStatements: a batch of units that all succeed runs their statements and
// no more: no SAVEPOINT and RELEASE around each (issue 16: 11 µs a decision in a batch of
// 64 parallel validations, of the writer's ~135 µs).
func TestBatchStatements(t *testing.T) {
	s, decide := batchDecisions(t, 8)
	var fns []func(w store.Writer) error
	for i := range 8 {
		fns = append(fns, decide(i, 1))
	}
	errs, _, n := sqlstore.RunBatch(s, fns...)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("unit %d: %v", i, err)
		}
	}
	t.Logf("a batch of 8 decisions: %d statements: %v", n[""], n)
	if n["SAVEPOINT"]+n["RELEASE"] > 0 {
		t.Errorf("a batch of 8 decisions that all succeed ran %d SAVEPOINT and %d RELEASE, want none", n["SAVEPOINT"], n["RELEASE"])
	}
	// The factor's row is written once, its counter and its last use in one UPDATE, as
	// PostgreSQL's unit does (sqlstore.Amender): 8 UPDATEs, not 16. The last use is
	// recorded all the same.
	if n["UPDATE"] != 8 || n["INSERT"] != 8 || n[""] != 16 {
		t.Errorf("a batch of 8 decisions ran %v, want 8 UPDATE and 8 INSERT, 16 in all", n)
	}
	ids := make([]string, 8)
	for i := range ids {
		ids[i] = fmt.Sprint("f", i)
	}
	used, err := s.LastUsed(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if want := time.UnixMilli(1_700_000_000_000); !used[id].Equal(want) {
			t.Errorf("%s: last used %v, want %v", id, used[id], want)
		}
	}
}

// TestBatchFailureAlone: a unit that fails (an error after a write, or a panic) in a
// batch run bare is rolled back alone: the batch runs again, guarded, and its neighbours
// commit. The batch after one that failed starts guarded; one without failure ends that.
func TestBatchFailureAlone(t *testing.T) {
	s, decide := batchDecisions(t, 8)
	boom := errors.New("boom")
	runs := make([]int, 8)
	var fns []func(w store.Writer) error
	for i := range 8 {
		d := decide(i, 1)
		fns = append(fns, func(w store.Writer) error {
			runs[i]++
			if err := d(w); err != nil {
				return err
			}
			switch i {
			case 3:
				return boom
			case 5:
				panic("bug")
			}
			return nil
		})
	}
	errs, panics, n := sqlstore.RunBatch(s, fns...)
	t.Logf("runs %v, statements %v", runs, n)
	for i := range 8 {
		var want error
		if i == 3 {
			want = boom
		}
		if !errors.Is(errs[i], want) || (want == nil && errs[i] != nil) {
			t.Errorf("unit %d: %v, want %v", i, errs[i], want)
		}
		if (panics[i] != nil) != (i == 5) {
			t.Errorf("unit %d: panic %v", i, panics[i])
		}
		f, err := s.GetFactor(context.Background(), fmt.Sprint("f", i))
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(1); i == 3 || i == 5 {
			if f.Counter != -1 {
				t.Errorf("f%d: counter %d after its unit failed, want -1", i, f.Counter)
			}
		} else if f.Counter != want {
			t.Errorf("f%d: counter %d, want %d", i, f.Counter, want)
		}
	}
	// Guarded next, since this one failed; then bare again.
	var next []func(w store.Writer) error
	for i := range 8 {
		next = append(next, decide(i, 2))
	}
	_, _, n = sqlstore.RunBatch(s, next[:4]...)
	if n["SAVEPOINT"] != 4 {
		t.Errorf("the batch after a failure ran %d SAVEPOINT, want 4 (guarded)", n["SAVEPOINT"])
	}
	_, _, n = sqlstore.RunBatch(s, next[4:]...)
	if n["SAVEPOINT"] != 0 {
		t.Errorf("the batch after a clean guarded one ran %d SAVEPOINT, want 0", n["SAVEPOINT"])
	}
}
