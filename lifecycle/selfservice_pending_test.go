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

// sessionWrites is a store that counts the page's session rows it is asked to write.
type sessionWrites struct {
	store.Store
	store.SelfService
	puts, updates atomic.Int64
}

func (s *sessionWrites) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.SelfService.SpendLink(ctx, hash, now)
}

func (s *sessionWrites) PutSession(ctx context.Context, ss store.SelfServiceSession, audit ...store.AuditEvent) error {
	s.puts.Add(1)
	return s.SelfService.PutSession(ctx, ss, audit...)
}

func (s *sessionWrites) UpdateSession(ctx context.Context, ss store.SelfServiceSession) error {
	s.updates.Add(1)
	return s.SelfService.UpdateSession(ctx, ss)
}

// TestSignInStartsStoreNothing: anyone on the internet may start a sign-in, as often as
// the throttles let them, so a start stores no session: its state travels sealed in the
// browser's cookie (read back whole, refused when altered or past its life), and a row is
// written only once a factor is proven. The sign-in then works as before, once: the
// sealed state of a sign-in that succeeded does not sign in again.
func TestSignInStartsStoreNothing(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		w := &sessionWrites{Store: st, SelfService: st.(store.SelfService)}
		m, clk := newManager(t, w)
		addAlice(t, m)
		en := enrollTOTP(t, m)
		ss := selfService(t, m, "totp", "smsotp", "push")

		for i := range 30 {
			anon, err := ss.NewSession(ctx)
			if err != nil {
				t.Fatal(err)
			}
			name := []string{"alice", "nobody", "ALICE", ""}[i%4]
			method := []string{lifecycle.MethodApp, "smsotp", lifecycle.MethodPush}[i%3]
			if err := ss.StartSignIn(ctx, &anon, name, method); err != nil {
				var le *lifecycle.Error
				if errors.As(err, &le) && le.Code == "signin_limited" {
					continue // the user name's budget: refused before anything
				}
				t.Fatalf("start %d (%q, %s): %v", i, name, method, err)
			}
		}
		if n, u := w.puts.Load(), w.updates.Load(); n != 0 || u != 0 {
			t.Fatalf("30 sign-in starts wrote %d session(s), updated %d; want none", n, u)
		}

		clk.Advance(20 * time.Minute) // past the user name's first window
		anon, err := ss.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.StartSignIn(ctx, &anon, "alice", lifecycle.MethodApp); err != nil {
			t.Fatal(err)
		}
		if len(anon.Cookie) > 1024 {
			t.Errorf("the sealed state is %d characters long", len(anon.Cookie))
		}
		if strings.Contains(anon.Cookie, "alice") {
			t.Errorf("the sealed state shows the user name: %s", anon.Cookie)
		}
		back, err := ss.Session(ctx, anon.Cookie)
		if err != nil || back.Kind != lifecycle.SessionAnon || back.State.User != "alice" || back.State.Method != lifecycle.MethodApp || back.CSRF != anon.CSRF {
			t.Fatalf("the started sign-in read back: %+v %v", back, err)
		}
		for _, bad := range []string{anon.Cookie[:len(anon.Cookie)-3] + "AAA", anon.Cookie + "A", anon.Cookie[:40]} {
			if _, err := ss.Session(ctx, bad); !errors.Is(err, lifecycle.ErrNoSession) {
				t.Errorf("an altered sealed state: %v, want ErrNoSession", err)
			}
		}
		// Another page's key (a replica not sharing it) does not open it.
		if _, err := selfService(t, m, "totp").Session(ctx, anon.Cookie); !errors.Is(err, lifecycle.ErrNoSession) {
			t.Errorf("another key opened the sealed state: %v", err)
		}

		user, err := ss.FinishSignIn(ctx, &back, codeOf(t, en, clk.Now()))
		if err != nil || user.Kind != lifecycle.SessionUser {
			t.Fatalf("the sign-in: %+v %v", user, err)
		}
		if n := w.puts.Load(); n != 1 {
			t.Fatalf("a sign-in wrote %d session(s), want 1 (the signed-in one)", n)
		}
		if _, err := ss.Session(ctx, user.Cookie); err != nil {
			t.Fatalf("the signed-in session: %v", err)
		}

		// A started sign-in lasts the session's idle time, then ends.
		started, _ := ss.NewSession(ctx)
		if err := ss.StartSignIn(ctx, &started, "alice", lifecycle.MethodApp); err != nil {
			t.Fatal(err)
		}
		clk.Advance(ss.SessionIdle() + time.Second)
		if _, err := ss.Session(ctx, started.Cookie); !errors.Is(err, lifecycle.ErrNoSession) {
			t.Errorf("a started sign-in past its life: %v, want ErrNoSession", err)
		}
	})
}

// TestApprovedPushSignsInOnce: the sealed state of a push sign-in that succeeded cannot
// be sent again for a second session, though the device's answer stays "approved".
func TestApprovedPushSignsInOnce(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp", "push")
		devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		device := pushDevice(t, ss, devices, linkToken(t, ss))
		anon, err := ss.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.StartSignIn(ctx, &anon, "alice", lifecycle.MethodPush); err != nil {
			t.Fatal(err)
		}
		number := anon.State.Number
		if got, err := devices.Answer(ctx, device, anon.State.Tx, provider.Approve, &number); err != nil || got != provider.StatusSuccess {
			t.Fatalf("approve: %s %v", got, err)
		}
		again, err := ss.Session(ctx, anon.Cookie) // the same cookie, sent twice
		if err != nil {
			t.Fatal(err)
		}
		state, user, err := ss.FinishPushSignIn(ctx, &anon)
		if err != nil || state != lifecycle.SignInSuccess || user.Kind != lifecycle.SessionUser {
			t.Fatalf("the approved push: %q %+v %v", state, user, err)
		}
		if _, next, err := ss.FinishPushSignIn(ctx, &again); err == nil || next.Cookie != "" {
			t.Fatalf("the approved push's state sent again: %+v %v, want a refusal", next, err)
		}
	})
}
