package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// codeValidate is a right SMS or e-mail code's unit as the builtin engine's
// answerChallenge runs it: the attempt, counted from the attempts read before the unit,
// the factor's failures cleared, the challenge's compare-and-set, the audit row.
func codeValidate(ctx context.Context, s store.Store, id string, read int) (n, runs int, err error) {
	err = s.Update(ctx, func(w store.Writer) error {
		runs++
		var err error
		if n, err = w.AddAttemptAfter(ctx, id, read, t0); err != nil {
			return err
		}
		if err := w.ClearFailuresUnlocked(ctx, "f1", t0); err != nil {
			return err
		}
		if err := w.CompleteTransaction(ctx, id, "SUCCESS", t0); err != nil {
			return err
		}
		return w.AppendAudit(ctx, store.AuditEvent{Time: t0, Provider: "p", Username: "alice", Capability: "smsotp",
			FactorID: "f1", Resource: "validate", Outcome: "SUCCESS", Reason: fmt.Sprint("attempt ", n)})
	})
	return n, runs, err
}

// A right code's validate, the attempt included, is one round trip with its COMMIT when
// no other attempt was counted since the transaction was read; before, the unit awaited
// the attempt's new count, then sent the rest: two. When another attempt was counted
// meanwhile (a wrong code on another replica), the assumption fails, nothing of the
// speculative run commits, and the careful run counts both.
func TestCodeValidateAttemptIsAssumed(t *testing.T) {
	t.Parallel()
	s, rt := speculating(t)
	ctx := t.Context()
	for _, id := range []string{"warm", "t1", "t2"} {
		err := s.CreateTransaction(ctx, store.Transaction{ID: id, Provider: "p", Username: "alice", Capability: "smsotp",
			FactorID: "f1", Status: "PENDING", ExpiresAt: t0.Add(time.Hour), CreatedAt: t0, UpdatedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := codeValidate(ctx, s, "warm", 0); err != nil { // prepares the statements
		t.Fatal(err)
	}
	before := rt.n.Load()
	n, runs, err := codeValidate(ctx, s, "t1", 0)
	if err != nil || n != 1 || runs != 1 {
		t.Fatalf("validate: attempt %d in %d runs, %v; want attempt 1 in 1 run", n, runs, err)
	}
	if got := rt.n.Load() - before; got != 1 {
		t.Errorf("the validate's unit took %d round trips, want 1", got)
	}
	if tx, err := s.GetTransaction(ctx, "t1"); err != nil || tx.Attempts != 1 || tx.Status != "SUCCESS" {
		t.Errorf("t1: %+v, %v; want SUCCESS after 1 attempt", tx, err)
	}

	// Another attempt counted after t2 was read with none: the unit must see 2.
	if _, err := s.AddAttempt(ctx, "t2", t0); err != nil {
		t.Fatal(err)
	}
	n, runs, err = codeValidate(ctx, s, "t2", 0)
	if err != nil || n != 2 || runs != 2 {
		t.Errorf("validate after a racing attempt: attempt %d in %d runs, %v; want attempt 2 in 2 runs", n, runs, err)
	}
	if tx, err := s.GetTransaction(ctx, "t2"); err != nil || tx.Attempts != 2 || tx.Status != "SUCCESS" {
		t.Errorf("t2: %+v, %v; want SUCCESS after 2 attempts", tx, err)
	}
	if got := audited(t, s); len(got) != 3 {
		t.Errorf("audit %q, want one row per validate", got)
	}
}
