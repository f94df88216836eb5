package lifecycle_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// A rename that reads a pending factor, then writes its label after the factor was
// activated, must not write back the params it read: the activation's own (the mode
// gone) stay, and the factor, once disabled, can be enabled again.
func TestRenameDoesNotUndoActivation(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &testdb.BeforeUserChanges{Store: st}
		m, clk := newManager(t, hooked)
		other, _ := newManager(t, st) // another replica
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp"})
		if err != nil {
			t.Fatal(err)
		}
		id := en.Factor.ID
		code := codeOf(t, en, clk.Now())
		hooked.Before = func() {
			if f, err := other.ActivateFactor(ctx, "test", "alice", id, code); err != nil || f.State != lifecycle.FactorActive {
				t.Fatalf("activation between the rename's read and write: %+v %v", f, err)
			}
		}
		if _, err := m.RenameFactor(ctx, "test", "alice", id, "work phone"); err != nil {
			t.Fatal(err)
		}
		f, err := st.GetFactor(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if f.State != store.FactorActive || f.Label != "work phone" {
			t.Fatalf("after the rename: state %s label %q", f.State, f.Label)
		}
		if _, ok := f.Params["activation"]; ok {
			t.Errorf("the rename wrote back the activation the factor has done: params %v", f.Params)
		}
		if _, err := m.SetFactorState(ctx, "test", "alice", id, true); err != nil {
			t.Fatal(err)
		}
		if _, err := m.SetFactorState(ctx, "test", "alice", id, false); err != nil {
			t.Errorf("an activated factor, renamed, then disabled, cannot be enabled again: %v", err)
		}
	})
}

// A rename of a push device that registers between the rename's read and its write
// must not drop the key the registration stored: the device active without its key
// could approve nothing.
func TestRenameKeepsRegisteredDeviceKey(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &testdb.BeforeUserChanges{Store: st}
		m, clk := newManager(t, hooked)
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "push"})
		if err != nil {
			t.Fatal(err)
		}
		id := en.Factor.ID
		code, _ := en.Output["activationCode"].(string)
		if code == "" {
			t.Fatalf("no activation code in %v", en.Output)
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := builtin.EncodePublicKey(key)
		if err != nil {
			t.Fatal(err)
		}
		devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		hooked.Before = func() {
			if _, err := devices.Register(ctx, provider.DeviceRegistration{ActivationCode: code, PublicKey: pub, Alg: builtin.AlgES256}); err != nil {
				t.Fatalf("registration between the rename's read and write: %v", err)
			}
		}
		if _, err := m.RenameFactor(ctx, "test", "alice", id, "my phone"); err != nil {
			t.Fatal(err)
		}
		f, err := st.GetFactor(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if f.State != store.FactorActive || f.Params["publicKey"] != pub || f.Label != "my phone" {
			t.Errorf("after the registration and rename: state %s label %q params %v, want active with its key", f.State, f.Label, f.Params)
		}
	})
}
