package lifecycle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// pageSignIn starts an app sign-in for user in a fresh session and types code.
func pageSignIn(t *testing.T, ss *lifecycle.SelfService, user, code string) (lifecycle.Session, error) {
	t.Helper()
	ctx := context.Background()
	anon, err := ss.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.StartSignIn(ctx, &anon, user, lifecycle.MethodApp); err != nil {
		t.Fatal(err)
	}
	return ss.FinishSignIn(ctx, &anon, code)
}

// wrongCode is a code that is not right at now.
func wrongCode(t *testing.T, en lifecycle.Enrolled, now time.Time) string {
	if codeOf(t, en, now) == "000000" {
		return "111111"
	}
	return "000000"
}

func wantLimited(t *testing.T, what string, err error) {
	t.Helper()
	var le *lifecycle.Error
	if !errors.As(err, &le) || le.Code != "signin_limited" || le.RetryAfter <= 0 {
		t.Fatalf("%s: %v, want signin_limited with a RetryAfter", what, err)
	}
}

// TestPageSignInIsNoLockoutWeapon: wrong codes typed on the page, where a user name is
// all it takes, do not count toward the factor's lockout (Verify's sign-ins go on); the
// page has its own budget per user name, in the store, that refuses further attempts for
// a while, whoever exists. A factor locked by Verify's failures is refused on the page,
// and a code that signed in once does not sign in again. A wrong app code keeps the
// sign-in (ErrWrongCode: the app's next code may be typed).
func TestPageSignInIsNoLockoutWeapon(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		en := enrollTOTP(t, m)
		ss := selfService(t, m, "totp")
		id := en.Factor.ID

		for i := range 5 {
			if _, err := pageSignIn(t, ss, "alice", wrongCode(t, en, clk.Now())); !errors.Is(err, lifecycle.ErrWrongCode) {
				t.Fatalf("wrong code %d: %v, want ErrWrongCode", i+1, err)
			}
		}
		if f, err := st.GetFactor(ctx, id); err != nil || f.Failures != 0 || !f.LockedUntil.IsZero() {
			t.Fatalf("after 5 wrong codes on the page: %d failures, locked until %v (%v); want none", f.Failures, f.LockedUntil, err)
		}
		// The page's own budget is spent: even the right code is not looked at.
		_, err := pageSignIn(t, ss, "alice", codeOf(t, en, clk.Now()))
		wantLimited(t, "the 6th attempt", err)
		// Another case of the name is the same user's budget; a name no one has is limited
		// alike, so the refusal tells nothing.
		_, err = pageSignIn(t, ss, "ALICE", codeOf(t, en, clk.Now()))
		wantLimited(t, "the name in capitals", err)
		for range 5 {
			pageSignIn(t, ss, "nobody", "000000")
		}
		_, err = pageSignIn(t, ss, "nobody", "000000")
		wantLimited(t, "a name no one has", err)

		// Once the window has passed, the right code signs in; it does not sign in twice.
		clk.Advance(16 * time.Minute)
		code := codeOf(t, en, clk.Now())
		if _, err := pageSignIn(t, ss, "alice", code); err != nil {
			t.Fatalf("the right code after the window: %v", err)
		}
		if _, err := pageSignIn(t, ss, "alice", code); !errors.Is(err, lifecycle.ErrWrongCode) {
			t.Fatalf("the same code again: %v, want ErrWrongCode (replay)", err)
		}

		// Locked by Verify's failures: the page refuses the right code too (as a wrong one:
		// an app's code is sent by no one, and saying "locked" would tell who exists).
		for range 10 {
			if _, err := st.RecordFailure(ctx, id, clk.Now(), 10, 15*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(time.Minute)
		if _, err := pageSignIn(t, ss, "alice", codeOf(t, en, clk.Now())); !errors.Is(err, lifecycle.ErrWrongCode) {
			t.Fatalf("a factor locked by Verify: %v, want ErrWrongCode", err)
		}
	})
}

// TestPageSignInBudgetGrows: past the first window's attempts, the longer windows hold:
// an attempt a quarter of an hour does not go on for ever.
func TestPageSignInBudgetGrows(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp")
		refused := 0
		for range 8 { // two hours, five attempts every quarter
			for range 5 {
				if _, err := pageSignIn(t, ss, "alice", "000000"); !errors.Is(err, lifecycle.ErrWrongCode) {
					refused++
				}
			}
			clk.Advance(15*time.Minute + time.Second)
		}
		if refused == 0 {
			t.Fatalf("40 attempts in two hours were all checked")
		}
	})
}

