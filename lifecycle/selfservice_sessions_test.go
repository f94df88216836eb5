package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// signedIn gives alice a TOTP factor through a link, then signs her in with it.
func signedIn(t *testing.T, ss *lifecycle.SelfService, clk *clock) (lifecycle.Session, lifecycle.Enrolled) {
	t.Helper()
	ctx := context.Background()
	sess, en := enrollVia(t, ss, linkToken(t, ss), "totp")
	if _, err := ss.Confirm(ctx, &sess, codeOf(t, en, clk.Now())); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute) // a code the enrollment did not use
	anon, err := ss.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.StartSignIn(ctx, &anon, "alice", lifecycle.MethodApp); err != nil {
		t.Fatal(err)
	}
	user, err := ss.FinishSignIn(ctx, &anon, codeOf(t, en, clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return user, en
}

// wantSessionGone checks that cookie's session is refused and no longer stored.
func wantSessionGone(t *testing.T, st store.Store, ss *lifecycle.SelfService, what, cookie string) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.(store.SelfService).GetSession(ctx, lifecycle.HashToken(cookie)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: the session is stored still (%v)", what, err)
	}
	if _, err := ss.Session(ctx, cookie); !errors.Is(err, lifecycle.ErrNoSession) {
		t.Errorf("%s: the session still works (%v)", what, err)
	}
}

// signOutDuring is a store where a sign-out (another tab's) comes between a request's
// read of a session and its refresh of it.
type signOutDuring struct {
	store.Store
	store.SelfService
	hash *string // the session to end once read; "" for none
}

func (s signOutDuring) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.SelfService.SpendLink(ctx, hash, now)
}

func (s signOutDuring) GetSession(ctx context.Context, hash string) (store.SelfServiceSession, error) {
	rec, err := s.SelfService.GetSession(ctx, hash)
	if err == nil && hash == *s.hash {
		*s.hash = ""
		if err := s.SelfService.DeleteSession(ctx, hash); err != nil {
			return rec, err
		}
	}
	return rec, err
}

// TestSignOutWinsOverARefresh: a request that read its session before a sign-out (or an
// admin ending it) cannot write the session back when it refreshes or saves it: the
// session stays gone and the request is told it ended.
func TestSignOutWinsOverARefresh(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		var during string
		m, clk := newManager(t, signOutDuring{st, st.(store.SelfService), &during})
		addAlice(t, m)
		ss := selfService(t, m, "totp")
		user, _ := signedIn(t, ss, clk)

		// The refresh of a request that read the session just before the sign-out.
		during = lifecycle.HashToken(user.Cookie)
		if _, err := ss.Session(ctx, user.Cookie); !errors.Is(err, lifecycle.ErrNoSession) {
			t.Errorf("a refresh racing a sign-out: %v, want the session ended", err)
		}
		if during != "" {
			t.Fatal("the sign-out did not come between")
		}
		wantSessionGone(t, st, ss, "signed out during a refresh", user.Cookie)

		// The save of a request holding a session read before the sign-out.
		clk.Advance(time.Minute) // past the one-link-a-minute limit
		user, _ = signedIn(t, ss, clk)
		earlier, err := ss.Session(ctx, user.Cookie)
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.End(ctx, user); err != nil {
			t.Fatal(err)
		}
		if err := ss.StartSignIn(ctx, &earlier, "alice", lifecycle.MethodApp); !errors.Is(err, lifecycle.ErrNoSession) {
			t.Errorf("a save after the sign-out: %v, want the session ended", err)
		}
		wantSessionGone(t, st, ss, "signed out before a save", user.Cookie)
	})
}

// TestResetEndsSessions: a reset of a user's factors ends the user's self-service
// sessions, the one a factor signed in and the one a link opened, in its commit; so
// does a disable, even when the user is enabled again before the session's next request.
func TestResetEndsSessions(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp")
		user, _ := signedIn(t, ss, clk)
		clk.Advance(time.Minute) // past the one-link-a-minute limit
		link, err := ss.OpenLink(ctx, linkToken(t, ss))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.ResetUser(ctx, "test", "alice", lifecycle.ResetDisable); err != nil {
			t.Fatal(err)
		}
		wantSessionGone(t, st, ss, "signed in, after a reset", user.Cookie)
		wantSessionGone(t, st, ss, "opened by a link, after a reset", link.Cookie)

		// Signed in again with a factor enrolled since, then disabled and enabled.
		clk.Advance(time.Minute)
		user, _ = signedIn(t, ss, clk)
		for _, disabled := range []bool{true, false} {
			if _, err := m.SetUserState(ctx, "test", "alice", disabled); err != nil {
				t.Fatal(err)
			}
		}
		wantSessionGone(t, st, ss, "signed in, after a disable and an enable", user.Cookie)
	})
}

