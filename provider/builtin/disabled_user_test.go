package builtin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestNoActivationCodeToADisabledUser: a factor of a disabled user cannot be
// activated (its right code answers "the factor or its user was disabled meanwhile", and
// the code is spent), yet an enrollment pending a passcode, and a resend, sent the
// activation code all the same: an SMS paid for and counted under the send limits, that
// nothing could use. They send nothing now and say why (ErrNotSent, the admin API's
// activation_not_sent); the enrollment stores no factor, as when a send fails.
func TestNoActivationCodeToADisabledUser(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newEngineFixture(t, st, nil)
		id := enrollAs(t, f, builtin.ActivationPasscode, "smsotp", "alice", "phone", "+15551230123").Factor.ID
		if err := st.SetUserDisabled(ctx, "alice", true); err != nil {
			t.Fatal(err)
		}
		sms, mails := f.sms.count(), f.email.count()

		_, err := f.engine.ResendActivation(ctx, alice(t, f), id, nil)
		if !errors.Is(err, builtin.ErrNotSent) || !strings.Contains(err.Error(), "disabled") {
			t.Errorf("resend to a disabled user: %v, want ErrNotSent naming the disabled user", err)
		}
		in := enrollment("emailotp", "alice", "email", "alice@example.com")
		in.Activation = builtin.ActivationPasscode
		if _, err := f.engine.Enroll(ctx, in); !errors.Is(err, builtin.ErrNotSent) || !strings.Contains(err.Error(), "disabled") {
			t.Errorf("enrollment of a disabled user pending a passcode: %v, want ErrNotSent naming the disabled user", err)
		}
		if f.sms.count() != sms || f.email.count() != mails {
			t.Errorf("a disabled user was sent %d SMS and %d e-mail(s) no code of which could activate", f.sms.count()-sms, f.email.count()-mails)
		}
		if list, _ := st.ListFactors(ctx, "u-alice"); len(list) != 1 {
			t.Errorf("%d factors, want the first one alone", len(list))
		}

		// Enabled again, the pending factor's resend goes out and its code activates it.
		if err := st.SetUserDisabled(ctx, "alice", false); err != nil {
			t.Fatal(err)
		}
		if _, err := f.engine.ResendActivation(ctx, alice(t, f), id, nil); err != nil {
			t.Fatalf("resend once enabled: %v", err)
		}
		if _, err := f.engine.Activate(ctx, alice(t, f), id, f.sms.last(t).Code, nil); err != nil {
			t.Fatalf("activate once enabled: %v", err)
		}
	})
}
