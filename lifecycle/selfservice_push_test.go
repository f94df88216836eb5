package lifecycle_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestPushStatusEndsWhenItCannotComplete: a push device waiting to register whose
// enrollment can no longer complete (its link spent by another browser, revoked; the
// pending factor gone or expired) is not pending forever: the status says it ended, and
// continuing says so, rather than "not registered yet" for ever.
func TestPushStatusEndsWhenItCannotComplete(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp", "push")
		wantEnded := func(what string, sess lifecycle.Session) {
			t.Helper()
			if state, err := ss.PushStatus(ctx, sess); state != lifecycle.PushEnded || err != nil {
				t.Errorf("%s: status %q %v, want %q", what, state, err, lifecycle.PushEnded)
			}
			var le *lifecycle.Error
			if _, _, err := ss.FinishPush(ctx, &sess); !errors.As(err, &le) || le.Code != "enrollment_ended" {
				t.Errorf("%s: continue: %v, want enrollment_ended", what, err)
			}
		}

		// Another browser enrolled an app with the same link, spending it.
		token := linkToken(t, ss)
		push, pen := enrollVia(t, ss, token, "push")
		if state, err := ss.PushStatus(ctx, push); state != lifecycle.PushPending || err != nil {
			t.Fatalf("before: %q %v", state, err)
		}
		other, en := enrollVia(t, ss, token, "totp")
		if _, err := ss.Confirm(ctx, &other, codeOf(t, en, clk.Now())); err != nil {
			t.Fatal(err)
		}
		wantEnded("link spent by another browser", push)
		if f, err := m.GetFactor(ctx, "alice", pen.Factor.ID); err == nil {
			t.Errorf("the push device that can no longer register stays: %+v", f)
		}

		// The link revoked by a newer one.
		clk.Advance(2 * time.Minute)
		push, _ = enrollVia(t, ss, linkToken(t, ss), "push")
		clk.Advance(2 * time.Minute)
		linkToken(t, ss)
		wantEnded("link replaced", push)

		// Signed in: the pending device deleted by an admin, or past its activation lifetime.
		clk.Advance(2 * time.Minute)
		user, _ := signedIn(t, ss, clk)
		if _, err := ss.Enroll(ctx, &user, "push", ""); err != nil {
			t.Fatal(err)
		}
		if err := m.DeleteFactor(ctx, "test", "alice", user.State.Enrolling); err != nil {
			t.Fatal(err)
		}
		wantEnded("device deleted", user)
		if _, err := ss.Enroll(ctx, &user, "push", ""); err != nil {
			t.Fatal(err)
		}
		clk.Advance(lifecycle.DefaultActivationLifetime + time.Minute)
		wantEnded("device past its activation lifetime", user)
	})
}

// TestShownOpensOnlyInItsSession: the token that lets the page show a key again opens
// only in the session, and for the factor, it was made for, and not once altered.
func TestShownOpensOnlyInItsSession(t *testing.T) {
	m, _ := newManager(t, testdb.SQLite(t))
	addAlice(t, m)
	ss := selfService(t, m, "totp")
	token := linkToken(t, ss)
	sess, en := enrollVia(t, ss, token, "totp")
	sealed := ss.SealShown(sess, en.Output)
	if sh, qr, ok := ss.OpenShown(sess, sealed); !ok || sh.Secret != en.Output["secret"] || !strings.HasPrefix(qr, "data:image/png;base64,") {
		t.Fatalf("in its session: %+v %v", sh, ok)
	}
	other, _ := enrollVia(t, ss, token, "totp")
	if _, _, ok := ss.OpenShown(other, sealed); ok {
		t.Error("opened in another session")
	}
	if _, _, ok := ss.OpenShown(sess, "x"+sealed); ok {
		t.Error("opened altered")
	}
	sess.State.Enrolling = "another"
	if _, _, ok := ss.OpenShown(sess, sealed); ok {
		t.Error("opened for another factor")
	}
}

// TestShownIsSealed: the token the confirm form carries shows nothing of the key it
// shows again: not the seed, not its otpauth URI, in any part, however decoded. The
// browser holds the session's CSRF token, so a MAC keyed with it hid nothing.
func TestShownIsSealed(t *testing.T) {
	m, _ := newManager(t, testdb.SQLite(t))
	addAlice(t, m)
	ss := selfService(t, m, "totp")
	sess, en := enrollVia(t, ss, linkToken(t, ss), "totp")
	sealed := ss.SealShown(sess, en.Output)
	secret, uri := en.Output["secret"].(string), en.Output["otpauthURI"].(string)
	if secret == "" || uri == "" {
		t.Fatalf("enrollment shows no key: %v", en.Output)
	}
	for _, part := range append(strings.Split(sealed, "."), sealed) {
		for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
			text := part
			if b, err := enc.DecodeString(part); err == nil {
				text = string(b)
			}
			if strings.Contains(text, secret) || strings.Contains(text, uri) {
				t.Fatalf("the shown token carries the key in the clear: %q", text)
			}
		}
	}
	if sh, _, ok := ss.OpenShown(sess, sealed); !ok || sh.Secret != secret {
		t.Fatalf("sealed, it no longer opens in its session: %+v %v", sh, ok)
	}
}

// TestLinkSessionSaysItsLinkExpired: a link that expires while its page is open is said
// to have expired (ask for a new one), not "your session has ended; start again", which
// would send the person back to the same dead link.
func TestLinkSessionSaysItsLinkExpired(t *testing.T) {
	m, clk := newManager(t, testdb.SQLite(t))
	addAlice(t, m)
	ss := selfService(t, m, "totp")
	sess, _ := enrollVia(t, ss, linkToken(t, ss), "totp")
	clk.Advance(time.Hour) // the link's lifetime
	if _, err := ss.Session(context.Background(), sess.Cookie); !errors.Is(err, lifecycle.ErrLinkExpired) {
		t.Errorf("the session of a link that expired: %v, want %v", err, lifecycle.ErrLinkExpired)
	}
}
