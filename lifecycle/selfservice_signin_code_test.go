package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// countedSender keeps the last message sent and counts them all.
type countedSender struct {
	keptSender
	mu sync.Mutex
	n  int
}

func (c *countedSender) Send(ctx context.Context, m delivery.Message) error {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.keptSender.Send(ctx, m)
}

func (c *countedSender) sent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// withSMS gives alice an active SMS factor, enrolled on the page with her link, and the
// page that enrolled it.
func withSMS(t *testing.T, st store.Store) (*lifecycle.SelfService, *countedSender, *lifecycle.Manager, *clock, string) {
	t.Helper()
	ctx := context.Background()
	sender := &countedSender{}
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
	if _, err := ss.Confirm(ctx, &sess, sender.code(t)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	return ss, sender, m, clk, en.Factor.ID
}

// startSMSSignIn starts a sign-in of user by a texted code, in a fresh session.
func startSMSSignIn(t *testing.T, ss *lifecycle.SelfService, user string) lifecycle.Session {
	t.Helper()
	ctx := context.Background()
	sess, err := ss.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.StartSignIn(ctx, &sess, user, "smsotp"); err != nil {
		t.Fatal(err)
	}
	return sess
}

// notThe is a six-digit code other than code.
func notThe(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// refusal is the code of a lifecycle refusal, and the tries it leaves, as the page shows
// them.
func refusal(sess lifecycle.Session, err error) string {
	var le *lifecycle.Error
	if !errors.As(err, &le) {
		return fmt.Sprint(err)
	}
	if n, ok := sess.TriesLeft(); ok {
		return fmt.Sprintf("%s, %d left", le.Code, n)
	}
	return le.Code
}

// TestSignInTypoKeepsTheCode: a mistyped texted code keeps the sign-in: the page asks
// again (wrong_code, how many tries are left), nothing is sent, and the code the user
// holds then signs in. The count travels in the sealed cookie, which the page hands on.
func TestSignInTypoKeepsTheCode(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		ss, sender, _, _, _ := withSMS(t, st)
		sess := startSMSSignIn(t, ss, "alice")
		sent := sender.sent()
		right := sender.code(t)
		cookie := sess.Cookie
		_, err := ss.FinishSignIn(ctx, &sess, notThe(right))
		if got := refusal(sess, err); got != "wrong_code, 2 left" {
			t.Fatalf("a mistyped code: %s, want wrong_code, 2 left", got)
		}
		if sess.Cookie == cookie {
			t.Fatal("the count of a mistyped code was not sealed into a new cookie")
		}
		// The browser sends the new cookie back: the sign-in it holds goes on.
		back, err := ss.Session(ctx, sess.Cookie)
		if err != nil || ss.CheckCSRF(back, sess.CSRF) != nil {
			t.Fatalf("the cookie after a mistyped code: %v", err)
		}
		if n, _ := back.TriesLeft(); n != 2 {
			t.Fatalf("the cookie after a mistyped code leaves %d tries, want 2", n)
		}
		user, err := ss.FinishSignIn(ctx, &back, right)
		if err != nil || user.Kind != lifecycle.SessionUser {
			t.Fatalf("the right code after a typo: %+v %v, want signed in", user, err)
		}
		if got := sender.sent(); got != sent {
			t.Errorf("%d more messages sent for a typo, want none", got-sent)
		}
	})
}

// TestSignInCodeTriesThenANewOne: a code sent takes its type's maxAttempts; the last wrong
// one says at once that the code can no longer be used (code_spent), as does the right
// code after it, unchecked, and one that expired; a new code (a new sign-in) then works.
// A user name no one has gets the very same answers: they tell nothing of who exists.
func TestSignInCodeTriesThenANewOne(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		ss, sender, _, clk, _ := withSMS(t, st)
		answers := func(user string) []string {
			sess := startSMSSignIn(t, ss, user)
			right := sender.code(t)
			var got []string
			for _, code := range []string{notThe(right), notThe(right), notThe(right), right} {
				_, err := ss.FinishSignIn(ctx, &sess, code)
				got = append(got, refusal(sess, err))
			}
			return got
		}
		want := fmt.Sprint([]string{"wrong_code, 2 left", "wrong_code, 1 left", "code_spent, 0 left", "code_spent, 0 left"})
		for _, user := range []string{"alice", "nobody"} {
			if got := fmt.Sprint(answers(user)); got != want {
				t.Errorf("%s: %s, want %s", user, got, want)
			}
		}

		// Expired: said so, not checked; a new code then signs in.
		clk.Advance(16 * time.Minute) // past the user name's first window of attempts
		sess := startSMSSignIn(t, ss, "alice")
		right := sender.code(t)
		clk.Advance(5 * time.Minute)
		if _, err := ss.FinishSignIn(ctx, &sess, right); refusal(sess, err) != "code_spent, 3 left" {
			t.Fatalf("the right code, expired: %s, want code_spent", refusal(sess, err))
		}
		if err := ss.StartSignIn(ctx, &sess, sess.State.User, sess.State.Method); err != nil {
			t.Fatal(err)
		}
		if user, err := ss.FinishSignIn(ctx, &sess, sender.code(t)); err != nil || user.Kind != lifecycle.SessionUser {
			t.Fatalf("a new code: %+v %v, want signed in", user, err)
		}
	})
}

// TestSignInFactorLockedMeanwhile: a factor locked (by Verify's failures) after its code
// was sent refuses the right code, and the page says so, with how long (factor_locked);
// the code is then used up.
func TestSignInFactorLockedMeanwhile(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		ss, sender, _, clk, id := withSMS(t, st)
		sess := startSMSSignIn(t, ss, "alice")
		right := sender.code(t)
		for range 10 {
			if _, err := st.RecordFailure(ctx, id, clk.Now(), 10, 15*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if _, found := ss.LockedFor(sess); found {
			t.Fatal("a lock found before a code was typed")
		}
		var le *lifecycle.Error
		_, err := ss.FinishSignIn(ctx, &sess, right)
		if !errors.As(err, &le) || le.Code != lifecycle.CodeFactorLocked || le.RetryAfter != 15*time.Minute {
			t.Fatalf("the right code of a factor locked meanwhile: %v (%+v), want factor_locked for 15m", err, le)
		}
		// The sign-in keeps when the lock ends, for the page to say what is left of it.
		for _, step := range []struct{ advance, left time.Duration }{{0, 15 * time.Minute}, {10 * time.Minute, 5 * time.Minute}, {6 * time.Minute, 0}} {
			clk.Advance(step.advance)
			if left, found := ss.LockedFor(sess); !found || left != step.left {
				t.Fatalf("the lock's wait after %v more: %v (found %v), want %v", step.advance, left, found, step.left)
			}
		}
		if _, err := ss.FinishSignIn(ctx, &sess, right); refusal(sess, err) != "code_spent, 0 left" {
			t.Fatalf("then: %s, want code_spent", refusal(sess, err))
		}
	})
}
