package lifecycle_test

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// keptSender keeps the last message sent.
type keptSender struct {
	mu   sync.Mutex
	last string
}

func (*keptSender) Kind() string                 { return "kept" }
func (*keptSender) Serves(delivery.Channel) bool { return true }
func (k *keptSender) Send(_ context.Context, m delivery.Message) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.last = m.Text
	return nil
}

func (k *keptSender) code(t *testing.T) string {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	m := regexp.MustCompile(`\d{6}`).FindString(k.last)
	if m == "" {
		t.Fatalf("no code in %q", k.last)
	}
	return m
}

// TestConfirmSaysWhyTheRightCodeIsRefused: once a texted code's tries are used up, even
// the right code is refused; Confirm says so (code_spent: send a new one), not "wrong
// code", which would have the person retype it forever. A resent code then works; and a
// form of a set-up this session replaced is refused as ended, not checked.
func TestConfirmSaysWhyTheRightCodeIsRefused(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		sender := &keptSender{}
		m, clk := newManagerSending(t, st, sender)
		addAlice(t, m)
		ss := selfService(t, m, "totp", "smsotp")
		sess, err := ss.OpenLink(ctx, linkToken(t, ss))
		if err != nil {
			t.Fatal(err)
		}
		en, err := ss.Enroll(ctx, &sess, "smsotp", "+15550000001")
		if err != nil {
			t.Fatal(err)
		}
		right := sender.code(t)
		wrong := "000000"
		if right == wrong {
			wrong = "111111"
		}
		for i, want := range []string{"invalid_passcode", "invalid_passcode", lifecycle.CodeCodeSpent} {
			// The third wrong code uses up the code's tries: it says so at once.
			var le *lifecycle.Error
			if _, err := ss.Confirm(ctx, &sess, wrong); !errors.As(err, &le) || le.Code != want {
				t.Fatalf("wrong code %d: %v, want %s", i+1, err, want)
			}
		}
		var le *lifecycle.Error
		if _, err := ss.Confirm(ctx, &sess, right); !errors.As(err, &le) || le.Code != lifecycle.CodeCodeSpent || le.Field != "passcode" {
			t.Fatalf("right code after the tries: %v, want %s", err, lifecycle.CodeCodeSpent)
		}
		if !ss.SamePending(ctx, sess, "smsotp", "+1 555 000 0001") || ss.SamePending(ctx, sess, "smsotp", "+15550000002") {
			t.Error("SamePending does not tell the same destination from another")
		}
		clk.Advance(61 * time.Second)
		if err := ss.Resend(ctx, &sess); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.ConfirmFor(ctx, &sess, "an-older-factor", sender.code(t)); !errors.As(err, &le) || le.Code != "enrollment_ended" {
			t.Fatalf("a replaced set-up's form: %v, want enrollment_ended", err)
		}
		if f, err := ss.ConfirmFor(ctx, &sess, en.Factor.ID, sender.code(t)); err != nil || f.State != lifecycle.FactorActive {
			t.Fatalf("the new code: %+v %v", f, err)
		}
	})
}

// TestProvenFactorIsDoneWhateverFollows: a first code that proved its factor is answered
// as done, the factor active, even when the session ended meanwhile (signed out in
// another tab), and when the same form is posted again (a double click, a reload).
func TestProvenFactorIsDoneWhateverFollows(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		first := enrollTOTP(t, m)
		ss := selfService(t, m, "totp")
		clk.Advance(time.Minute)
		signIn := func() lifecycle.Session {
			t.Helper()
			user, err := pageSignIn(t, ss, "alice", codeOf(t, first, clk.Now()))
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Minute)
			return user
		}

		// Posted twice: the second form finds the set-up done.
		user := signIn()
		en, err := ss.Enroll(ctx, &user, "totp", "")
		if err != nil {
			t.Fatal(err)
		}
		again, err := ss.Session(ctx, user.Cookie) // the second request's session, loaded before the first's answer
		if err != nil {
			t.Fatal(err)
		}
		code := codeOf(t, en, clk.Now())
		if f, err := ss.ConfirmFor(ctx, &user, en.Factor.ID, code); err != nil || f.State != lifecycle.FactorActive {
			t.Fatalf("the first code: %+v %v", f, err)
		}
		again, err = ss.Session(ctx, again.Cookie)
		if err != nil {
			t.Fatal(err)
		}
		if f, err := ss.ConfirmFor(ctx, &again, en.Factor.ID, code); err != nil || f.ID != en.Factor.ID || f.State != lifecycle.FactorActive {
			t.Fatalf("the same form again: %+v %v, want the factor, active", f, err)
		}

		// Signed out in another tab while the code was checked.
		user = signIn()
		en, err = ss.Enroll(ctx, &user, "totp", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.End(ctx, user); err != nil {
			t.Fatal(err)
		}
		if f, err := ss.Confirm(ctx, &user, codeOf(t, en, clk.Now())); err != nil || f.State != lifecycle.FactorActive {
			t.Fatalf("a code proven as the session ended: %+v %v, want the factor, active", f, err)
		}
		if _, err := ss.Session(ctx, user.Cookie); !errors.Is(err, lifecycle.ErrNoSession) {
			t.Errorf("the session that ended: %v, want it still ended", err)
		}
	})
}
