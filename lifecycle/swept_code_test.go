package lifecycle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestSweptCodeSaysSendANewOne: the code texted to a factor being set up on the
// self-service page expires in 5 minutes, and the sweeper deletes its transaction an hour
// (transactionGrace) after that. Typed later (the page kept open, the session in use),
// even the right code was answered "That code did not work. Check the code in the message
// we sent", which the person retyped forever: the page offered no "send a new code". It
// says the code can no longer be used (code_spent), as for one merely expired, and a new
// code then works.
func TestSweptCodeSaysSendANewOne(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		sender := &keptSender{}
		m, clk := newManagerSending(t, st, sender)
		addAlice(t, m)
		first := enrollTOTP(t, m)
		ss := selfService(t, m, "totp", "smsotp")
		clk.Advance(time.Minute)
		sess, err := pageSignIn(t, ss, "alice", codeOf(t, first, clk.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Enroll(ctx, &sess, "smsotp", "+15550000001"); err != nil {
			t.Fatal(err)
		}
		right := sender.code(t)

		// The code expired, past the sweeper's grace; the session kept in use.
		for range 3 {
			clk.Advance(25 * time.Minute)
			if sess, err = ss.Session(ctx, sess.Cookie); err != nil {
				t.Fatal(err)
			}
		}
		sw := &builtin.Sweeper{Store: st, Now: clk.Now, SessionIdle: time.Hour}
		if n, err := sw.Sweep(ctx); err != nil || n.Transactions == 0 {
			t.Fatalf("sweep: %+v %v, want the code's transaction deleted", n, err)
		}

		var le *lifecycle.Error
		if _, err := ss.Confirm(ctx, &sess, right); !errors.As(err, &le) || le.Code != lifecycle.CodeCodeSpent {
			t.Fatalf("the right code, its transaction swept: %v, want %s (send a new code)", err, lifecycle.CodeCodeSpent)
		}
		if err := ss.Resend(ctx, &sess); err != nil {
			t.Fatal(err)
		}
		if f, err := ss.Confirm(ctx, &sess, sender.code(t)); err != nil || f.State != lifecycle.FactorActive {
			t.Fatalf("the new code: %+v %v", f, err)
		}
	})
}
