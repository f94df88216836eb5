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

// errIO stands for what SQLite answers a statement that cannot read or write its pages.
var errIO = errors.New("disk I/O error (SQLITE_IOERR)")

// counterOf is factor id's counter.
func counterOf(t *testing.T, s *sqlstore.Store, id string) int64 {
	t.Helper()
	f, err := s.GetFactor(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return f.Counter
}

// TestHeldCounterErrorFailsUnit: when the compare-and-set the group writer held
// (AdvanceCounter, told nil at once) fails for a reason other than "no row" when it runs
// at the unit's next statement, the unit fails, even when that next statement is one
// whose error fn does not return (an audit row it treats as optional, or a second
// AdvanceCounter, which runs the first held one before holding its own). fn was told its
// counter moved: committing what else it wrote would answer a success whose counter
// never moved.
func TestHeldCounterErrorFailsUnit(t *testing.T) {
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	cases := map[string]func(w store.Writer) error{
		"audit error ignored": func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, "f0", 1, at); err != nil {
				return err
			}
			_ = w.AppendAudit(ctx, store.AuditEvent{Time: at, Provider: "p", Username: "alice", Capability: "totp",
				FactorID: "f0", Resource: "validate", Outcome: "SUCCESS"})
			return nil
		},
		"second AdvanceCounter": func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, "f0", 1, at); err != nil {
				return err
			}
			if err := w.AdvanceCounter(ctx, "f1", 1, at); err != nil {
				return err
			}
			return w.AppendAudit(ctx, store.AuditEvent{Time: at, Provider: "p", Username: "alice", Capability: "totp",
				FactorID: "f1", Resource: "validate", Outcome: "SUCCESS"})
		},
	}
	for name, fn := range cases {
		for _, alone := range []bool{true, false} {
			t.Run(fmt.Sprint(name, "/alone=", alone), func(t *testing.T) {
				s, decide := batchDecisions(t, 3)
				fns := []func(w store.Writer) error{fn}
				if !alone {
					fns = append(fns, decide(2, 1))
				}
				errs, _ := sqlstore.RunBatchFailing(s, "UPDATE factors SET counter", "f0", errIO, fns...)
				if errs[0] == nil {
					t.Errorf("a unit whose held compare-and-set failed (%v): committed", errIO)
				}
				if !alone && errs[1] != nil {
					t.Errorf("its neighbour: %v", errs[1])
				}
				if c := counterOf(t, s, "f1"); c != -1 {
					t.Errorf("f1's counter %d, want -1: the failed unit's other writes committed", c)
				}
				events, err := s.ListAudit(ctx, store.AuditFilter{})
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range events {
					if e.FactorID != "f2" {
						t.Errorf("audit row of the failed unit committed: %+v", e)
					}
				}
			})
		}
	}
}

// TestHeldCounterInUnit: what a unit sees around the compare-and-set the group
// writer holds, in a batch run bare and guarded: a read of the factor after it (through
// RecordFailure's RETURNING) sees the counter it set; of two AdvanceCounters of one
// factor, the second sees the first's counter (a replay of it is told ErrReplay, from the
// run that commits); a panic after it commits nothing of its unit and its neighbours
// commit.
func TestHeldCounterInUnit(t *testing.T) {
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	bareAndGuarded(t, 4, func(t *testing.T, s *sqlstore.Store, decide func(int, int64) func(store.Writer) error, guarded bool) {
		var seen int64
		read := func(w store.Writer) error {
			seen = 0
			if err := w.AdvanceCounter(ctx, "f0", 5, at); err != nil {
				return err
			}
			f, err := w.RecordFailure(ctx, "f0", at, 0, 0)
			seen = f.Counter
			return err
		}
		var second, replay error
		twice := func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, "f1", 3, at); err != nil {
				return err
			}
			second = w.AdvanceCounter(ctx, "f1", 4, at)
			replay = w.AdvanceCounter(ctx, "f1", 4, at)
			return nil
		}
		panicking := func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, "f2", 7, at); err != nil {
				return err
			}
			panic("after the held compare-and-set")
		}
		errs, panics, _ := sqlstore.RunBatch(s, read, twice, panicking, decide(3, 1))
		for i, err := range errs {
			if err != nil {
				t.Errorf("unit %d: %v", i, err)
			}
		}
		if panics[2] == nil {
			t.Error("the panicking unit did not panic")
		}
		if seen != 5 {
			t.Errorf("f0 read after AdvanceCounter(5) in the unit: counter %d", seen)
		}
		if second != nil || !errors.Is(replay, store.ErrReplay) {
			t.Errorf("AdvanceCounter(f1, 4) after 3: %v, then again: %v; want nil, ErrReplay", second, replay)
		}
		for id, want := range map[string]int64{"f0": 5, "f1": 4, "f2": -1, "f3": 1} {
			if c := counterOf(t, s, id); c != want {
				t.Errorf("%s: counter %d, want %d", id, c, want)
			}
		}
	})
}

