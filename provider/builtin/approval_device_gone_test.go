package builtin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestApprovalAfterDeviceGone: a device authenticated as its factor was deleted (an
// admin's DELETE, a reset: the factor no longer trusted) or disabled between its
// signature's check and its answer does not sign the user in: the challenge ends FAILED,
// as it does for a user disabled meanwhile, and Verify's poll answers FAILED.
func TestApprovalAfterDeviceGone(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newPushFixture(t, st, false)
		for _, how := range []string{"delete", "disable"} {
			d := f.register(t, "alice", builtin.AlgES256)
			ch := f.initiate(t, "alice", d.id).TransactionID
			if err := f.devices.Authenticate(ctx, f.signed(t, d, "POST", "/v1/devices/challenges/"+ch, []byte(`{"decision":"approve"}`))); err != nil {
				t.Fatal(err)
			}
			var err error
			if how == "delete" {
				err = st.DeleteFactor(ctx, d.id)
			} else {
				errs := st.(interface {
					ApplyUserChanges(context.Context, []store.UserChange) []error
				}).ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", Now: f.clock.Now(),
					StateChanges: []store.FactorStateChange{{ID: d.id, State: store.FactorDisabled}}}})
				err = errors.Join(errs...)
			}
			if err != nil {
				t.Fatal(how, err)
			}
			if got, err := f.answer(d, ch, provider.Approve, nil); err == nil && got == provider.StatusSuccess {
				t.Errorf("%s: approval by a device gone since its signature was checked: %s", how, got)
			}
			out, err := f.engine.Result(ctx, provider.Request{Capability: "push", ID: d.id, Username: "alice", TransactionID: ch})
			if err != nil || out.Status == provider.StatusSuccess {
				t.Errorf("%s: Verify's poll: %+v %v, want no SUCCESS", how, out, err)
			}
		}
	})
}
