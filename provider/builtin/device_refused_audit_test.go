package builtin_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// A registration with a code that is known but cannot be used (spent, expired, its user
// disabled) is a sign the code or its QR code was copied: it reaches the user's audit
// trail, under the code's factor, FAILED with why and never the code, at most one row per
// factor a minute so that a script cannot fill the trail. An unknown code has no user to
// file it under and stays in the log.
func TestRefusedRegistrationAudited(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		ctx := context.Background()
		// Each attempt with a key of its own: the same registration sent again, key and
		// all, is answered (TestRegistrationSentAgain).
		reg := func(code string) error {
			_, err := f.devices.Register(ctx, provider.DeviceRegistration{ActivationCode: code, PublicKey: newDevicePublicKey(t), Alg: builtin.AlgES256})
			return err
		}
		refusals := func(id string) []store.AuditEvent {
			t.Helper()
			all, err := st.ListAudit(ctx, store.AuditFilter{Username: "alice", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			return slices.DeleteFunc(all, func(ev store.AuditEvent) bool {
				return ev.Resource != builtin.ResourceDeviceRegister || ev.FactorID != id || ev.Outcome != "FAILED"
			})
		}
		check := func(t *testing.T, code, id, reason string, want int) {
			t.Helper()
			evs := refusals(id)
			if len(evs) != want {
				t.Fatalf("%d refusal rows of factor %s, want %d: %+v", len(evs), id, want, evs)
			}
			for _, ev := range evs {
				if ev.Username != "alice" || ev.Capability != "push" || ev.Reason != reason {
					t.Errorf("refusal row: %+v, want reason %q", ev, reason)
				}
				if strings.Contains(strings.ToLower(ev.Reason), strings.ToLower(code)) {
					t.Errorf("refusal row names the code: %+v", ev)
				}
			}
		}

		t.Run("used", func(t *testing.T) {
			e := f.enroll(t, "alice")
			if err := reg(e.ActivationCode); err != nil {
				t.Fatal(err)
			}
			for range 5 { // a script trying the photographed code again
				if err := reg(e.ActivationCode); !errors.Is(err, provider.ErrActivation) {
					t.Fatalf("second use: %v", err)
				}
			}
			check(t, e.ActivationCode, e.Factor.ID, "activation code already used", 1)
			f.clock.Advance(time.Minute)
			if err := reg(e.ActivationCode); !errors.Is(err, provider.ErrActivation) {
				t.Fatalf("use a minute later: %v", err)
			}
			check(t, e.ActivationCode, e.Factor.ID, "activation code already used", 2)
		})

		t.Run("expired", func(t *testing.T) {
			e := f.enroll(t, "alice")
			f.clock.Advance(e.ExpiresAt.Sub(f.clock.Now()) + time.Second)
			for range 3 {
				if err := reg(e.ActivationCode); !errors.Is(err, provider.ErrActivation) {
					t.Fatalf("expired code: %v", err)
				}
			}
			check(t, e.ActivationCode, e.Factor.ID, "activation code expired", 1)
		})

		t.Run("user disabled", func(t *testing.T) {
			e := f.enroll(t, "alice")
			if err := st.SetUserDisabled(ctx, "alice", true); err != nil {
				t.Fatal(err)
			}
			defer st.SetUserDisabled(ctx, "alice", false)
			if err := reg(e.ActivationCode); !errors.Is(err, provider.ErrActivation) {
				t.Fatalf("disabled user: %v", err)
			}
			check(t, e.ActivationCode, e.Factor.ID, "user disabled", 1)
		})

		t.Run("unknown", func(t *testing.T) {
			before, _ := st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
			if err := reg("nosuchcode"); !errors.Is(err, provider.ErrActivation) {
				t.Fatalf("unknown code: %v", err)
			}
			if after, _ := st.ListAudit(ctx, store.AuditFilter{Limit: 1000}); len(after) != len(before) {
				t.Errorf("an unknown code was recorded: %+v", after[0])
			}
		})
	})
}

// racingStore lets another registration with the same code win just before the unit
// that spends it runs: the concurrent loser of a copied code.
type racingStore struct {
	store.Store
	first func()
}

func (s racingStore) Update(ctx context.Context, fn func(store.Writer) error) error {
	if s.first != nil {
		s.first()
	}
	return s.Store.Update(ctx, fn)
}

// The refusals the registration's unit finds (the code spent concurrently, the device
// deleted while its code was out, the self-service link it came with spent or replaced)
// are recorded like those found before it: a pending device an administrator deleted
// because its QR code was photographed is exactly the one a thief then registers.
func TestRefusedInTheUnitAudited(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		ctx := context.Background()
		key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
		pub, _ := builtin.EncodePublicKey(key)
		regKey := func(d *builtin.Devices, code, pub string) error {
			_, err := d.Register(ctx, provider.DeviceRegistration{ActivationCode: code, PublicKey: pub, Alg: builtin.AlgES256})
			return err
		}
		reg := func(d *builtin.Devices, code string) error { return regKey(d, code, pub) }
		refused := func(t *testing.T, id, reason string) {
			t.Helper()
			evs := slices.DeleteFunc(registrations(t, st, id), func(ev store.AuditEvent) bool { return ev.Outcome != "FAILED" })
			if len(evs) != 1 || evs[0].Username != "alice" || evs[0].Capability != "push" || evs[0].Reason != reason {
				t.Errorf("refusal rows of %s: %+v, want one with %q", id, evs, reason)
			}
		}

		t.Run("deleted", func(t *testing.T) {
			e := f.enroll(t, "alice")
			if err := st.DeleteFactor(ctx, e.Factor.ID); err != nil {
				t.Fatal(err)
			}
			if err := reg(f.devices, e.ActivationCode); !errors.Is(err, provider.ErrActivation) {
				t.Fatalf("code of a deleted device: %v", err)
			}
			refused(t, e.Factor.ID, "device deleted or no longer pending")
		})

		t.Run("concurrent", func(t *testing.T) {
			e := f.enroll(t, "alice")
			winner := f.devices
			loser, err := builtin.NewDevices(builtin.DevicesOptions{Store: racingStore{Store: st, first: func() {
				// another phone: the same key would be the same registration, answered
				if err := regKey(winner, e.ActivationCode, newDevicePublicKey(t)); err != nil {
					t.Errorf("winner: %v", err)
				}
			}}, Now: f.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			if err := reg(loser, e.ActivationCode); !errors.Is(err, provider.ErrActivation) {
				t.Fatalf("concurrent loser: %v", err)
			}
			refused(t, e.Factor.ID, "activation code already used")
		})

		t.Run("link spent", func(t *testing.T) {
			en, err := f.engine.Enroll(ctx, builtin.Enrollment{Type: builtin.TypePush, User: "alice", Link: "no-such-link"})
			if err != nil {
				t.Fatal(err)
			}
			code, _ := en.Output["activationCode"].(string)
			if err := reg(f.devices, code); !errors.Is(err, provider.ErrActivation) {
				t.Fatalf("code of a spent link: %v", err)
			}
			refused(t, en.Factor.ID, "activation link used or replaced")
		})
	})
}
