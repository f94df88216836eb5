package storetest

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// testSelfService runs on every backend that keeps the self-service page's links and
// sessions.
func testSelfService(t *testing.T, s store.Store) {
	ss, ok := s.(store.SelfService)
	if !ok {
		t.Skip("the backend keeps no self-service links")
	}
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1"))
	mustCreateUser(t, s, newUser("u2"))

	t.Run("links", func(t *testing.T) {
		l := store.SelfServiceLink{UserID: "u1", Hash: "h1", CreatedAt: at(0), ExpiresAt: at(time.Hour)}
		wantErr(t, "put", ss.PutLink(ctx, l, linkRecord(l.Hash)), nil)
		got, err := ss.GetLink(ctx, "h1")
		wantErr(t, "get", err, nil)
		l.UserName = "name-u1" // filled by GetLink
		diff(t, "link", l, got)
		_, err = ss.GetLink(ctx, "nope")
		wantErr(t, "unknown hash", err, store.ErrNotFound)

		// A newer link replaces the user's older one.
		n := store.SelfServiceLink{UserID: "u1", Hash: "h2", CreatedAt: at(time.Minute), ExpiresAt: at(2 * time.Hour)}
		wantErr(t, "replace", ss.PutLink(ctx, n, linkRecord(n.Hash)), nil)
		_, err = ss.GetLink(ctx, "h1")
		wantErr(t, "replaced link", err, store.ErrNotFound)
		// A link for an unknown user is refused.
		if err := ss.PutLink(ctx, store.SelfServiceLink{UserID: "ghost", Hash: "h9", CreatedAt: at(0), ExpiresAt: at(time.Hour)}, linkRecord("h9")); err == nil {
			t.Fatal("a link for an unknown user was stored")
		}

		// Spending: once; again is a conflict; unknown is not found.
		wantErr(t, "spend", ss.SpendLink(ctx, "h2", at(3*time.Minute)), nil)
		wantErr(t, "spend again", ss.SpendLink(ctx, "h2", at(4*time.Minute)), store.ErrConflict)
		wantErr(t, "spend unknown", ss.SpendLink(ctx, "nope", at(4*time.Minute)), store.ErrNotFound)
		got, _ = ss.GetLink(ctx, "h2")
		if !got.SpentAt.Equal(at(3 * time.Minute)) {
			t.Fatalf("spent at %v", got.SpentAt)
		}
		// Replacing a spent link gives an unspent one.
		wantErr(t, "replace spent", ss.PutLink(ctx, store.SelfServiceLink{UserID: "u1", Hash: "h3", CreatedAt: at(6 * time.Minute), ExpiresAt: at(3 * time.Hour)}, linkRecord("h3")), nil)
		if got, err = ss.GetLink(ctx, "h3"); err != nil || !got.SpentAt.IsZero() {
			t.Fatalf("new link: %+v %v", got, err)
		}
		// In a unit, the spend commits with the unit's other writes, or not at all.
		failed := errors.New("the unit's next write failed")
		wantErr(t, "spend in a failed unit", s.Update(ctx, func(w store.Writer) error {
			if err := w.SpendLink(ctx, "h3", at(7*time.Minute)); err != nil {
				return err
			}
			return failed
		}), failed)
		if got, _ = ss.GetLink(ctx, "h3"); !got.SpentAt.IsZero() {
			t.Fatalf("spent by a unit that failed, at %v", got.SpentAt)
		}
		wantErr(t, "spend in a unit", s.Update(ctx, func(w store.Writer) error { return w.SpendLink(ctx, "h3", at(8*time.Minute)) }), nil)
		wantErr(t, "spend again in a unit", s.Update(ctx, func(w store.Writer) error { return w.SpendLink(ctx, "h3", at(9*time.Minute)) }), store.ErrConflict)
		if got, _ = ss.GetLink(ctx, "h3"); !got.SpentAt.Equal(at(8 * time.Minute)) {
			t.Fatalf("spent in a unit at %v", got.SpentAt)
		}
		// Each link stored has its record, from the same commit; the refused one has none.
		wantRecords(t, s, map[string][]string{"h1": {"admin.selfservice.link"}, "h2": {"admin.selfservice.link"},
			"h3": {"admin.selfservice.link"}, "h9": nil})
	})

	t.Run("concurrent spend", func(t *testing.T) {
		wantErr(t, "put", ss.PutLink(ctx, store.SelfServiceLink{UserID: "u2", Hash: "race", CreatedAt: at(0), ExpiresAt: at(time.Hour)}, linkRecord("race")), nil)
		const n = 10
		errs := concurrently(n, func(i int) error { return ss.SpendLink(ctx, "race", at(time.Duration(i+1)*time.Second)) })
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("unexpected error %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d spends won", won)
		}
	})

	t.Run("sessions", func(t *testing.T) {
		a := store.SelfServiceSession{Hash: "s1", Kind: "anon", CSRF: "c1", Data: "{}", SeenAt: at(0), ExpiresAt: at(12 * time.Hour)}
		wantErr(t, "put", ss.PutSession(ctx, a), nil)
		got, err := ss.GetSession(ctx, "s1")
		wantErr(t, "get", err, nil)
		diff(t, "session", a, got)
		_, err = ss.GetSession(ctx, "nope")
		wantErr(t, "unknown", err, store.ErrNotFound)
		// Put never replaces a session; Update changes it in place.
		wantErr(t, "put again", ss.PutSession(ctx, a), store.ErrExists)
		a.UserID, a.Kind, a.LinkHash, a.Data, a.SeenAt = "u1", "link", "h3", `{"user":"name-u1"}`, at(time.Minute)
		wantErr(t, "update", ss.UpdateSession(ctx, a), nil)
		got, _ = ss.GetSession(ctx, "s1")
		diff(t, "updated session", a, got)
		// Touch records the last use alone.
		wantErr(t, "touch", ss.TouchSession(ctx, "s1", at(90*time.Second)), nil)
		got, _ = ss.GetSession(ctx, "s1")
		a.SeenAt = at(90 * time.Second)
		diff(t, "touched session", a, got)
		wantErr(t, "delete", ss.DeleteSession(ctx, "s1"), nil)
		_, err = ss.GetSession(ctx, "s1")
		wantErr(t, "deleted", err, store.ErrNotFound)
		wantErr(t, "delete again", ss.DeleteSession(ctx, "s1"), nil)
		// A request that read the session before its sign-out, writing its last use after
		// it: the session stays gone, and the writer is told.
		a.SeenAt = at(2 * time.Minute)
		wantErr(t, "update deleted", ss.UpdateSession(ctx, a), store.ErrNotFound)
		_, err = ss.GetSession(ctx, "s1")
		wantErr(t, "deleted, then updated", err, store.ErrNotFound)
		wantErr(t, "update unknown", ss.UpdateSession(ctx, store.SelfServiceSession{Hash: "nope", Data: "{}"}), store.ErrNotFound)
		wantErr(t, "touch deleted", ss.TouchSession(ctx, "s1", at(3*time.Minute)), store.ErrNotFound)
		_, err = ss.GetSession(ctx, "s1")
		wantErr(t, "deleted, then touched", err, store.ErrNotFound)
		// A sign-in's session whose factor is no longer active (reset meanwhile) is not created.
		proved := store.SelfServiceSession{Hash: "s9", UserID: "u1", Kind: "user", CSRF: "c", Data: "{}", SeenAt: at(0), ExpiresAt: at(time.Hour), Factor: "gone"}
		wantErr(t, "put proved by a factor gone", ss.PutSession(ctx, proved), store.ErrConflict)
		_, err = ss.GetSession(ctx, "s9")
		wantErr(t, "proved by a factor gone", err, store.ErrNotFound)
		// A sign-in's session with its record, the factor's use: the factor's last use is
		// the record's, in the session's commit (one write of the factor's row); a use
		// recorded earlier than the one stored leaves it.
		mustCreateFactor(t, s, newFactor("fs", "u1", at(0)))
		for i, used := range []time.Duration{5 * time.Second, 3 * time.Second} {
			signIn := store.SelfServiceSession{Hash: "sign-in-" + strconv.Itoa(i), UserID: "u1", Kind: "user", CSRF: "c", Data: "{}",
				SeenAt: at(0), ExpiresAt: at(time.Hour), Factor: "fs"}
			wantErr(t, "put a sign-in's", ss.PutSession(ctx, signIn, store.AuditEvent{Time: at(used), Username: "u1", FactorID: "fs",
				Resource: store.ResourceSelfServiceSignIn, Outcome: "SUCCESS"}), nil)
			wantErr(t, "delete a sign-in's", ss.DeleteSession(ctx, signIn.Hash), nil)
		}
		used, err := s.LastUsed(ctx, []string{"fs"})
		if err != nil || !used["fs"].Equal(at(5*time.Second)) {
			t.Errorf("the factor's last use after its sign-ins: %v, %v; want %v", used, err, at(5*time.Second))
		}

		// Expiry: idle since before idleBefore, or past the absolute end.
		for _, x := range []store.SelfServiceSession{
			{Hash: "idle", SeenAt: at(0), ExpiresAt: at(12 * time.Hour)},
			{Hash: "ended", SeenAt: at(59 * time.Minute), ExpiresAt: at(59 * time.Minute)},
			{Hash: "live", SeenAt: at(55 * time.Minute), ExpiresAt: at(12 * time.Hour)},
		} {
			x.Kind, x.CSRF, x.Data = "anon", "c", "{}"
			wantErr(t, "put "+x.Hash, ss.PutSession(ctx, x), nil)
		}
		n, err := ss.DeleteExpiredSessions(ctx, at(50*time.Minute), at(time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("deleted %d, %v", n, err)
		}
		if _, err := ss.GetSession(ctx, "live"); err != nil {
			t.Fatalf("live: %v", err)
		}
	})

	t.Run("expired links", func(t *testing.T) {
		// u1: h3 expires at 3 h, unspent; u2: race, spent at some second, expires at 1 h.
		n, err := ss.DeleteExpiredLinks(ctx, at(0), at(30*time.Minute))
		if err != nil || n != 0 {
			t.Fatalf("nothing due: deleted %d, %v", n, err)
		}
		n, err = ss.DeleteExpiredLinks(ctx, at(time.Minute), at(30*time.Minute)) // spent before 1 min
		if err != nil || n != 1 {
			t.Fatalf("spent: deleted %d, %v", n, err)
		}
		_, err = ss.GetLink(ctx, "race")
		wantErr(t, "spent link", err, store.ErrNotFound)
		n, err = ss.DeleteExpiredLinks(ctx, at(0), at(3*time.Hour)) // h3 ends at 3 h
		if err != nil || n != 1 {
			t.Fatalf("expired: deleted %d, %v", n, err)
		}
		_, err = ss.GetLink(ctx, "h3")
		wantErr(t, "expired link", err, store.ErrNotFound)
	})

	t.Run("spend past its end", func(t *testing.T) {
		// The sweeper has not removed it yet: a link past its end is refused all the same.
		mustCreateUser(t, s, newUser("u6"))
		wantErr(t, "put", ss.PutLink(ctx, store.SelfServiceLink{UserID: "u6", Hash: "h6", CreatedAt: at(0), ExpiresAt: at(time.Hour)}, linkRecord("h6")), nil)
		wantErr(t, "spend at its end", ss.SpendLink(ctx, "h6", at(time.Hour)), store.ErrConflict)
		wantErr(t, "spend in a unit past its end", s.Update(ctx, func(w store.Writer) error { return w.SpendLink(ctx, "h6", at(2*time.Hour)) }), store.ErrConflict)
		if got, err := ss.GetLink(ctx, "h6"); err != nil || !got.SpentAt.IsZero() {
			t.Fatalf("a link past its end: %+v %v, want it unspent", got, err)
		}
		wantErr(t, "spend just before its end", ss.SpendLink(ctx, "h6", at(time.Hour-time.Millisecond)), nil)
	})

	t.Run("sessions end with the user", func(t *testing.T) {
		for _, id := range []string{"u3", "u4", "u5"} {
			mustCreateUser(t, s, newUser(id))
		}
		l3 := store.SelfServiceLink{UserID: "u3", Hash: "l3", CreatedAt: at(0), ExpiresAt: at(time.Hour)}
		wantErr(t, "put link", ss.PutLink(ctx, l3, linkRecord(l3.Hash)), nil)
		for _, x := range []store.SelfServiceSession{
			{Hash: "u3-user", UserID: "u3", Kind: "user"},
			{Hash: "u3-link", UserID: "u3", Kind: "link", LinkHash: "l3"},
			{Hash: "u4-user", UserID: "u4", Kind: "user"},
			{Hash: "u5-user", UserID: "u5", Kind: "user"},
			{Hash: "anon", Kind: "anon"},
		} {
			x.CSRF, x.Data, x.SeenAt, x.ExpiresAt = "c", "{}", at(0), at(12*time.Hour)
			wantErr(t, "put "+x.Hash, ss.PutSession(ctx, x), nil)
		}
		left := func(what string, want ...string) {
			t.Helper()
			var got []string
			for _, h := range []string{"u3-user", "u3-link", "u4-user", "u5-user", "anon"} {
				if _, err := ss.GetSession(ctx, h); err == nil {
					got = append(got, h)
				} else if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("%s: get %s: %v", what, h, err)
				}
			}
			diff(t, what, want, got)
		}
		// A reset of u3's factors ends its sessions, whatever opened them, and revokes its
		// link, in its commit.
		mustApply(t, s, store.UserChange{Name: "name-u3", Reset: &store.FactorReset{}, Now: at(time.Minute),
			Audit: []store.AuditEvent{{Time: at(time.Minute), Resource: "admin.users.reset", Username: "name-u3", Outcome: "SUCCESS", Actor: "test"}}})
		left("after a reset", "u4-user", "u5-user", "anon")
		_, err := ss.GetLink(ctx, "l3")
		wantErr(t, "the link after a reset", err, store.ErrNotFound)
		// Nor does the revoked link open a session any more.
		revoked := store.SelfServiceSession{Hash: "u3-late", UserID: "u3", Kind: "link", LinkHash: "l3",
			CSRF: "c", Data: "{}", SeenAt: at(2 * time.Minute), ExpiresAt: at(time.Hour), CreatedAt: at(2 * time.Minute)}
		wantErr(t, "put a session of a revoked link", ss.PutSession(ctx, revoked), store.ErrConflict)
		_, err = ss.GetSession(ctx, "u3-late")
		wantErr(t, "a session of a revoked link", err, store.ErrNotFound)
		// Enabling leaves them; disabling and deleting end them.
		no, yes := false, true
		mustApply(t, s, store.UserChange{Name: "name-u5", Disabled: &no, Now: at(time.Minute)})
		left("after an enable", "u4-user", "u5-user", "anon")
		mustApply(t, s, store.UserChange{Name: "name-u4", Disabled: &yes, Now: at(time.Minute)})
		left("after a disable", "u5-user", "anon")
		mustApply(t, s, store.UserChange{Name: "name-u5", Delete: true, Now: at(time.Minute)})
		left("after a delete", "anon")
	})

	t.Run("sessions end with their factor", func(t *testing.T) {
		mustCreateUser(t, s, newUser("u7"))
		ids := []string{"f7a", "f7b", "f7c", "f7d", "f7e"}
		for _, id := range ids {
			mustCreateFactor(t, s, newFactor(id, "u7", at(0)))
		}
		var hashes []string
		for _, id := range ids {
			x := store.SelfServiceSession{Hash: "with-" + id, UserID: "u7", Kind: "user", Factor: id,
				CSRF: "c", Data: "{}", SeenAt: at(time.Minute), ExpiresAt: at(12 * time.Hour), CreatedAt: at(time.Minute)}
			wantErr(t, "put "+x.Hash, ss.PutSession(ctx, x), nil)
			hashes = append(hashes, x.Hash)
		}
		// The factor a session was signed in with is kept with it.
		got, err := ss.GetSession(ctx, "with-f7a")
		wantErr(t, "get", err, nil)
		if got.Factor != "f7a" || !got.CreatedAt.Equal(at(time.Minute)) {
			t.Errorf("the session's factor %q and start %v, want f7a at %v", got.Factor, got.CreatedAt, at(time.Minute))
		}
		left := func(what string, want ...string) {
			t.Helper()
			var got []string
			for _, h := range hashes {
				if _, err := ss.GetSession(ctx, h); err == nil {
					got = append(got, h)
				} else if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("%s: get %s: %v", what, h, err)
				}
			}
			diff(t, what, want, got)
		}
		// A change that disables or deletes one factor ends the sessions signed in with it,
		// and only those; one that enables a factor, or renames it, ends none.
		mustApply(t, s, store.UserChange{Name: "name-u7", Now: at(2 * time.Minute),
			StateChanges:  []store.FactorStateChange{{ID: "f7a", State: store.FactorDisabled}, {ID: "f7c", State: store.FactorActive}},
			UpdateFactors: []store.FactorUpdate{{ID: "f7d", Label: "renamed"}}})
		left("after a disable", "with-f7b", "with-f7c", "with-f7d", "with-f7e")
		mustApply(t, s, store.UserChange{Name: "name-u7", Now: at(2 * time.Minute), DeleteFactors: []string{"f7b"}})
		left("after a delete", "with-f7c", "with-f7d", "with-f7e")
		// So do the Store's own.
		wantErr(t, "SetFactorState active", s.SetFactorState(ctx, "f7c", store.FactorActive, at(3*time.Minute)), nil)
		left("after the Store's enable", "with-f7c", "with-f7d", "with-f7e")
		wantErr(t, "SetFactorState disabled", s.SetFactorState(ctx, "f7c", store.FactorDisabled, at(3*time.Minute)), nil)
		left("after the Store's disable", "with-f7d", "with-f7e")
		wantErr(t, "DeleteFactor", s.DeleteFactor(ctx, "f7d"), nil)
		left("after the Store's delete", "with-f7e")
		wantErr(t, "DeleteFactor again", s.DeleteFactor(ctx, "f7d"), store.ErrNotFound)
		wantErr(t, "SetFactorState of none", s.SetFactorState(ctx, "f7d", store.FactorDisabled, at(3*time.Minute)), store.ErrNotFound)
		left("after a delete of none", "with-f7e")
	})

	t.Run("a late reset", func(t *testing.T) {
		// A directory's reset that happened at 2 min, delivered later: u8's factor f8old
		// (from before) is deleted, u9's f9 disabled; what came since stays, unless it
		// rests on one of them.
		resetAt := at(2 * time.Minute)
		for _, id := range []string{"u8", "u9"} {
			mustCreateUser(t, s, newUser(id))
		}
		mustCreateFactor(t, s, newFactor("f8old", "u8", at(0)))
		mustCreateFactor(t, s, newFactor("f8new", "u8", at(3*time.Minute)))
		mustCreateFactor(t, s, newFactor("f9", "u9", at(0)))
		for _, l := range []store.SelfServiceLink{
			{UserID: "u8", Hash: "l8old", CreatedAt: at(time.Minute), ExpiresAt: at(time.Hour)},
			{UserID: "u9", Hash: "l9new", CreatedAt: at(3 * time.Minute), ExpiresAt: at(time.Hour)},
		} {
			wantErr(t, "put link "+l.Hash, ss.PutLink(ctx, l, linkRecord(l.Hash)), nil)
		}
		sessions := []store.SelfServiceSession{
			{Hash: "u8-unknown", UserID: "u8", Kind: "user"}, // stored before sessions kept their start
			{Hash: "u8-before", UserID: "u8", Kind: "user", CreatedAt: at(time.Minute)},
			{Hash: "u8-old-since", UserID: "u8", Kind: "user", Factor: "f8old", CreatedAt: at(3 * time.Minute)},
			{Hash: "u8-link-since", UserID: "u8", Kind: "link", LinkHash: "l8old", CreatedAt: at(3 * time.Minute)},
			{Hash: "u8-new-at", UserID: "u8", Kind: "user", Factor: "f8new", CreatedAt: resetAt},
			{Hash: "u8-new-since", UserID: "u8", Kind: "user", Factor: "f8new", CreatedAt: at(4 * time.Minute)},
			{Hash: "u9-f9-since", UserID: "u9", Kind: "user", Factor: "f9", CreatedAt: at(3 * time.Minute)},
			{Hash: "u9-link-since", UserID: "u9", Kind: "link", LinkHash: "l9new", CreatedAt: at(4 * time.Minute)},
			{Hash: "late-anon", Kind: "anon", CreatedAt: at(0)},
		}
		for _, x := range sessions {
			x.CSRF, x.Data, x.SeenAt, x.ExpiresAt = "c", "{}", at(4*time.Minute), at(12*time.Hour)
			wantErr(t, "put "+x.Hash, ss.PutSession(ctx, x), nil)
		}
		left := func(what string, want ...string) {
			t.Helper()
			var got []string
			for _, x := range sessions {
				if _, err := ss.GetSession(ctx, x.Hash); err == nil {
					got = append(got, x.Hash)
				} else if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("%s: get %s: %v", what, x.Hash, err)
				}
			}
			diff(t, what, want, got)
		}
		reset := &store.FactorReset{At: resetAt}
		mustApply(t, s, store.UserChange{Name: "name-u8", Reset: reset, Now: at(5 * time.Minute), DeleteFactors: []string{"f8old"}})
		left("after u8's reset", "u8-new-at", "u8-new-since", "u9-f9-since", "u9-link-since", "late-anon")
		_, err := ss.GetLink(ctx, "l8old")
		wantErr(t, "a link issued before the reset", err, store.ErrNotFound)

		mustApply(t, s, store.UserChange{Name: "name-u9", Reset: reset, Now: at(5 * time.Minute),
			StateChanges: []store.FactorStateChange{{ID: "f9", State: store.FactorDisabled}}})
		left("after u9's reset", "u8-new-at", "u8-new-since", "u9-link-since", "late-anon")
		_, err = ss.GetLink(ctx, "l9new")
		wantErr(t, "a link issued since the reset", err, nil)
	})

	t.Run("user deleted", func(t *testing.T) {
		wantErr(t, "put", ss.PutLink(ctx, store.SelfServiceLink{UserID: "u2", Hash: "h4", CreatedAt: at(0), ExpiresAt: at(time.Hour)}, linkRecord("h4")), nil)
		wantErr(t, "delete user", s.DeleteUser(ctx, "name-u2"), nil)
		_, err := ss.GetLink(ctx, "h4")
		wantErr(t, "link of a deleted user", err, store.ErrNotFound)
	})
}

// linkRecord is the record of a link's issue, named by its hash so that auditOf finds it.
func linkRecord(hash string) store.AuditEvent {
	return store.AuditEvent{Time: at(0), Resource: "admin.selfservice.link", FactorID: hash, Outcome: "SUCCESS", Actor: "test"}
}
