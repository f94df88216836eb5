package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// TestCommitCarriesWork: the statements a unit queues go out with its COMMIT (a
// decision's compare-and-set, an import's 500 users), so the bound put on the COMMIT's
// answer bounds their work too: a unit whose caller's deadline is far (an import's ten
// minutes) is not cut at commitWait (10 s; 300 ms here) from its COMMIT while the server
// still works on it (here: waits for a row lock another transaction holds for a second),
// its connection closed and the caller told a timeout, where before the fix that bound
// the COMMIT's wait its own deadline governed it.
func TestCommitCarriesWork(t *testing.T) {
	defer postgres.SetCommitWait(300 * time.Millisecond)()
	sv := testdb.Connect(t)
	dsn := sv.Migrated(t)
	s, err := postgres.Open(t.Context(), dsn, postgres.MaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	withAlice(t, s, t0)
	look, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer look.Close()
	tx, err := look.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `SELECT 1 FROM factors WHERE id = 'f1' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	release := time.AfterFunc(time.Second, func() { _ = tx.Rollback(context.Background()) })
	defer func() {
		if release.Stop() {
			_ = tx.Rollback(context.Background())
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err = s.Update(ctx, func(w store.Writer) error {
		if err := w.AdvanceCounter(ctx, "f1", 1, t0.Add(time.Minute)); err != nil {
			return err
		}
		return w.AppendAudit(ctx, store.AuditEvent{Time: t0, RequestID: "g85-long", FactorID: "f1", Outcome: "SUCCESS"})
	})
	if err != nil {
		t.Errorf("a unit whose work outlasted commitWait, its deadline a minute away: %v", err)
	}
	f, err := s.GetFactor(t.Context(), "f1")
	if err != nil {
		t.Fatal(err)
	}
	if f.Counter != 1 {
		t.Errorf("counter %d after the unit, want 1", f.Counter)
	}
}
