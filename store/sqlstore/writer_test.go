package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

// TestDecisionReplayInBatch: a unit whose compare-and-set changes nothing (a code
// replayed by a neighbour in the same batch) still sees store.ErrReplay and answers on
// it, whether the batch runs bare or guarded; its neighbours commit, and no success of it
// is recorded (no audit row of it, no last use moved by it).
func TestDecisionReplayInBatch(t *testing.T) {
	bareAndGuarded(t, 4, func(t *testing.T, s *sqlstore.Store, decide func(int, int64) func(store.Writer) error, guarded bool) {
		ctx := context.Background()
		late := time.UnixMilli(1_700_000_000_000).Add(time.Hour)
		replays := 0
		replayed := func(w store.Writer) error {
			err := w.AdvanceCounter(ctx, "f1", 1, late)
			if !errors.Is(err, store.ErrReplay) {
				return fmt.Errorf("AdvanceCounter of a replayed code: %v, want ErrReplay", err)
			}
			replays++
			return w.AppendAudit(ctx, store.AuditEvent{Time: late, Provider: "p", Username: "alice", Capability: "totp",
				FactorID: "f1", Resource: "validate", Outcome: "FAILED", Reason: "replayed code"})
		}
		errs, _, n := sqlstore.RunBatch(s, decide(0, 1), decide(1, 1), replayed, decide(2, 1))
		for i, err := range errs {
			if err != nil {
				t.Errorf("unit %d: %v", i, err)
			}
		}
		t.Logf("statements: %v", n)
		// The replayed unit had written nothing before its compare-and-set: it runs
		// again where it is, and its neighbours once.
		if !guarded && n["SAVEPOINT"]+n["ROLLBACK"] > 0 {
			t.Errorf("a bare batch with a replay ran %v, want no SAVEPOINT nor ROLLBACK", n)
		}
		if replays == 0 {
			t.Error("the replayed unit never saw ErrReplay")
		}
		used, err := s.LastUsed(ctx, []string{"f0", "f1", "f2"})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"f0", "f1", "f2"} {
			if want := time.UnixMilli(1_700_000_000_000); !used[id].Equal(want) {
				t.Errorf("%s: last used %v, want %v", id, used[id], want)
			}
		}
		events, err := s.ListAudit(ctx, store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var failed, succeeded int
		for _, e := range events {
			switch e.Outcome {
			case "FAILED":
				failed++
			case "SUCCESS":
				succeeded++
			}
		}
		if failed != 1 || succeeded != 3 {
			t.Errorf("audit: %d FAILED and %d SUCCESS, want 1 and 3", failed, succeeded)
		}
		f, err := s.GetFactor(ctx, "f1")
		if err != nil {
			t.Fatal(err)
		}
		if f.Counter != 1 {
			t.Errorf("f1: counter %d, want 1", f.Counter)
		}
	})
}

// TestDecisionAllocs: what one successful decision (counter, audit row, last use)
// allocates on SQLite's group writer, caller and writer together.
func TestDecisionAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	s, _ := batchDecisions(t, 1)
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	c := int64(0)
	fn := func() {
		c++
		err := s.Update(ctx, func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, "f0", c, at); err != nil {
				return err
			}
			return w.AppendAudit(ctx, store.AuditEvent{Time: at, Provider: "p", Username: "alice", Capability: "totp",
				FactorID: "f0", Resource: "validate", Outcome: "SUCCESS"})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		fn()
	}
	n := testing.AllocsPerRun(200, fn)
	t.Logf("a decision: %.0f allocations", n)
	if n > 52 {
		t.Errorf("a decision allocates %.0f, want at most 52", n)
	}
}

// TestDecisionReplayAfterWrite: a unit that wrote before a compare-and-set that
// changes nothing (a resync's reset, then a replayed counter) is rolled back whole and
// runs again careful, in a batch run bare or guarded: its first write is not kept twice,
// nor lost when the unit goes on and commits.
func TestDecisionReplayAfterWrite(t *testing.T) {
	for _, guarded := range []bool{false, true} {
		t.Run(fmt.Sprint("guarded=", guarded), func(t *testing.T) {
			s, decide := batchDecisions(t, 3)
			ctx := context.Background()
			at := time.UnixMilli(1_700_000_000_000)
			if _, _, n := sqlstore.RunBatch(s, decide(1, 5)); n[""] == 0 {
				t.Fatal("no statement ran")
			}
			if guarded {
				guardNext(s)
			}
			var told error
			resync := func(w store.Writer) error {
				if err := w.AppendAudit(ctx, store.AuditEvent{Time: at, Provider: "p", Username: "alice", Capability: "hotp",
					FactorID: "f1", Resource: "resync", Outcome: "ATTEMPT"}); err != nil {
					return err
				}
				told = w.AdvanceCounter(ctx, "f1", 3, at)
				if errors.Is(told, store.ErrReplay) {
					return nil // keeps its first write
				}
				return told
			}
			errs, _, _ := sqlstore.RunBatch(s, decide(0, 1), resync, decide(2, 1))
			for i, err := range errs {
				if err != nil {
					t.Errorf("unit %d: %v", i, err)
				}
			}
			if !errors.Is(told, store.ErrReplay) {
				t.Errorf("the resync's AdvanceCounter: %v, want ErrReplay", told)
			}
			events, err := s.ListAudit(ctx, store.AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			attempts, successes := 0, 0
			for _, e := range events {
				switch e.Outcome {
				case "ATTEMPT":
					attempts++
				case "SUCCESS":
					successes++
				}
			}
			if attempts != 1 || successes != 3 {
				t.Errorf("audit: %d ATTEMPT and %d SUCCESS, want 1 and 3", attempts, successes)
			}
			for i, want := range []int64{1, 5, 1} {
				f, err := s.GetFactor(ctx, fmt.Sprint("f", i))
				if err != nil {
					t.Fatal(err)
				}
				if f.Counter != want {
					t.Errorf("f%d: counter %d, want %d", i, f.Counter, want)
				}
			}
		})
	}
}