// TestHeldCounterNeighbours: a decision whose factor a unit before it in the same
// batch disabled, locked or moved past its code is told ErrInactive, ErrLocked or
// ErrReplay by the run that commits, records no success, and leaves the counter alone;
// its neighbours commit.
func TestHeldCounterNeighbours(t *testing.T) {
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	bareAndGuarded(t, 4, func(t *testing.T, s *sqlstore.Store, decide func(int, int64) func(store.Writer) error, guarded bool) {
		told := make([]error, 3)
		decision := func(i int) func(w store.Writer) error {
			id := fmt.Sprint("f", i)
			return func(w store.Writer) error {
				told[i] = w.AdvanceCounter(ctx, id, 1, at)
				outcome := "SUCCESS"
				if told[i] != nil {
					outcome = "FAILED"
				}
				return w.AppendAudit(ctx, store.AuditEvent{Time: at, Provider: "p", Username: "alice", Capability: "totp",
					FactorID: id, Resource: "validate", Outcome: outcome})
			}
		}
		disable := func(w store.Writer) error {
			return w.(interface {
				SetFactorState(context.Context, string, store.FactorState, time.Time) error
			}).SetFactorState(ctx, "f0", store.FactorDisabled, at)
		}
		lock := func(w store.Writer) error {
			_, err := w.RecordFailure(ctx, "f1", at, 1, time.Hour)
			return err
		}
		errs, _, _ := sqlstore.RunBatch(s, disable, decision(0), lock, decision(1), decide(2, 1), decision(2), decide(3, 1))
		for i, err := range errs {
			if err != nil {
				t.Errorf("unit %d: %v", i, err)
			}
		}
		for i, want := range []error{store.ErrInactive, store.ErrLocked, store.ErrReplay} {
			if !errors.Is(told[i], want) {
				t.Errorf("f%d's decision told %v, want %v", i, told[i], want)
			}
		}
		events, err := s.ListAudit(ctx, store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		outcomes := map[string]int{}
		for _, e := range events {
			outcomes[e.FactorID+" "+e.Outcome]++
		}
		want := map[string]int{"f0 FAILED": 1, "f1 FAILED": 1, "f2 SUCCESS": 1, "f2 FAILED": 1, "f3 SUCCESS": 1}
		if fmt.Sprint(outcomes) != fmt.Sprint(want) {
			t.Errorf("audit rows %v, want %v", outcomes, want)
		}
		for id, want := range map[string]int64{"f0": -1, "f1": -1, "f2": 1, "f3": 1} {
			if c := counterOf(t, s, id); c != want {
				t.Errorf("%s: counter %d, want %d", id, c, want)
			}
		}
	})
}

// TestHeldCounterAuditFails: a decision whose audit row fails after its held
// compare-and-set (which AppendAudit amended with the factor's last use) fails whole: the
// counter stays; and one whose caller's context ends after the compare-and-set was held
// either commits whole or not at all.
func TestHeldCounterAuditFails(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000)
	t.Run("audit fails", func(t *testing.T) {
		s, decide := batchDecisions(t, 2)
		errs, _ := sqlstore.RunBatchFailing(s, "INSERT INTO audit", at.UnixMilli(), errIO, decide(0, 1))
		if errs[0] == nil {
			t.Error("a decision whose audit row failed committed")
		}
		if c := counterOf(t, s, "f0"); c != -1 {
			t.Errorf("f0: counter %d, want -1", c)
		}
	})
	t.Run("context ends", func(t *testing.T) {
		s, _ := batchDecisions(t, 1)
		ctx, cancel := context.WithCancel(context.Background())
		err := s.Update(ctx, func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, "f0", 1, at); err != nil {
				return err
			}
			cancel()
			return w.AppendAudit(ctx, store.AuditEvent{Time: at, Provider: "p", Username: "alice", Capability: "totp",
				FactorID: "f0", Resource: "validate", Outcome: "SUCCESS"})
		})
		events, lerr := s.ListAudit(context.Background(), store.AuditFilter{})
		if lerr != nil {
			t.Fatal(lerr)
		}
		c := counterOf(t, s, "f0")
		t.Logf("Update: %v; counter %d, %d audit rows", err, c, len(events))
		if (err == nil) != (c == 1 && len(events) == 1) || (err != nil && (c != -1 || len(events) != 0)) {
			t.Errorf("Update: %v, yet counter %d and %d audit rows", err, c, len(events))
		}
	})
}

