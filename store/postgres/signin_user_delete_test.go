package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
)

// TestSelfServiceSignInBesideUserDeleteDoesNotDeadlock: a sign-in on the self-service
// page (PutSession with its factor and its record, the factor's use) and the delete of
// its user at once both go through, one after the other. The session's unit held its
// factor's row (UPDATE ... SET state = state, while it is active), and its record then
// wrote the factor's last use by a second UPDATE: PostgreSQL checks factors.user_id's
// foreign key again there, taking the user's row FOR KEY SHARE after the factor's; the
// delete takes the user's row, then its factors (ON DELETE CASCADE). Here the unit waits
// at its session's INSERT (a trigger on an advisory lock the test holds) while the delete
// starts. Its session looks for a deadlock after 50 ms, the delete's after 30 s: it was
// the victim, ran again and found its factor gone (ErrConflict). The factor's row is now
// written once, its last use with the hold.
func TestSelfServiceSignInBesideUserDeleteDoesNotDeadlock(t *testing.T) {
	sv := testdb.Connect(t)
	schema := sv.NewSchema(t)
	dsn := sv.SchemaDSN(t, schema)
	ctx := context.Background()
	app := "lcs" + time.Now().Format("150405.000000")
	s := withAlice(t, sv.OpenAs(t, dsn, app+"s", "50ms"), t0)
	deleter := sv.OpenAs(t, dsn, app+"d", "30s")
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := sv.Admin.Exec(ctx, `CREATE FUNCTION `+ident+`.gate() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_advisory_xact_lock(1, 2); RETURN NEW; END $$;
		CREATE TRIGGER gate BEFORE INSERT ON `+ident+`.selfservice_sessions FOR EACH ROW EXECUTE FUNCTION `+ident+`.gate()`); err != nil {
		t.Fatal(err)
	}
	release := sv.Hold(t, dsn, `SELECT pg_advisory_xact_lock(1, 2)`)
	done, deleted := make(chan error, 1), make(chan error, 1)
	go func() {
		done <- s.PutSession(ctx, store.SelfServiceSession{Hash: "h1", UserID: "u1", Kind: "user", Factor: "f1",
			SeenAt: t0, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0},
			store.AuditEvent{Time: t0, Actor: "selfservice", Username: "alice", FactorID: "f1",
				Resource: store.ResourceSelfServiceSignIn, Outcome: "SUCCESS"})
	}()
	sv.WaitForLock(t, app+"s", done)
	go func() {
		deleted <- deleter.ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", Delete: true, Now: t0}})[0]
	}()
	sv.WaitForLock(t, app+"d", deleted)
	release()
	if err := testwait.Recv(t, "the sign-in", done); err != nil {
		t.Errorf("the sign-in beside its user's delete: %v; want its session stored", err)
	}
	if err := testwait.Recv(t, "the delete", deleted); err != nil {
		t.Errorf("the delete of the user: %v", err)
	}
	if _, err := deleter.GetUser(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("alice after her delete: %v; want not found", err)
	}
}
