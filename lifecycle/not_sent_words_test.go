package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestNotSentSaysWhyNotTheSendLimits: a resend to a code factor locked by wrong
// activation codes is refused (activation_not_sent) with how long until the lockout ends,
// yet the message the admin API, the CLI and the audit trail carry said "(the send limits
// allow the next in 15m0s)": an operator went looking at send limits that refused
// nothing. The message says what holds the code back, and when it may go.
func TestNotSentSaysWhyNotTheSendLimits(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "smsotp", Activation: lifecycle.ActivationPasscode,
			Params: raw(`{"phone":"+15550000001"}`)})
		if err != nil {
			t.Fatal(err)
		}
		id := en.Factor.ID
		for i := range 10 { // lockout.maxFailures' default; a code takes 3 tries
			if i > 0 && i%3 == 0 {
				if _, err := m.ResendActivation(ctx, "test", "alice", id); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := m.ActivateFactor(ctx, "test", "alice", id, "00000000"); err == nil {
				t.Fatal("a wrong code activated")
			}
		}
		if f, err := st.GetFactor(ctx, id); err != nil || f.LockedUntil.IsZero() {
			t.Fatalf("not locked: %+v %v", f, err)
		}
		_, err = m.ResendActivation(ctx, "test", "alice", id)
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Code != "activation_not_sent" || le.RetryAfter != 15*time.Minute {
			t.Fatalf("resend to a locked factor: %v, want activation_not_sent retrying in 15m", err)
		}
		if strings.Contains(le.Msg, "send limits") || !strings.Contains(le.Msg, "locked") || !strings.Contains(le.Msg, "15m0s") {
			t.Errorf("refusal says %q: want the lockout and its 15m, not the send limits", le.Msg)
		}
	})
}
