package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
)

// TestEnrollBesideImportDoNotDeadlock: an enrollment (CreateFactorWithin) and an
// import's change pre-provisioning a factor for the same user (ApplyUserChanges with
// FactorsWithin) at once both apply, and PostgreSQL aborts neither as deadlocked. The
// change locks the user's row first (lockFirst), then the user's factor-count lock;
// the enrollment took the count lock first, then, in factors' insert trigger, the
// user's row FOR SHARE: each held what the other waited for.
func TestEnrollBesideImportDoNotDeadlock(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.Migrated(t)
	ctx := context.Background()
	app := "c18" + time.Now().Format("150405.000000")
	d := &deadlocks{}
	s := openTraced(t, dsn+"&application_name="+app+"s", 4, d)
	importer := openTraced(t, dsn+"&application_name="+app+"i", 4, d)
	enroller := openTraced(t, dsn+"&application_name="+app+"e", 4, d)
	t0 := time.UnixMilli(1_800_000_000_000)
	for _, err := range s.ApplyUserChanges(ctx, []store.UserChange{{Name: "alice",
		Create: &store.User{ID: "u1", Name: "alice", CreatedAt: t0}, Profile: &store.Profile{Email: "a@example.com"}, Now: t0}}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	factor := func(id, phone string) store.Factor {
		return store.Factor{ID: id, UserID: "u1", Type: "smsotp", State: store.FactorActive,
			Params: map[string]string{"phone": phone}, Counter: -1, CreatedAt: t0, UpdatedAt: t0}
	}
	alike := store.Alike{Type: true, Param: "phone"}

	// The user's profile row held: the import's change, its user's row locked, waits
	// there, before its factor's count lock.
	c, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE user_profiles SET updated_at = updated_at WHERE user_id = 'u1'`); err != nil {
		t.Fatal(err)
	}
	imported, enrolled := make(chan error, 1), make(chan error, 1)
	go func() {
		errs := importer.ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", CreateFactors: []store.Factor{factor("f1", "+15550001")},
			FactorsWithin: 5, FactorsAlike: []store.Alike{alike}, Now: t0}})
		imported <- errs[0]
	}()
	sv.WaitForLock(t, app+"i", imported)
	go func() { enrolled <- enroller.CreateFactorWithin(ctx, factor("f2", "+15550002"), 5, alike) }()
	sv.WaitForLock(t, app+"e", enrolled)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := testwait.Recv(t, "the import to end after the commit", imported); err != nil {
		t.Errorf("import: %v", err)
	}
	if err := testwait.Recv(t, "the enrollment to end after the commit", enrolled); err != nil {
		t.Errorf("enrollment: %v", err)
	}
	if n := d.n.Load(); n > 0 {
		t.Errorf("%d statements aborted as deadlocked", n)
	}
	fs, err := s.ListFactors(ctx, "u1")
	if err != nil || len(fs) != 2 {
		t.Errorf("factors: %d, %v; want 2", len(fs), err)
	}
}
