package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// auditOf lists the audit events of factor id's decisions, as decide (bench.go) and the
// Update tests write them, oldest first.
func auditOf(t *testing.T, s store.Store, id string) []store.AuditEvent {
	t.Helper()
	all, err := s.ListAudit(t.Context(), store.AuditFilter{Limit: 10000})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	var out []store.AuditEvent
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].FactorID == id {
			out = append(out, all[i])
		}
	}
	return out
}

func decisionEvent(factorID, outcome string) store.AuditEvent {
	return store.AuditEvent{Time: at(0), Provider: "p", Username: "name-u1", Capability: "totp",
		FactorID: factorID, Resource: "validate", Outcome: outcome}
}

// A unit's writes are all there once Update returns, and its reads see its own writes.
func testUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	userWithFactor(t, s)
	var seen store.Transaction
	err := s.Update(ctx, func(w store.Writer) error {
		if err := w.CreateTransaction(ctx, newTransaction("t1", "f1", at(time.Hour))); err != nil {
			return err
		}
		if err := w.CompleteTransaction(ctx, "t1", "SUCCESS", at(time.Second)); err != nil {
			return err
		}
		var err error
		if seen, err = w.GetTransaction(ctx, "t1"); err != nil {
			return err
		}
		if err := w.AdvanceCounter(ctx, "f1", 7, at(time.Second)); err != nil {
			return err
		}
		return w.AppendAudit(ctx, decisionEvent("f1", "SUCCESS"))
	})
	wantErr(t, "Update", err, nil)
	if seen.Status != "SUCCESS" {
		t.Errorf("GetTransaction within the unit: status %q, want the unit's own SUCCESS", seen.Status)
	}
	if tx := mustGetTransaction(t, s, "t1"); tx.Status != "SUCCESS" {
		t.Errorf("transaction status %q after Update, want SUCCESS", tx.Status)
	}
	if f := mustGetFactor(t, s, "f1"); f.Counter != 7 {
		t.Errorf("Counter = %d after Update, want 7", f.Counter)
	}
	if n := len(auditOf(t, s, "f1")); n != 1 {
		t.Errorf("%d audit events after Update, want 1", n)
	}
	// The sentinel errors come out of a unit as they do out of the Store.
	err = s.Update(ctx, func(w store.Writer) error { return w.AdvanceCounter(ctx, "f1", 7, at(time.Second)) })
	wantErr(t, "AdvanceCounter to the same value in a unit", err, store.ErrReplay)
}

// A unit whose fn fails leaves nothing behind: no state change without its audit row.
func testUpdateRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	userWithFactor(t, s)
	boom := errors.New("boom")
	err := s.Update(ctx, func(w store.Writer) error {
		if err := w.AdvanceCounter(ctx, "f1", 7, at(time.Second)); err != nil {
			return err
		}
		if err := w.AppendAudit(ctx, decisionEvent("f1", "SUCCESS")); err != nil {
			return err
		}
		if err := w.ReserveSend(ctx, []string{"k"}, perHour(5), at(0)); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "Update with a failing fn", err, boom)
	if f := mustGetFactor(t, s, "f1"); f.Counter != -1 {
		t.Errorf("Counter = %d after a failed unit, want -1", f.Counter)
	}
	if n := len(auditOf(t, s, "f1")); n != 0 {
		t.Errorf("%d audit events after a failed unit, want 0", n)
	}
	if n := sendsWithin(t, s, "k", time.Hour, at(0)); n != 0 {
		t.Errorf("%d sends after a failed unit, want 0", n)
	}
	// A write that fails (here on a missing factor) fails the unit the same way.
	err = s.Update(ctx, func(w store.Writer) error {
		if err := w.AppendAudit(ctx, decisionEvent("f1", "SUCCESS")); err != nil {
			return err
		}
		return w.ResetFailures(ctx, "missing", at(0))
	})
	wantErr(t, "Update with a failing write", err, store.ErrNotFound)
	if n := len(auditOf(t, s, "f1")); n != 0 {
		t.Errorf("%d audit events after a unit whose write failed, want 0", n)
	}
}

