package builtin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestRegisterAfterDelete: a device registering with the code of a push factor
// deleted while it waited (admin DELETE, a reset) is refused, and nothing comes back.
func TestRegisterAfterDelete(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newPushFixture(t, st, false)
		key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
		pub, _ := builtin.EncodePublicKey(key)
		for _, how := range []string{"delete", "reset"} {
			e := f.enroll(t, "alice")
			var err error
			if how == "delete" {
				err = st.DeleteFactor(ctx, e.Factor.ID)
			} else {
				errs := st.(interface {
					ApplyUserChanges(context.Context, []store.UserChange) []error
				}).ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", Now: f.clock.Now(), DeleteFactors: []string{e.Factor.ID}, Reset: &store.FactorReset{}}})
				err = errors.Join(errs...)
			}
			if err != nil {
				t.Fatal(how, err)
			}
			id, err := f.devices.Register(ctx, provider.DeviceRegistration{ActivationCode: e.ActivationCode, PublicKey: pub, Alg: builtin.AlgES256})
			if !errors.Is(err, provider.ErrActivation) || id != "" {
				t.Errorf("%s: registration after the factor went: %q %v, want refused", how, id, err)
			}
			if got, err := st.GetFactor(ctx, e.Factor.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: factor after the refused registration: %+v %v", how, got, err)
			}
			f.clock.Advance(2 * time.Minute)
		}
	})
}

// TestAnswerEdges: a replayed signed call is refused, a device cannot answer
// another device's challenge (which stays pending), and an answer after the deadline
// ends the challenge TIMEOUT, not SUCCESS.
func TestAnswerEdges(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newPushFixture(t, st, false)
		alice := f.register(t, "alice", builtin.AlgES256)
		bob := f.register(t, "bob", builtin.AlgEd25519)
		req := f.signed(t, alice, "POST", "/v1/devices/challenges/x", []byte(`{"decision":"approve"}`))
		if err := f.devices.Authenticate(ctx, req); err != nil {
			t.Fatal(err)
		}
		if err := f.devices.Authenticate(ctx, req); !errors.Is(err, provider.ErrDeviceAuth) {
			t.Errorf("replayed call: %v, want refused", err)
		}
		ch := f.initiate(t, "alice", alice.id).TransactionID
		if _, err := f.answer(bob, ch, provider.Approve, nil); !errors.Is(err, provider.ErrNoChallenge) {
			t.Errorf("bob answering alice's challenge: %v", err)
		}
		if got := f.result(t, "alice", alice.id, ch); got != provider.StatusPending {
			t.Errorf("alice's challenge after bob's answer: %s", got)
		}
		f.clock.Advance(2 * time.Minute)
		if got, err := f.answer(alice, ch, provider.Approve, nil); !errors.Is(err, provider.ErrChallengeClosed) || got == provider.StatusSuccess {
			t.Errorf("approval at the deadline: %s %v", got, err)
		}
		if got := f.result(t, "alice", alice.id, ch); got != provider.StatusTimeout {
			t.Errorf("result after a late approval: %s, want TIMEOUT", got)
		}
	})
}