// TestLinkSessionEndsWithItsLink: a session a link opened ends when the link does, not 12
// hours later: past the link's end (by the page's clock, before any sweep) the session is
// refused, a confirmation from a page holding it is refused and spends nothing, and a
// push device enrolled with it cannot register.
func TestLinkSessionEndsWithItsLink(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp", "push") // links last an hour
		devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		token := linkToken(t, ss)
		clk.Advance(50 * time.Minute)
		sess, en := enrollVia(t, ss, token, "totp")
		_, pen := enrollVia(t, ss, token, "push")
		clk.Advance(10 * time.Minute) // the link's end

		// Ended, and said to be the link's end: ask for a new link.
		if _, err := ss.Session(ctx, sess.Cookie); !errors.Is(err, lifecycle.ErrLinkExpired) {
			t.Errorf("the link's session past the link's end: %v, want it ended as the link expired", err)
		}
		if _, err := ss.Session(ctx, sess.Cookie); !errors.Is(err, lifecycle.ErrNoSession) {
			t.Errorf("the link's session past the link's end, again: %v, want it ended", err)
		}
		if _, err := ss.Confirm(ctx, &sess, codeOf(t, en, clk.Now())); !errors.Is(err, lifecycle.ErrLinkExpired) {
			t.Errorf("a confirmation past the link's end: %v, want the link expired", err)
		}
		key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
		pub, _ := builtin.EncodePublicKey(key)
		if _, err := devices.Register(ctx, provider.DeviceRegistration{ActivationCode: pen.Output["activationCode"].(string),
			PublicKey: pub, Alg: builtin.AlgES256}); !errors.Is(err, provider.ErrActivation) {
			t.Errorf("a push registration past the link's end: %v, want it refused", err)
		}
		for _, id := range []string{en.Factor.ID, pen.Factor.ID} {
			if f, err := m.GetFactor(ctx, "alice", id); err != nil || f.State == lifecycle.FactorActive {
				t.Errorf("factor %s enrolled with an expired link: %+v %v, want it pending", id, f, err)
			}
		}
		if l, err := st.(store.SelfService).GetLink(ctx, lifecycle.HashToken(token)); err != nil || !l.SpentAt.IsZero() {
			t.Errorf("the expired link: %+v %v, want it there, unspent", l, err)
		}
	})
}

