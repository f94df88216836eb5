package builtin_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestResentCodeWorksWhenTheCallerHungUp: a resend's code goes out to its end
// even when its caller hangs up meanwhile (a slow relay, the admin client's timeout, the
// browser's stop), and its going out cancels the code held before. The factor's params
// that name the new code were then written with the caller's context, canceled: they were
// not, and neither code activated, the one the person had just received answered as
// spent. They are written to their end now, as the send is, and the new code activates.
func TestResentCodeWorksWhenTheCallerHungUp(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		id := enrollAs(t, f, builtin.ActivationPasscode, "smsotp", "alice", "phone", "+15551230123").Factor.ID
		first := f.sms.last(t).Code

		ctx, cancel := context.WithCancel(context.Background())
		f.sms.mu.Lock()
		f.sms.hook = cancel // the caller hangs up while the code goes out
		f.sms.mu.Unlock()
		_, err := f.engine.ResendActivation(ctx, alice(t, f), id, nil)
		t.Logf("resend whose caller hung up: %v", err)
		f.sms.mu.Lock()
		f.sms.hook = nil
		f.sms.mu.Unlock()
		resent := f.sms.last(t).Code
		if resent == first {
			t.Fatal("no new code went out")
		}
		if _, err := f.engine.Activate(context.Background(), alice(t, f), id, resent, nil); err != nil {
			t.Fatalf("the code sent by a resend whose caller hung up: %v, want it to activate", err)
		}
	})
}
