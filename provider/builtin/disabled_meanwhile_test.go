package builtin_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// beforeUpdate is a store whose next unit first runs before (once): another process's
// write committed after the caller's reads and before its unit, without timing.
type beforeUpdate struct {
	store.Store
	before func()
}

func (s *beforeUpdate) Update(ctx context.Context, fn func(w store.Writer) error) error {
	if f := s.before; f != nil {
		s.before = nil
		f()
	}
	return s.Store.Update(ctx, fn)
}

// TestApprovalRacingDeviceGone: a device's factor deleted or disabled, or its user
// disabled, in a commit between Answer's reads (the user, the factor) and its approval's
// unit does not sign the user in: the approval's write holds only while the factor is
// active and the user enabled, and the challenge ends FAILED; Verify's poll answers no
// SUCCESS.
func TestApprovalRacingDeviceGone(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &beforeUpdate{Store: st}
		f := newPushFixture(t, hooked, false)
		for _, how := range []string{"delete", "disable", "user disabled", "user deleted"} {
			user := "alice"
			if how == "user deleted" {
				user = "bob"
			}
			d := f.register(t, user, builtin.AlgES256)
			ch := f.initiate(t, user, d.id).TransactionID
			if err := f.devices.Authenticate(ctx, f.signed(t, d, "POST", "/v1/devices/challenges/"+ch, []byte(`{"decision":"approve"}`))); err != nil {
				t.Fatal(err)
			}
			hooked.before = func() {
				var err error
				switch how {
				case "delete":
					err = st.DeleteFactor(ctx, d.id)
				case "disable":
					err = st.SetFactorState(ctx, d.id, store.FactorDisabled, f.clock.Now())
				case "user disabled":
					err = st.SetUserDisabled(ctx, user, true)
				case "user deleted":
					err = st.DeleteUser(ctx, user)
				}
				if err != nil {
					t.Error(how, err)
				}
			}
			got, err := f.answer(d, ch, provider.Approve, nil)
			if hooked.before != nil {
				t.Fatalf("%s: the answer ran no unit", how)
			}
			if err != nil || got != provider.StatusFailed {
				t.Errorf("%s: approval by a device gone in a commit before its unit's: %s %v, want FAILED", how, got, err)
			}
			out, err := f.engine.Result(ctx, provider.Request{Capability: "push", ID: d.id, Username: user, TransactionID: ch})
			if err != nil || out.Status == provider.StatusSuccess {
				t.Errorf("%s: Verify's poll: %+v %v, want no SUCCESS", how, out, err)
			}
			if how == "user disabled" {
				if err := st.SetUserDisabled(ctx, user, false); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// TestTOTPRacingDisable: a TOTP factor disabled, or its user disabled, in a commit
// between Validate's read of them and its counter's unit does not sign the user in: the
// compare-and-set that claims the code holds only while the factor is usable and its user
// enabled. A delete already failed it (no row to advance).
func TestTOTPRacingDisable(t *testing.T) {
	for _, how := range []string{"factor disabled", "user disabled", "factor deleted"} {
		t.Run(how, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				hooked := &beforeUpdate{Store: st}
				f := newFixture(t, hooked)
				hooked.before = func() {
					var err error
					switch how {
					case "factor disabled":
						err = st.SetFactorState(ctx, f.factor, store.FactorDisabled, f.clock.Now())
					case "user disabled":
						err = st.SetUserDisabled(ctx, "alice", true)
					case "factor deleted":
						err = st.DeleteFactor(ctx, f.factor)
					}
					if err != nil {
						t.Error(how, err)
					}
				}
				out, err := f.engine.Validate(ctx, provider.Request{Capability: "totp", ID: f.factor, Username: "alice", Passvalue: f.code(0)})
				if hooked.before != nil {
					t.Fatal("the validate ran no unit")
				}
				if err == nil && out.Status == provider.StatusSuccess {
					t.Errorf("%s in a commit before the validate's unit: %+v, want no SUCCESS", how, out)
				}
			})
		})
	}
}

// TestCodeRacingDisable: an SMS code's factor disabled, or its user disabled, in a
// commit between Validate's read of them and its deciding unit does not sign the user
// in: the statement that clears the factor's failures for the success
// (ClearFailuresUnlocked) holds only while the factor is usable and its user enabled.
func TestCodeRacingDisable(t *testing.T) {
	for _, how := range []string{"factor disabled", "user disabled", "factor deleted"} {
		t.Run(how, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				hooked := &beforeUpdate{Store: st}
				f := newEngineFixture(t, hooked, nil)
				id := f.enrollSMS(t, "alice", "+15551230123")
				txid := f.initiate(t, "alice", "smsotp", id).TransactionID
				code := f.sms.last(t).Code
				hooked.before = func() {
					var err error
					switch how {
					case "factor disabled":
						err = st.SetFactorState(ctx, id, store.FactorDisabled, f.clock.Now())
					case "user disabled":
						err = st.SetUserDisabled(ctx, "alice", true)
					case "factor deleted":
						err = st.DeleteFactor(ctx, id)
					}
					if err != nil {
						t.Error(how, err)
					}
				}
				out, err := f.engine.Validate(ctx, provider.Request{Capability: "smsotp", ID: id, Username: "alice", TransactionID: txid, Passvalue: code})
				if hooked.before != nil {
					t.Fatal("the validate ran no unit")
				}
				if err == nil && out.Status == provider.StatusSuccess {
					t.Errorf("%s in a commit before the validate's unit: %+v, want no SUCCESS", how, out)
				}
			})
		})
	}
}