// TestLinkSessionEndsWhenItsLinkDoes: a session a link opened does not outlive the link
// being replaced by a newer one; once another browser's enrollment spent the link, the
// session enrolls nothing more and sends no code (it could never be confirmed).
func TestLinkSessionEndsWhenItsLinkDoes(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		var sent atomic.Int32
		var err error
		m, clk := newManagerSending(t, st, countingSender{&sent})
		addAlice(t, m)
		ss := selfService(t, m, "totp", "smsotp")
		factors := func() int {
			t.Helper()
			fs, err := m.ListFactors(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			return len(fs)
		}

		// Replaced: the old link's sessions end, and enroll nothing.
		token := linkToken(t, ss)
		var old [2]lifecycle.Session
		for i := range old {
			if old[i], err = ss.OpenLink(ctx, token); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(2 * time.Minute)
		token = linkToken(t, ss)
		if _, err := ss.Session(ctx, old[0].Cookie); !errors.Is(err, lifecycle.ErrNoSession) {
			t.Errorf("a replaced link's session: %v, want it ended", err)
		}
		wantSessionGone(t, st, ss, "a replaced link's session", old[0].Cookie)
		if _, err := ss.Enroll(ctx, &old[1], "smsotp", "+15550000001"); !errors.Is(err, lifecycle.ErrLinkInvalid) {
			t.Errorf("an enrollment with a replaced link: %v, want the link invalid", err)
		}
		wantSessionGone(t, st, ss, "a replaced link's session, after an enrollment", old[1].Cookie)
		if factors() != 0 || sent.Load() != 0 {
			t.Errorf("with a replaced link: %d factor(s), %d code(s) sent", factors(), sent.Load())
		}

		// Spent by another browser: no enrollment, no code sent.
		slow, err := ss.OpenLink(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Enroll(ctx, &slow, "smsotp", "+15550000001"); err != nil {
			t.Fatal(err)
		}
		fast, en := enrollVia(t, ss, token, "totp")
		if _, err := ss.Confirm(ctx, &fast, codeOf(t, en, clk.Now())); err != nil {
			t.Fatal(err)
		}
		n, sends := factors(), sent.Load()
		if err := ss.Resend(ctx, &slow); !errors.Is(err, lifecycle.ErrLinkSpent) {
			t.Errorf("a resend with a spent link: %v, want the link spent", err)
		}
		if _, err := ss.Enroll(ctx, &slow, "smsotp", "+15550000002"); !errors.Is(err, lifecycle.ErrLinkSpent) {
			t.Errorf("an enrollment with a spent link: %v, want the link spent", err)
		}
		if factors() != n || sent.Load() != sends {
			t.Errorf("with a spent link: %d factor(s) (was %d), %d code(s) sent (was %d)", factors(), n, sent.Load(), sends)
		}
		if sends != 1 {
			t.Errorf("%d code(s) sent before the link was spent, want 1", sends)
		}
	})
}

// TestResetEndsASignInProvedBeforeIt: a sign-in whose push was approved before a reset of
// the user's factors, but whose page continues only after it, opens no session: the reset
// said the device is no longer trusted, and its approval signs no one in afterwards. Nor
// does a code checked just before a reset whose session is stored just after it.
func TestResetEndsASignInProvedBeforeIt(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		for _, mode := range []string{lifecycle.ResetDisable, lifecycle.ResetDelete} {
			m, clk := newManager(t, st)
			name := "alice"
			if mode == lifecycle.ResetDelete {
				name = "bob"
			}
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: name}); err != nil {
				t.Fatal(err)
			}
			ss := selfService(t, m, "totp", "push")
			devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			l, err := ss.IssueLink(ctx, "test", name, false)
			if err != nil {
				t.Fatal(err)
			}
			device := pushDevice(t, ss, devices, l.URL[strings.LastIndex(l.URL, "/")+1:])

			anon, err := ss.NewSession(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := ss.StartSignIn(ctx, &anon, name, lifecycle.MethodPush); err != nil {
				t.Fatal(err)
			}
			if anon.State.Tx == "" {
				t.Fatal("no push challenge")
			}
			number := anon.State.Number
			if got, err := devices.Answer(ctx, device, anon.State.Tx, provider.Approve, &number); err != nil || got != provider.StatusSuccess {
				t.Fatalf("approve: %s %v", got, err)
			}
			// The device was stolen, say: the admin resets the user's factors, before the
			// page that asked for the approval continues.
			if _, err := m.ResetUser(ctx, "test", name, mode); err != nil {
				t.Fatal(err)
			}
			_, next, err := ss.FinishPushSignIn(ctx, &anon)
			if err == nil {
				t.Errorf("reset %s: a push approved before the reset signed %s in after it", mode, name)
			}
			if next.Cookie != "" {
				if _, err := ss.Session(ctx, next.Cookie); !errors.Is(err, lifecycle.ErrNoSession) {
					t.Errorf("reset %s: the session of a push approved before the reset works (%v)", mode, err)
				}
			}
		}
	})
}

// resetBeforeSignIn is a store where a reset of the user's factors commits between a
// sign-in's check of its code and the store of its session.
type resetBeforeSignIn struct {
	store.Store
	store.SelfService
	reset *func() // run once, before the next signed-in session is stored
}

func (s resetBeforeSignIn) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.SelfService.SpendLink(ctx, hash, now)
}

func (s resetBeforeSignIn) PutSession(ctx context.Context, ss store.SelfServiceSession, audit ...store.AuditEvent) error {
	if f := *s.reset; f != nil && ss.Kind == lifecycle.SessionUser {
		*s.reset = nil
		f()
	}
	return s.SelfService.PutSession(ctx, ss, audit...)
}