// TestPageSignInIsAUse: a sign-in on the page is a use of the factor it signed in with,
// as a sign-in through Verify is: its lastUsed says when.
func TestPageSignInIsAUse(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		en := enrollTOTP(t, m)
		ss := selfService(t, m, "totp")
		clk.Advance(time.Minute)
		if _, err := pageSignIn(t, ss, "alice", codeOf(t, en, clk.Now())); err != nil {
			t.Fatal(err)
		}
		f, err := m.GetFactor(ctx, "alice", en.Factor.ID)
		if err != nil {
			t.Fatal(err)
		}
		if f.LastUsed == nil || !f.LastUsed.Equal(clk.Now()) {
			t.Errorf("lastUsed after a page sign-in: %v, want %v", f.LastUsed, clk.Now())
		}
	})
}

// TestAnonymousSessionStoresNothing: the sign-in form's session is a cookie signed with
// the page's key, not a row: anyone may ask for one. Another replica with the same key
// takes it (the sign-in may reach it), one with another key does not, nor after the
// longest a session lasts. It is stored when a sign-in starts with it, under a new cookie.
func TestAnonymousSessionStoresNothing(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		key := []byte("the page's key, shared by the replicas")
		page := func(key []byte) *lifecycle.SelfService {
			ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
				SessionIdle: time.Hour, PublicURL: "https://mfa.example.com", FormKey: key})
			if err != nil {
				t.Fatal(err)
			}
			return ss
		}
		ss, replica, stranger := page(key), page(key), page([]byte("another key"))
		anon, err := ss.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.(store.SelfService).GetSession(ctx, lifecycle.HashToken(anon.Cookie)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an anonymous session is stored (%v)", err)
		}
		got, err := replica.Session(ctx, anon.Cookie)
		if err != nil || got.Kind != lifecycle.SessionAnon || replica.CheckCSRF(got, anon.CSRF) != nil {
			t.Fatalf("another replica: %+v %v, want the same anonymous session", got, err)
		}
		if _, err := stranger.Session(ctx, anon.Cookie); !errors.Is(err, lifecycle.ErrNoSession) {
			t.Fatalf("a page with another key: %v, want ErrNoSession", err)
		}
		if err := replica.StartSignIn(ctx, &got, "alice", lifecycle.MethodApp); err != nil {
			t.Fatal(err)
		}
		if got.Cookie == anon.Cookie {
			t.Fatal("a sign-in started under the anonymous cookie, want a new one")
		}
		if stored, err := ss.Session(ctx, got.Cookie); err != nil || stored.State.User != "alice" {
			t.Fatalf("the sign-in's session: %+v %v", stored, err)
		}
		clk.Advance(12*time.Hour + time.Second)
		if _, err := ss.Session(ctx, anon.Cookie); !errors.Is(err, lifecycle.ErrNoSession) {
			t.Fatalf("an anonymous cookie after 12 h: %v, want ErrNoSession", err)
		}
	})
}

// TestSignInUnderWayAcrossKeyRotation: a sign-in under way sealed with the page's key
// still opens once that key is a previous one (storage.previousEncryptionKeys after a
// rotation), and not with keys the page was not given; new ones are sealed with the
// current key only.
func TestSignInUnderWayAcrossKeyRotation(t *testing.T) {
	st := testdb.SQLite(t)
	ctx := context.Background()
	m, _ := newManager(t, st)
	oldKey, newKey := []byte("the key before the rotation"), []byte("the key after the rotation")
	page := func(key []byte, previous ...[]byte) *lifecycle.SelfService {
		ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
			SessionIdle: time.Hour, PublicURL: "https://mfa.example.com", FormKey: key, PreviousFormKeys: previous})
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	before, rotated := page(oldKey), page(newKey, []byte("some older key"), oldKey)
	started := func(ss *lifecycle.SelfService) lifecycle.Session {
		t.Helper()
		sess, err := ss.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.StartSignIn(ctx, &sess, "alice", lifecycle.MethodApp); err != nil {
			t.Fatal(err)
		}
		return sess
	}
	sess := started(before)
	if got, err := rotated.Session(ctx, sess.Cookie); err != nil || got.State.User != "alice" || rotated.CheckCSRF(got, sess.CSRF) != nil {
		t.Fatalf("a sign-in started before the rotation, after it: %+v %v; want alice's, its CSRF token the same", got, err)
	}
	for name, ss := range map[string]*lifecycle.SelfService{
		"the new key only":                 page(newKey),
		"the new key and another previous": page(newKey, []byte("some older key")),
	} {
		if _, err := ss.Session(ctx, sess.Cookie); !errors.Is(err, lifecycle.ErrNoSession) {
			t.Errorf("a page with %s: %v, want ErrNoSession", name, err)
		}
	}
	if _, err := before.Session(ctx, started(rotated).Cookie); !errors.Is(err, lifecycle.ErrNoSession) {
		t.Errorf("a sign-in started after the rotation, on a page with the old key only: %v, want ErrNoSession (sealed with the new key)", err)
	}
}
