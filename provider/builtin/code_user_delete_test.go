package builtin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// factorLockClass is the store's first key of a factor's advisory lock (store.Writer
// LockFactor), which a gated unit waits on.
const factorLockClass = 0x656d6661

// gatedUseWriter waits before the audit row of a successful validate (the factor's use)
// on factor gate's advisory lock (LockFactor, sent with that row: nothing of the unit goes
// out before), which the test holds.
type gatedUseWriter struct {
	store.Writer
	gate string
}

func (w gatedUseWriter) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	if e.Resource == "validate" && e.Outcome == "SUCCESS" {
		if err := w.Writer.LockFactor(ctx, w.gate); err != nil {
			return err
		}
	}
	return w.Writer.AppendAudit(ctx, e)
}

// TestCodeSignInBesideUserDeleteDoesNotDeadlock: a right texted or mailed code's validate
// (through the Provider, audited) and the deletion of its user at once on PostgreSQL both
// go through, one after the other, and PostgreSQL aborts neither as deadlocked. The
// validate's unit cleared the factor's failures (ClearFailuresUnlocked), then its audit
// row wrote the factor's last use to the same row, and PostgreSQL checks factors.user_id's
// foreign key again at a second write of a row its own transaction wrote, taking the
// user's row FOR KEY SHARE after the factor's; the delete takes the user's row, then its
// factors (ON DELETE CASCADE). Here the unit waits before its audit row while the delete
// starts. Its session looks for a deadlock after 50 ms, the delete's after 30 s: it was
// the victim and ran again. The factor's row is now written once, its last use with the
// failures cleared, and the delete waits for the validate's commit.
func TestCodeSignInBesideUserDeleteDoesNotDeadlock(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	ctx := context.Background()
	app := "lcc" + time.Now().Format("150405.000000")
	gated := &testdb.Gated{Store: sv.OpenAs(t, dsn, app+"v", "50ms"),
		Wrap: func(w store.Writer, gate string) store.Writer { return gatedUseWriter{Writer: w, gate: gate} }}
	deleter := sv.OpenAs(t, dsn, app+"d", "30s")
	f := newEngineFixture(t, gated, nil)
	p := &provider.Provider{CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"smsotp", "emailotp"},
		Engine: f.engine, Audit: gated, Now: f.clock.Now}
	gate := f.enrollSMS(t, "bob", "+15550000009")

	for _, c := range []struct {
		capability, user string
		enroll           func(user string) string
		code             func() string
	}{
		{"smsotp", "carol", func(user string) string { return f.enrollSMS(t, user, "+15550000001") },
			func() string { return f.sms.last(t).Code }},
		{"emailotp", "dave", func(user string) string { return f.enrollEmail(t, user, "dave@example.com") },
			func() string { return f.email.last(t).Code }},
	} {
		if err := gated.CreateUser(ctx, store.User{ID: "u-" + c.user, Name: c.user, CreatedAt: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		req := provider.Request{Capability: c.capability, ID: c.enroll(c.user), Username: c.user}
		out, err := p.Initiate(ctx, req)
		if err != nil || out.Status != provider.StatusPending {
			t.Fatalf("%s: initiate: %+v, %v", c.capability, out, err)
		}
		req.TransactionID, req.Passvalue = out.TransactionID, c.code()
		release := sv.Hold(t, dsn, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, factorLockClass, gate)
		gated.Gate = gate
		gated.Runs.Store(0)
		validated, deleted := make(chan error, 1), make(chan error, 1)
		go func() {
			var err error
			out, err = p.Validate(ctx, req)
			validated <- err
		}()
		sv.WaitForLock(t, app+"v", validated)
		go func() {
			deleted <- deleter.ApplyUserChanges(ctx, []store.UserChange{{Name: c.user, Delete: true, Now: f.clock.Now()}})[0]
		}()
		sv.WaitForLock(t, app+"d", deleted)
		release()
		if err := testwait.Recv(t, "the validate", validated); err != nil || out.Status != provider.StatusSuccess {
			t.Errorf("%s: a right code beside its user's delete: %+v, %v; want SUCCESS", c.capability, out, err)
		}
		if err := testwait.Recv(t, "the delete", deleted); err != nil {
			t.Errorf("%s: the delete of the user: %v", c.capability, err)
		}
		if n := gated.Runs.Load(); n != 1 {
			t.Errorf("%s: the validate's unit ran %d times; want once (a deadlock's victim runs again)", c.capability, n)
		}
		gated.Gate = ""
		if _, err := deleter.GetUser(ctx, c.user); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %s after the delete: %v; want not found", c.capability, c.user, err)
		}
	}
}