// TestResetBetweenACodeAndItsSession: a code checked just before a reset of the user's
// factors, whose session would be stored just after it, signs no one in, and no sign-in
// is recorded as a success.
func TestResetBetweenACodeAndItsSession(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		var reset func()
		m, clk := newManager(t, resetBeforeSignIn{st, st.(store.SelfService), &reset})
		addAlice(t, m)
		ss := selfService(t, m, "totp")
		sess, en := enrollVia(t, ss, linkToken(t, ss), "totp")
		if _, err := ss.Confirm(ctx, &sess, codeOf(t, en, clk.Now())); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		anon, err := ss.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.StartSignIn(ctx, &anon, "alice", lifecycle.MethodApp); err != nil {
			t.Fatal(err)
		}
		reset = func() {
			if _, err := m.ResetUser(ctx, "test", "alice", lifecycle.ResetDisable); err != nil {
				t.Fatal(err)
			}
		}
		user, err := ss.FinishSignIn(ctx, &anon, codeOf(t, en, clk.Now()))
		if reset != nil {
			t.Fatal("the reset did not come between")
		}
		if !errors.Is(err, lifecycle.ErrSignIn) {
			t.Errorf("a sign-in whose factor was reset before its session: %v, want it refused", err)
		}
		if user.Cookie != "" {
			if _, err := ss.Session(ctx, user.Cookie); !errors.Is(err, lifecycle.ErrNoSession) {
				t.Errorf("the session of a code checked before the reset works (%v)", err)
			}
		}
		for _, e := range auditOf(t, m, "selfservice.signin").Events {
			if e.Outcome == "SUCCESS" {
				t.Errorf("a sign-in recorded as a success: %+v", e)
			}
		}
	})
}

// saveDuring is a store where another request's save of a session comes between a
// request's read of that session and its refresh of it.
type saveDuring struct {
	store.Store
	store.SelfService
	hook *func() // run once, after the next read of a session
}

func (s saveDuring) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.SelfService.SpendLink(ctx, hash, now)
}

func (s saveDuring) GetSession(ctx context.Context, hash string) (store.SelfServiceSession, error) {
	rec, err := s.SelfService.GetSession(ctx, hash)
	if h := *s.hook; err == nil && h != nil {
		*s.hook = nil
		h()
	}
	return rec, err
}

// TestRefreshKeepsAConcurrentSave: a request (the page's poll) that read its session
// before another request saved new state into it refreshes only the session's last use:
// it does not put the older state back.
func TestRefreshKeepsAConcurrentSave(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		var hook func()
		m, clk := newManager(t, saveDuring{st, st.(store.SelfService), &hook})
		addAlice(t, m)
		ss := selfService(t, m, "totp")
		user, _ := signedIn(t, ss, clk)
		hash := lifecycle.HashToken(user.Cookie)
		var enrolling string
		hook = func() {
			other := user
			out, err := ss.Enroll(ctx, &other, "totp", "")
			if err != nil {
				t.Error(err)
			}
			enrolling = out.Factor.ID
		}
		if _, err := ss.Session(ctx, user.Cookie); err != nil {
			t.Fatal(err)
		}
		if hook != nil {
			t.Fatal("the save did not come between")
		}
		rec, err := st.(store.SelfService).GetSession(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		if enrolling == "" || !strings.Contains(rec.Data, enrolling) {
			t.Errorf("the refresh put the state read before the save back: %s", rec.Data)
		}
	})
}

// signInWith signs alice in on the page with en, a TOTP factor of hers, in a session of
// its own. A code is used once: the clock moves on first.
func signInWith(t *testing.T, ss *lifecycle.SelfService, clk *clock, en lifecycle.Enrolled) lifecycle.Session {
	t.Helper()
	ctx := context.Background()
	clk.Advance(time.Minute)
	anon, err := ss.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.StartSignIn(ctx, &anon, "alice", lifecycle.MethodApp); err != nil {
		t.Fatal(err)
	}
	user, err := ss.FinishSignIn(ctx, &anon, codeOf(t, en, clk.Now()))
	if err != nil {
		t.Fatalf("sign-in with %s: %v", en.Factor.ID, err)
	}
	return user
}

// wantSessionKept checks that cookie's session still works.
func wantSessionKept(t *testing.T, ss *lifecycle.SelfService, what, cookie string) {
	t.Helper()
	if _, err := ss.Session(context.Background(), cookie); err != nil {
		t.Errorf("%s: the session ended (%v), want it kept", what, err)
	}
}

// enrollTOTP enrolls alice a TOTP factor, active at once, as an admin does.
func enrollTOTP(t *testing.T, m *lifecycle.Manager) lifecycle.Enrolled {
	t.Helper()
	en, err := m.EnrollFactor(context.Background(), "test", "alice", lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationImmediate})
	if err != nil {
		t.Fatal(err)
	}
	return en
}

