package builtin_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// An app whose registration's 201 was lost sends it again, with the same code and key: it
// is answered the same device id and nothing is written again; the app was refused as a
// copied code before, its key the device's and its device id unknown to it. Another key,
// or the same key after an hour, is refused as before.
func TestRegistrationSentAgain(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		ctx := context.Background()
		reg := func(code, pub string) (string, error) {
			return f.devices.Register(ctx, provider.DeviceRegistration{ActivationCode: code, PublicKey: pub, Alg: builtin.AlgES256, Name: "Pixel"})
		}
		registerRows := func(id string) (ok, failed int) {
			t.Helper()
			all, err := st.ListAudit(ctx, store.AuditFilter{Username: "alice", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range all {
				if ev.Resource == builtin.ResourceDeviceRegister && ev.FactorID == id {
					if ev.Outcome == "SUCCESS" {
						ok++
					} else {
						failed++
					}
				}
			}
			return ok, failed
		}

		e := f.enroll(t, "alice")
		pub := newDevicePublicKey(t)
		id, err := reg(e.ActivationCode, pub)
		if err != nil || id != e.Factor.ID {
			t.Fatalf("register: %q, %v", id, err)
		}
		f.clock.Advance(59 * time.Minute)
		if again, err := reg(e.ActivationCode, pub); err != nil || again != id {
			t.Fatalf("the same registration sent again: %q, %v; want %q", again, err, id)
		}
		if ok, failed := registerRows(id); ok != 1 || failed != 0 {
			t.Errorf("audit rows after the registration sent again: %d SUCCESS, %d FAILED; want 1, 0", ok, failed)
		}
		if _, err := reg(e.ActivationCode, newDevicePublicKey(t)); !errors.Is(err, provider.ErrActivation) {
			t.Errorf("the code with another key: %v, want it refused", err)
		}
		f.clock.Advance(time.Minute)
		if _, err := reg(e.ActivationCode, pub); !errors.Is(err, provider.ErrActivation) {
			t.Errorf("the same registration an hour later: %v, want it refused", err)
		}

		// Sent twice at once: both are answered the device id, one registration recorded.
		e = f.enroll(t, "alice")
		pub = newDevicePublicKey(t)
		var wg sync.WaitGroup
		ids := make([]string, 4)
		errs := make([]error, 4)
		for i := range ids {
			wg.Go(func() { ids[i], errs[i] = reg(e.ActivationCode, pub) })
		}
		wg.Wait()
		for i := range ids {
			if errs[i] != nil || ids[i] != e.Factor.ID {
				t.Errorf("concurrent registration %d: %q, %v; want %q", i, ids[i], errs[i], e.Factor.ID)
			}
		}
		if ok, failed := registerRows(e.Factor.ID); ok != 1 || failed != 0 {
			t.Errorf("audit rows after concurrent registrations: %d SUCCESS, %d FAILED; want 1, 0", ok, failed)
		}
		if f, err := st.GetFactor(ctx, e.Factor.ID); err != nil || f.State != store.FactorActive || !slices.Contains([]string{pub}, f.Params["publicKey"]) {
			t.Errorf("factor after concurrent registrations: %+v, %v", f, err)
		}
	})
}
