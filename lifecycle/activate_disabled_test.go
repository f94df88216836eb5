package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// A disabled user's factor is not activated, and the passcode is not checked: the admin
// API answers 409 not_active saying the user is disabled. It answered 422 invalid_passcode,
// "wrong, expired or already used, or locked", and an operator went looking for a wrong
// code; the code sent stays good, and activates once the user is enabled.
func TestActivateOfADisabledUsersFactor(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		sender := &keptSender{}
		m, _ := newManagerSending(t, st, sender)
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "smsotp", Activation: lifecycle.ActivationPasscode,
			Params: raw(`{"phone":"+15550000001"}`)})
		if err != nil {
			t.Fatal(err)
		}
		code := sender.code(t)
		if err := st.SetUserDisabled(ctx, "alice", true); err != nil {
			t.Fatal(err)
		}
		_, err = m.ActivateFactor(ctx, "test", "alice", en.Factor.ID, code)
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Code != "not_active" || le.Kind != lifecycle.Conflict || !strings.Contains(le.Msg, "disabled") {
			t.Fatalf("activate of a disabled user's factor: %v, want 409 not_active saying the user is disabled", err)
		}
		if err := st.SetUserDisabled(ctx, "alice", false); err != nil {
			t.Fatal(err)
		}
		if f, err := m.ActivateFactor(ctx, "test", "alice", en.Factor.ID, code); err != nil || f.State != "active" {
			t.Errorf("the same code once alice is enabled: %+v %v, want the factor active", f, err)
		}
	})
}
