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
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// disablingSender disables its user while the code is on its way, when armed: the disable
// commits after ResendActivation read the user and after the send's reservation, the
// window no check before the send can close (the send is outside every transaction).
type disablingSender struct {
	keptSender
	st    store.Store
	armed atomic.Bool
}

func (d *disablingSender) Send(ctx context.Context, m delivery.Message) error {
	if d.armed.Load() {
		if err := d.st.SetUserDisabled(ctx, m.User, true); err != nil {
			return err
		}
	}
	return d.keptSender.Send(ctx, m)
}

// TestResendDisabledMidSend settles P78's left-over: a code that reaches a user
// disabled between ResendActivation's read and the send activates nothing while they are
// disabled (the activation reads the user in its own unit), and is the code that works
// once they are enabled again; nothing else is left behind.
func TestResendDisabledMidSend(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		sender := &disablingSender{st: st}
		m, clk := newManagerSending(t, st, sender)
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "smsotp", Activation: lifecycle.ActivationPasscode,
			Params: raw(`{"phone":"+15550000001"}`)})
		if err != nil {
			t.Fatal(err)
		}
		first := sender.code(t)
		clk.Advance(61 * time.Second)
		sender.armed.Store(true)
		if _, err := m.ResendActivation(ctx, "test", "alice", en.Factor.ID); err != nil {
			t.Fatalf("resend whose user was disabled during the send: %v", err)
		}
		sender.armed.Store(false)
		code := sender.code(t)
		_, err = m.ActivateFactor(ctx, "test", "alice", en.Factor.ID, code)
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Code != "not_active" || !strings.Contains(le.Msg, "disabled") {
			t.Fatalf("the code that reached a user disabled meanwhile: %v, want 409 not_active (the user is disabled)", err)
		}
		if err := st.SetUserDisabled(ctx, "alice", false); err != nil {
			t.Fatal(err)
		}
		if code != first {
			if _, err := m.ActivateFactor(ctx, "test", "alice", en.Factor.ID, first); err == nil {
				t.Fatal("the code the resend replaced activated the factor")
			}
		}
		if f, err := m.ActivateFactor(ctx, "test", "alice", en.Factor.ID, code); err != nil || f.State != "active" {
			t.Errorf("the resent code once alice is enabled: %+v %v, want the factor active", f, err)
		}
	})
}
