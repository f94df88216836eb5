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

// TestDeviceNameBidi: a device's name is chosen by the app that holds the
// activation code and becomes the deviceName Verify shows at sign-in, the label on the
// self-service page and in the admin API. It refused control characters but took the
// bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and its kin), which reorder what
// is shown: "Pixel\u202Eenohp s'ecila" reads as another device's name. They are refused now
// (400), without spending the code; a name in a right-to-left script, or with an emoji
// joined by U+200D, is still taken.
func TestDeviceNameBidi(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newPushFixture(t, st, false)
		code := f.enroll(t, "alice").ActivationCode
		key, _ := builtin.GenerateDeviceKey(builtin.AlgEd25519)
		pub, _ := builtin.EncodePublicKey(key)
		reg := func(name string) (string, error) {
			return f.devices.Register(ctx, provider.DeviceRegistration{ActivationCode: code, PublicKey: pub, Alg: builtin.AlgEd25519, Name: name})
		}
		for _, name := range []string{
			"Pixel\u202Eenohp s'ecila", // RLO
			"Pixel\u202Dx",             // LRO
			"\u202Bphone\u202C",        // RLE, PDF
			"phone\u2067x\u2069",       // RLI, PDI
			"phone\u200F",              // RLM
			"phone\u061C",              // ALM
			"bad \xff utf-8",
		} {
			if id, err := reg(name); !errors.Is(err, provider.ErrInvalidDeviceRequest) {
				t.Errorf("name %q: %q %v, want ErrInvalidDeviceRequest", name, id, err)
			}
		}
		// The code was not spent: a name in a right-to-left script, and one with an emoji
		// sequence, register.
		id, err := reg("هاتف أحمد 👩\u200d💻")
		if err != nil {
			t.Fatalf("a right-to-left name with an emoji sequence: %v", err)
		}
		fac, err := st.GetFactor(ctx, id)
		if err != nil || fac.Label != "هاتف أحمد 👩\u200d💻" {
			t.Errorf("registered device: %+v %v", fac, err)
		}
	})
}