// TestFactorEndsItsSessions: a session signed in with a factor ends, in the commit, when
// that one factor is disabled or deleted (by an admin, or by the user on the page), and
// the sessions signed in with the user's other factors go on.
func TestFactorEndsItsSessions(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp")
		one, two := enrollTOTP(t, m), enrollTOTP(t, m)
		withOne, withTwo := signInWith(t, ss, clk, one), signInWith(t, ss, clk, two)

		if _, err := m.SetFactorState(ctx, "test", "alice", one.Factor.ID, true); err != nil {
			t.Fatal(err)
		}
		wantSessionGone(t, st, ss, "signed in with a factor disabled since", withOne.Cookie)
		wantSessionKept(t, ss, "signed in with another factor, after a disable", withTwo.Cookie)

		if _, err := m.SetFactorState(ctx, "test", "alice", one.Factor.ID, false); err != nil {
			t.Fatal(err)
		}
		withOne = signInWith(t, ss, clk, one)
		if err := m.DeleteFactor(ctx, "test", "alice", two.Factor.ID); err != nil {
			t.Fatal(err)
		}
		wantSessionGone(t, st, ss, "signed in with a factor deleted since", withTwo.Cookie)
		wantSessionKept(t, ss, "signed in with another factor, after a delete", withOne.Cookie)

		// The user removes, on the page, the factor the page was signed in with.
		three := enrollTOTP(t, m)
		withThree := signInWith(t, ss, clk, three)
		if err := ss.Remove(ctx, withOne, one.Factor.ID); err != nil {
			t.Fatal(err)
		}
		wantSessionGone(t, st, ss, "signed in with the factor it removed", withOne.Cookie)
		wantSessionKept(t, ss, "signed in with another factor, after a removal", withThree.Cookie)
	})
}

// TestLateResetEndsOnlyWhatCameBefore: a directory's reset delivered late ends the
// sessions begun before it happened and those signed in with a factor it resets, but not
// one signed in since with a factor enrolled since, nor one a link issued since opened.
func TestLateResetEndsOnlyWhatCameBefore(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp")
		old := enrollTOTP(t, m)
		before := signInWith(t, ss, clk, old)
		clk.Advance(time.Minute)
		resetAt := clk.Now()
		clk.Advance(time.Minute)
		since := enrollTOTP(t, m) // enrolled again after the reset
		withSince := signInWith(t, ss, clk, since)
		withOld := signInWith(t, ss, clk, old)
		token := linkToken(t, ss)
		opened, err := ss.OpenLink(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute) // the reset arrives late
		if n, err := m.ResetUserBefore(ctx, "sync:okta", "alice", lifecycle.ResetDelete, resetAt); n != 1 || err != nil {
			t.Fatalf("reset: %d %v", n, err)
		}
		wantSessionGone(t, st, ss, "begun before the reset", before.Cookie)
		wantSessionGone(t, st, ss, "signed in since with a factor the reset deletes", withOld.Cookie)
		wantSessionKept(t, ss, "signed in since with a factor enrolled since", withSince.Cookie)
		wantSessionKept(t, ss, "opened since by a link issued since", opened.Cookie)
		if _, err := ss.OpenLink(ctx, token); err != nil {
			t.Errorf("a link issued after the reset: %v, want it usable", err)
		}
	})
}

// TestResetRevokesTheLink: a reset revokes the user's activation link issued before it, so
// that the link opens no session after it; a link issued right after the reset works. A
// late reset revokes a link issued before it happened, even one opened since.
func TestResetRevokesTheLink(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp")
		token := linkToken(t, ss)
		if _, err := m.ResetUser(ctx, "test", "alice", lifecycle.ResetDelete); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.OpenLink(ctx, token); !errors.Is(err, lifecycle.ErrLinkInvalid) {
			t.Errorf("a link issued before a reset, opened after it: %v, want it invalid", err)
		}
		// A new link at once, as an admin who resets a user and sends a link does.
		fresh := linkToken(t, ss)
		if _, err := ss.OpenLink(ctx, fresh); err != nil {
			t.Errorf("a link issued after a reset: %v, want it usable", err)
		}

		// Late: issued before the reset happened, opened since, the reset delivered after.
		clk.Advance(time.Minute)
		resetAt := clk.Now()
		clk.Advance(time.Minute)
		opened, err := ss.OpenLink(ctx, fresh)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.ResetUserBefore(ctx, "sync:okta", "alice", lifecycle.ResetDelete, resetAt); err != nil {
			t.Fatal(err)
		}
		wantSessionGone(t, st, ss, "opened after a late reset happened, by a link issued before it", opened.Cookie)
		if _, err := ss.OpenLink(ctx, fresh); !errors.Is(err, lifecycle.ErrLinkInvalid) {
			t.Errorf("a link issued before a late reset: %v, want it invalid", err)
		}
	})
}
