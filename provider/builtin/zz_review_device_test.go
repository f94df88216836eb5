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
func TestReviewRefusedRegistrationAudited(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		ctx := context.Background()
		key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
		pub, _ := builtin.EncodePublicKey(key)
		reg := func(code string) error {
			_, err := f.devices.Register(ctx, provider.DeviceRegistration{ActivationCode: code, PublicKey: pub, Alg: builtin.AlgES256})
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
