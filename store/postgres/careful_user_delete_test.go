package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
)

// TestCarefulUnitBesideUserDeleteDoesNotDeadlock: a unit that clears a factor's failures
// and records its use (a challenge's right answer) run careful, each result awaited (an
// assumption of its speculative run did not hold), and the delete of the factor's user
// at once both go through, one after the other. The careful run cannot fold the use into
// the clearing's statement, which went out already, and writes the factor's row twice:
// PostgreSQL checks factors.user_id's foreign key again at the second write, taking the
// user's row FOR KEY SHARE after the factor's; the delete takes the user's row, then its
// factors (ON DELETE CASCADE). Here the unit waits before its audit row (on an advisory
// lock the test holds) while the delete starts. Its session looks for a deadlock after
// 50 ms, the delete's after 30 s: it was the victim, ran again and found its factor gone.
// The careful run now takes the user's row first, with the clearing, and so with a
// TOTP's or HOTP's counter (AdvanceCounter), whose careful run wrote the row twice the
// same way (AppendAudit folds the use into the compare-and-set only while it is queued).
func TestCarefulUnitBesideUserDeleteDoesNotDeadlock(t *testing.T) {
	for _, c := range []struct {
		name  string
		write func(ctx context.Context, w store.Writer) error
	}{
		{"cleared failures", func(ctx context.Context, w store.Writer) error { return w.ClearFailuresUnlocked(ctx, "f1", t0) }},
		{"counter", func(ctx context.Context, w store.Writer) error { return w.AdvanceCounter(ctx, "f1", 7, t0) }},
	} {
		t.Run(c.name, func(t *testing.T) { testCarefulUnitBesideUserDelete(t, c.write) })
	}
}

func testCarefulUnitBesideUserDelete(t *testing.T, write func(ctx context.Context, w store.Writer) error) {
	sv := testdb.Connect(t)
	dsn := sv.Migrated(t)
	ctx := context.Background()
	app := "lcu" + time.Now().Format("150405.000000")
	s := withAlice(t, sv.OpenAs(t, dsn, app+"u", "50ms"), t0)
	deleter := sv.OpenAs(t, dsn, app+"d", "30s")
	if err := s.CreateFactor(ctx, store.Factor{ID: "spent", UserID: "u1", Type: "hotp", State: store.FactorActive,
		Secret: []byte("sealed"), KeyID: "k1", Counter: 5, CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	release := sv.Hold(t, dsn, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, 0x656d6661, "gate")
	var runs int
	done, deleted := make(chan error, 1), make(chan error, 1)
	go func() {
		done <- s.Update(ctx, func(w store.Writer) error {
			runs++
			// A counter at 5 already: the speculative run's assumption does not hold.
			if err := w.AdvanceCounter(ctx, "spent", 1, t0); err != nil && !errors.Is(err, store.ErrReplay) {
				return err
			}
			if err := write(ctx, w); err != nil {
				return err
			}
			if runs == 2 {
				if err := w.LockFactor(ctx, "gate"); err != nil {
					return err
				}
			}
			return w.AppendAudit(ctx, store.AuditEvent{Time: t0, Provider: "p", Username: "alice", Capability: "smsotp",
				FactorID: "f1", Resource: "validate", Outcome: "SUCCESS"})
		})
	}()
	sv.WaitForLock(t, app+"u", done)
	go func() {
		deleted <- deleter.ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", Delete: true, Now: t0}})[0]
	}()
	sv.WaitForLock(t, app+"d", deleted)
	release()
	if err := testwait.Recv(t, "the unit", done); err != nil {
		t.Errorf("the careful unit beside its user's delete: %v; want it committed", err)
	}
	if err := testwait.Recv(t, "the delete", deleted); err != nil {
		t.Errorf("the delete of the user: %v", err)
	}
	if runs != 2 {
		t.Errorf("the unit ran %d times; want twice, speculative then careful (a deadlock's victim runs again)", runs)
	}
	if _, err := deleter.GetUser(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("alice after her delete: %v; want not found", err)
	}
}