// TestHeldCounterRuns: how many times the group writer calls a unit's fn whose
// held compare-and-set changed no row, in a batch where a later unit fails (so that the
// batch runs again, guarded): three times in a bare batch (the speculative run, its
// careful run in place, the batch's guarded run), which store.Store.Update promised was
// at most twice; what the last run is told is the truth.
func TestHeldCounterRuns(t *testing.T) {
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	for _, guarded := range []bool{false, true} {
		t.Run(fmt.Sprint("guarded=", guarded), func(t *testing.T) {
			s, decide := batchDecisions(t, 2)
			sqlstore.RunBatch(s, decide(0, 1))
			if guarded {
				guardNext(s)
			}
			runs := 0
			var told error
			replayed := func(w store.Writer) error {
				runs++
				told = w.AdvanceCounter(ctx, "f0", 1, at)
				return nil
			}
			failing := func(store.Writer) error { return errors.New("boom") }
			errs, _, _ := sqlstore.RunBatch(s, decide(1, 1), replayed, failing)
			t.Logf("the replayed unit's fn ran %d times", runs)
			if errs[0] != nil || errs[1] != nil || errs[2] == nil {
				t.Errorf("units: %v", errs)
			}
			if !errors.Is(told, store.ErrReplay) {
				t.Errorf("the replayed unit's last run was told %v, want ErrReplay", told)
			}
			if runs > 3 {
				t.Errorf("the replayed unit's fn ran %d times, want at most 3", runs)
			}
		})
	}
}

// TestHeldCounterFullDisk: a decision (the held compare-and-set amended with the
// factor's last use, and its audit row) on a full disk fails, however it is batched, and
// is not reported a success: once the disk has room, the counter is where it was.
func TestHeldCounterFullDisk(t *testing.T) {
	f := fullTmpfs(t)
	s, ctx := f.s, context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f0", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("s"), KeyID: "k1", Counter: -1, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	f.fail(t)
	var told error
	err := s.Update(ctx, func(w store.Writer) error {
		told = w.AdvanceCounter(ctx, "f0", 1, at)
		if told != nil {
			return told
		}
		return w.AppendAudit(ctx, store.AuditEvent{Time: at, Provider: "p", Username: "alice", Capability: "totp",
			FactorID: "f0", Resource: "validate", Outcome: "SUCCESS"})
	})
	t.Logf("a decision on a full disk: Update %v (AdvanceCounter told %v)", err, told)
	if err == nil {
		t.Error("a decision on a full disk was reported committed")
	}
	f.lift(t)
	if c := counterOf(t, s, "f0"); c != -1 {
		t.Errorf("f0's counter %d after a failed decision, want -1", c)
	}
}
