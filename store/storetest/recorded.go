package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// RefusedActor is the actor of the audit records RecordedOrNothing's refuse makes the
// database refuse.
const RefusedActor = "refused-by-the-test"

// RecordedOrNothing checks that every write the store takes with its audit record commits
// both or neither, as the interfaces promise ("in the same commit"): refuse must make the
// database of st refuse every audit row whose actor is RefusedActor (a trigger), and each
// such write, given a record it refuses, must fail and leave nothing changed.
func RecordedOrNothing(t *testing.T, st store.Store, refuse func(t *testing.T)) {
	ctx := t.Context()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	rec := func(actor string) store.AuditEvent {
		return store.AuditEvent{Time: now, Resource: "admin.test", Outcome: "SUCCESS", Actor: actor}
	}
	good, bad := rec("test"), rec(RefusedActor)

	// What the refused writes would change, written while records are taken.
	u := newUser("u1")
	must(t, "create user", st.CreateUser(ctx, u))
	tok := store.AdminToken{Name: "kept", Scope: "write", Hash: "hash-kept", CreatedAt: now}
	must(t, "create token", st.CreateAdminToken(ctx, tok, good))
	oc, hasOAuth := st.(store.OAuthClients)
	if hasOAuth {
		must(t, "create client", oc.CreateOAuthClient(ctx, store.OAuthClient{ID: "client-kept", Name: "kept", SecretHash: "h", CreatedAt: now}, good))
	}
	sq, hasSync := st.(store.SyncQueue)
	var dead int64
	if hasSync {
		seqs, err := sq.EnqueueLeased(ctx, []store.QueuedEvent{{Source: "okta", EventID: "e1", Key: "user:u1", Type: "user.create", Time: now, Body: []byte(`{}`)}},
			"w", now.Add(time.Minute), now)
		must(t, "enqueue", err)
		dead = seqs[0]
		must(t, "kill event", sq.FinishEvent(ctx, dead, "w", "dead", "test", false, now, now))
		must(t, "pause", sq.PauseSource(ctx, store.SourcePause{Source: "scim", Reason: "test", CreatedAt: now}, good))
	}

	refuse(t)
	refused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with a record the database refuses: no error", what)
		}
	}
	absent := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after its record was refused: %v, want ErrNotFound", what, err)
		}
	}

	refused("CreateAdminToken", st.CreateAdminToken(ctx, store.AdminToken{Name: "new", Scope: "read", Hash: "hash-new", CreatedAt: now}, bad))
	_, err := st.GetAdminToken(ctx, "hash-new")
	absent("the token", err)
	refused("RevokeAdminToken", st.RevokeAdminToken(ctx, "kept", now, bad))
	if got, err := st.GetAdminToken(ctx, "hash-kept"); err != nil || !got.RevokedAt.IsZero() {
		t.Errorf("the token after its revocation's record was refused: %+v, %v", got, err)
	}
	refused("SetCapabilitySwitch", st.SetCapabilitySwitch(ctx, store.CapabilitySwitch{Provider: "p", Capability: "totp", Disabled: true, Reason: "r", Actor: "a", UpdatedAt: now}, bad))
	if sws, err := st.ListCapabilitySwitches(ctx); err != nil || len(sws) != 0 {
		t.Errorf("switches after the record was refused: %+v, %v", sws, err)
	}
	create := store.User{ID: "u2", Name: "bob", CreatedAt: now}
	refused("ApplyUserChanges", st.ApplyUserChanges(ctx, []store.UserChange{{Name: "bob", Create: &create, Now: now, Audit: []store.AuditEvent{bad}}})[0])
	_, err = st.GetUser(ctx, "bob")
	absent("the user", err)

	if hasOAuth {
		refused("CreateOAuthClient", oc.CreateOAuthClient(ctx, store.OAuthClient{ID: "client-new", Name: "new", SecretHash: "h", CreatedAt: now}, bad))
		_, err := oc.GetOAuthClient(ctx, "client-new")
		absent("the client", err)
		refused("RevokeOAuthClient", oc.RevokeOAuthClient(ctx, "kept", now, bad))
		if got, err := oc.GetOAuthClient(ctx, "client-kept"); err != nil || !got.RevokedAt.IsZero() {
			t.Errorf("the client after its revocation's record was refused: %+v, %v", got, err)
		}
	}
	if ss, ok := st.(store.SelfService); ok {
		l := store.SelfServiceLink{UserID: u.ID, Hash: "link-hash", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		refused("PutLink", ss.PutLink(ctx, l, bad))
		_, err := ss.GetLink(ctx, "link-hash")
		absent("the link", err)
		sess := store.SelfServiceSession{Hash: "session-hash", UserID: u.ID, Kind: "user", CSRF: "c", Data: "{}", SeenAt: now, ExpiresAt: now.Add(time.Hour)}
		refused("PutSession", ss.PutSession(ctx, sess, bad))
		_, err = ss.GetSession(ctx, "session-hash")
		absent("the session", err)
	}
	if hasSync {
		_, err := sq.RetryDead(ctx, dead, now, bad)
		refused("RetryDead", err)
		evs, err := sq.ListEvents(ctx, store.QueueFilter{})
		if err != nil || len(evs) != 1 || evs[0].State != "dead" {
			t.Errorf("the dead event after its retry's record was refused: %+v, %v", evs, err)
		}
		if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{{Source: "okta", EventID: "e2", Key: "user:u2", Type: "user.create", Time: now, Body: []byte(`{}`)}}, now); err != nil {
			t.Fatal(err)
		}
		_, err = sq.DropPending(ctx, "okta", "dropped: ", now, func(int) store.AuditEvent { return bad })
		refused("DropPending", err)
		if evs, err := sq.ListEvents(ctx, store.QueueFilter{State: "pending"}); err != nil || len(evs) != 1 {
			t.Errorf("the pending event after its drop's record was refused: %+v, %v", evs, err)
		}
		refused("PauseSource", sq.PauseSource(ctx, store.SourcePause{Source: "okta", Reason: "r", CreatedAt: now}, bad))
		refused("ResumeSource", sq.ResumeSource(ctx, "scim", bad))
		if ps, err := sq.ListPauses(ctx); err != nil || len(ps) != 1 || ps[0].Source != "scim" {
			t.Errorf("pauses after their records were refused: %+v, %v", ps, err)
		}
	}

	// The trigger refuses only its actor: the same writes with another record go.
	must(t, "create token after", st.CreateAdminToken(ctx, store.AdminToken{Name: "new", Scope: "read", Hash: "hash-new", CreatedAt: now}, good))
	page, err := st.QueryAudit(ctx, store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page {
		if e.Actor == RefusedActor {
			t.Errorf("a refused record was kept: %+v", e)
		}
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
