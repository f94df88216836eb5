package builtin_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// TestResendPromisesNoMoreThanThePendingFactorLives: a code factor pending its
// passcode is deleted once it has waited lifecycle.activationLifetime (PendingLifetime).
// A resend near that end answered activationExpiresAt the code's 5 minutes on, past the
// factor's deletion: the person was told the code would work when there was no factor
// left for it to activate. And a resend past that end (before the sweep came) sent a code
// for a factor about to go. The answer is now the earlier of the two ends, and past the
// factor's, nothing is sent (ErrNotSent).
func TestResendPromisesNoMoreThanThePendingFactorLives(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		sms := &outbox{channels: []delivery.Channel{delivery.SMS}}
		keys, err := builtin.NewKeyring(bytes.Repeat([]byte{9}, 32))
		if err != nil {
			t.Fatal(err)
		}
		e, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: clk.Now, PendingLifetime: time.Hour,
			Config:  map[string]any{"smsotp": map[string]any{"sender": "sms"}, "sendLimits": unlimited()},
			Senders: func(string) (delivery.Sender, error) { return sms, nil }})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateUser(ctx, store.User{ID: "u-alice", Name: "alice", CreatedAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
		u, _ := st.GetUser(ctx, "alice")
		in := enrollment("smsotp", "alice", "phone", "+15551230123")
		in.Activation = builtin.ActivationPasscode
		en, err := e.Enroll(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		end := en.Factor.CreatedAt.Add(time.Hour)

		clk.Advance(58 * time.Minute)
		expires, err := e.ResendActivation(ctx, u, en.Factor.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if expires.After(end) {
			t.Errorf("a resend 2 minutes before the factor's deletion (%s) says its code works until %s", end.Format(time.TimeOnly), expires.Format(time.TimeOnly))
		}

		clk.Advance(2 * time.Minute)
		sent := sms.count()
		if _, err := e.ResendActivation(ctx, u, en.Factor.ID, nil); !errors.Is(err, builtin.ErrNotSent) {
			t.Errorf("a resend once the factor's activation lifetime ended: %v, want ErrNotSent", err)
		}
		if sms.count() != sent {
			t.Errorf("%d code(s) sent to a factor past its activation lifetime", sms.count()-sent)
		}
	})
}