// An enrollment is a unit: its factor, its activation's transaction and its audit record
// commit together or not at all, and CreateFactor's refusals come out of a unit as they do
// out of the Store.
func testUpdateCreateFactor(t *testing.T, s store.Store) {
	ctx := t.Context()
	userWithFactor(t, s)
	enroll := func(id string, fail error) error {
		return s.Update(ctx, func(w store.Writer) error {
			if err := w.CreateFactor(ctx, newFactor(id, "u1", at(0))); err != nil {
				return err
			}
			if err := w.CreateTransaction(ctx, newTransaction("act-"+id, id, at(time.Hour))); err != nil {
				return err
			}
			if err := w.AppendAudit(ctx, decisionEvent(id, "SUCCESS")); err != nil {
				return err
			}
			return fail
		})
	}
	wantErr(t, "an enrollment's unit", enroll("f2", nil), nil)
	mustGetFactor(t, s, "f2")
	mustGetTransaction(t, s, "act-f2")
	if n := len(auditOf(t, s, "f2")); n != 1 {
		t.Errorf("%d audit events after the enrollment's unit, want 1", n)
	}
	boom := errors.New("boom")
	wantErr(t, "a failing enrollment's unit", enroll("f3", boom), boom)
	if _, err := s.GetFactor(ctx, "f3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetFactor after a failed unit: %v, want ErrNotFound", err)
	}
	if _, err := s.GetTransaction(ctx, "act-f3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTransaction after a failed unit: %v, want ErrNotFound", err)
	}
	if n := len(auditOf(t, s, "f3")); n != 0 {
		t.Errorf("%d audit events after a failed unit, want 0", n)
	}
	wantErr(t, "CreateFactor of an id taken, in a unit", enroll("f1", nil), store.ErrExists)
	if n := len(auditOf(t, s, "f1")); n != 0 {
		t.Errorf("%d audit events after a refused enrollment, want 0", n)
	}
	err := s.Update(ctx, func(w store.Writer) error { return w.CreateFactor(ctx, newFactor("f4", "nobody", at(0))) })
	wantErr(t, "CreateFactor for a missing user, in a unit", err, store.ErrNotFound)
}

// A unit goes on after CreateFactor refused a taken id (ErrExists): an enrollment that
// then picks another id, or records the refusal, commits what it wrote before and after.
// (PostgreSQL aborts a transaction at a failed statement; the store must not let it.)
func testUpdateAfterCreateFactorExists(t *testing.T, s store.Store) {
	ctx := t.Context()
	userWithFactor(t, s)
	err := s.Update(ctx, func(w store.Writer) error {
		if err := w.CreateTransaction(ctx, newTransaction("before", "f1", at(time.Hour))); err != nil {
			return fmt.Errorf("CreateTransaction before: %w", err)
		}
		taken := newFactor("f1", "u1", at(time.Minute))
		taken.Label = "second f1"
		if err := w.CreateFactor(ctx, taken); !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("CreateFactor of a taken id: %v, want ErrExists", err)
		}
		if err := w.CreateFactor(ctx, newFactor("f3", "nobody", at(0))); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("CreateFactor for a user who does not exist: %v, want ErrNotFound", err)
		}
		if err := w.CreateFactor(ctx, newFactor("f2", "u1", at(0))); err != nil {
			return fmt.Errorf("CreateFactor after ErrExists and ErrNotFound: %w", err)
		}
		if err := w.CreateTransaction(ctx, newTransaction("after", "f2", at(time.Hour))); err != nil {
			return fmt.Errorf("CreateTransaction after: %w", err)
		}
		return w.AppendAudit(ctx, decisionEvent("f2", "SUCCESS"))
	})
	if err != nil {
		t.Fatalf("the unit: %v", err)
	}
	if f := mustGetFactor(t, s, "f1"); f.Label == "second f1" {
		t.Error("the refused CreateFactor replaced f1")
	}
	mustGetFactor(t, s, "f2")
	mustGetTransaction(t, s, "before")
	mustGetTransaction(t, s, "after")
	if n := len(auditOf(t, s, "f2")); n != 1 {
		t.Errorf("%d audit events of the unit, want 1", n)
	}
}

