package lifecycle_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestResyncDisabled: resynchronising an HOTP token whose factor, or whose
// user, is disabled is refused as not active (409 not_active), saying what to do, and the
// refusal is in the audit trail as every resync attempt is. Before, the store's refusal
// of the counter came back as it was, a fault ("sqlite: advance counter of …: factor or
// user no longer active"), which the admin API answers 500, and nothing was recorded.
func TestResyncDisabled(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		seed := []byte("12345678901234567890")
		code := func(c uint64) string { return builtin.HOTP(builtin.SHA1, seed, c, 6) }
		enroll := func(user string) string {
			if _, err := m.CreateUser(ctx, "idm", lifecycle.UserInput{Name: user}); err != nil {
				t.Fatal(err)
			}
			secret, _ := json.Marshal(builtin.EncodeSecret(seed))
			en, err := m.EnrollFactor(ctx, "idm", user, lifecycle.Enrollment{Type: "hotp", Activation: lifecycle.ActivationImmediate,
				Params: map[string]json.RawMessage{"secret": secret, "counter": json.RawMessage("0")}})
			if err != nil {
				t.Fatal(err)
			}
			return en.Factor.ID
		}
		alice, bob := enroll("alice"), enroll("bob")
		if _, err := m.SetFactorState(ctx, "idm", "alice", alice, true); err != nil {
			t.Fatal(err)
		}
		if _, err := m.SetUserState(ctx, "idm", "bob", true); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ user, id string }{{"alice", alice}, {"bob", bob}} {
			_, _, err := m.ResyncFactor(ctx, "idm", c.user, c.id, []string{code(500), code(501)})
			var le *lifecycle.Error
			if !errors.As(err, &le) || le.Kind != lifecycle.Conflict || le.Code != "not_active" || !strings.Contains(le.Msg, "disabled") {
				t.Errorf("%s: resync of a disabled factor or user: %v; want 409 not_active", c.user, err)
			}
			evs, err := st.ListAudit(ctx, store.AuditFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(evs, func(ev store.AuditEvent) bool {
				return ev.Resource == "admin."+lifecycle.ActionFactorsResync && ev.FactorID == c.id && ev.Outcome == "FAILED"
			}) {
				t.Errorf("%s: no FAILED resync record", c.user)
			}
		}
		// Enabled again, the same codes resynchronise the token.
		if _, err := m.SetFactorState(ctx, "idm", "alice", alice, false); err != nil {
			t.Fatal(err)
		}
		if _, next, err := m.ResyncFactor(ctx, "idm", "alice", alice, []string{code(500), code(501)}); err != nil || next != 502 {
			t.Errorf("resync once enabled: %d, %v", next, err)
		}
	})
}
