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