// Units submitted together, as a backend may commit them in one batch: a failing unit
// takes none of its neighbours with it, and two units racing for one compare-and-set see
// each other's result, exactly one winning.
func testConcurrentUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1"))
	const n = 40
	for i := range n {
		mustCreateFactor(t, s, newFactor(fmt.Sprintf("f%d", i), "u1", at(0)))
	}
	boom := errors.New("boom")
	errs := concurrently(2*n, func(i int) error {
		id := fmt.Sprintf("f%d", i/2)
		return s.Update(ctx, func(w store.Writer) error {
			if i%4 == 3 {
				// Writes, then fails: rolled back alone.
				if err := w.AppendAudit(ctx, decisionEvent(id, "LOST")); err != nil {
					return err
				}
				if _, err := w.RecordFailure(ctx, id, at(0), 0, 0); err != nil {
					return err
				}
				return boom
			}
			// Both units of f0, f2, ... advance to 1: one wins, one is a replay (and
			// writes the audit row of its FAILED decision, committed all the same).
			outcome := "SUCCESS"
			if err := w.AdvanceCounter(ctx, id, 1, at(0)); errors.Is(err, store.ErrReplay) {
				outcome = "FAILED"
			} else if err != nil {
				return err
			}
			return w.AppendAudit(ctx, decisionEvent(id, outcome))
		})
	})
	for i, err := range errs {
		want := error(nil)
		if i%4 == 3 {
			want = boom
		}
		if !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("unit %d: got %v, want %v", i, err, want)
		}
	}
	for i := range n {
		id := fmt.Sprintf("f%d", i)
		f := mustGetFactor(t, s, id)
		var outcomes []string
		for _, e := range auditOf(t, s, id) {
			outcomes = append(outcomes, e.Outcome)
		}
		if i%2 == 0 {
			// Two units advanced it: one SUCCESS and one FAILED, in either order.
			if f.Counter != 1 || len(outcomes) != 2 || outcomes[0] == outcomes[1] || f.Failures != 0 {
				t.Errorf("%s: counter %d, failures %d, audit %v; want 1, 0 and one SUCCESS and one FAILED", id, f.Counter, f.Failures, outcomes)
			}
			continue
		}
		// One unit advanced it and one failed: the failed one's failure and audit row
		// are gone.
		if f.Counter != 1 || f.Failures != 0 || len(outcomes) != 1 || outcomes[0] != "SUCCESS" {
			t.Errorf("%s: counter %d, failures %d, audit %v; want 1, 0, [SUCCESS]", id, f.Counter, f.Failures, outcomes)
		}
	}
}

// A canceled context stops a unit before it starts: nothing of it is written.
func testUpdateCanceled(t *testing.T, s store.Store) {
	userWithFactor(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	err := s.Update(ctx, func(w store.Writer) error {
		ran = true
		if err := w.AdvanceCounter(ctx, "f1", 7, at(0)); err != nil {
			return err
		}
		return w.AppendAudit(ctx, decisionEvent("f1", "SUCCESS"))
	})
	if err == nil {
		t.Fatalf("Update with a canceled context succeeded (fn ran: %v)", ran)
	}
	if f := mustGetFactor(t, s, "f1"); f.Counter != -1 {
		t.Errorf("Counter = %d after a canceled Update, want -1", f.Counter)
	}
	if n := len(auditOf(t, s, "f1")); n != 0 {
		t.Errorf("%d audit events after a canceled Update, want 0", n)
	}
}

// A panic in fn reaches Update's caller; the unit is rolled back and the store works on.
func testUpdatePanic(t *testing.T, s store.Store) {
	ctx := t.Context()
	userWithFactor(t, s)
	func() {
		defer func() {
			if r := recover(); r != "bug" {
				t.Errorf("recovered %v, want the unit's panic", r)
			}
		}()
		_ = s.Update(ctx, func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, "f1", 7, at(0)); err != nil {
				return err
			}
			panic("bug")
		})
	}()
	if f := mustGetFactor(t, s, "f1"); f.Counter != -1 {
		t.Errorf("Counter = %d after a unit panicked, want -1", f.Counter)
	}
	wantErr(t, "AdvanceCounter after a unit panicked", s.AdvanceCounter(ctx, "f1", 1, at(0)), nil)
}
