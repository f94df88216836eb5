package lifecycle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// sameJSON reports whether a and b answer the same (the admin API's JSON).
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y)
}

// TestFactorChangeAnsweredAsWritten: an unlock or a resynchronisation of a factor
// that committed, and was recorded, is answered with the factor as it wrote it even when
// another replica deleted the factor, or its user, before it was read back (a locked factor
// answered unlocked, as it was written): it was answered 404 while its SUCCESS stood in the audit trail, and its caller took it for one not made.
func TestFactorChangeAnsweredAsWritten(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &afterUserChanges{Store: st}
		m, clk := newManager(t, hooked)
		other, _ := newManager(t, st)
		seed := []byte("12345678901234567890")
		secret, _ := json.Marshal(builtin.EncodeSecret(seed))
		code := func(c uint64) string { return builtin.HOTP(builtin.SHA1, seed, c, 6) }
		for _, c := range []struct {
			name   string
			change func(user, id string) (lifecycle.Factor, error)
		}{
			{"unlock", func(user, id string) (lifecycle.Factor, error) {
				return m.UnlockFactor(ctx, "test", user, id)
			}},
			{"resync", func(user, id string) (lifecycle.Factor, error) {
				f, next, err := m.ResyncFactor(ctx, "test", user, id, []string{code(500), code(501)})
				if err == nil && next != 502 {
					t.Errorf("resync: next %d, want 502", next)
				}
				return f, err
			}},
		} {
			for _, userGone := range []bool{false, true} {
				user := fmt.Sprintf("w-%s-%v", c.name, userGone)
				if _, err := other.CreateUser(ctx, "test", lifecycle.UserInput{Name: user}); err != nil {
					t.Fatal(err)
				}
				en, err := other.EnrollFactor(ctx, "test", user, lifecycle.Enrollment{Type: "hotp", Activation: lifecycle.ActivationImmediate,
					Params: map[string]json.RawMessage{"secret": secret, "counter": json.RawMessage("0")}})
				if err != nil {
					t.Fatal(err)
				}
				id := en.Factor.ID
				// Locked out: the change clears it, and its answer must say so.
				if _, err := st.RecordFailure(ctx, id, clk.Now(), 1, time.Hour); err != nil {
					t.Fatal(err)
				}
				var want lifecycle.Factor
				hooked.After = func() {
					var err error
					if want, err = other.GetFactor(ctx, user, id); err != nil {
						t.Error(err)
					}
					if userGone {
						err = other.DeleteUser(ctx, "test", user)
					} else {
						err = other.DeleteFactor(ctx, "test", user, id)
					}
					if err != nil {
						t.Error(err)
					}
				}
				got, err := c.change(user, id)
				if err != nil || got.ID != id || !sameJSON(t, got, want) {
					t.Errorf("%s, the factor deleted (with its user %v) after it committed: %+v, %v; want it as written, %+v", c.name, userGone, got, err, want)
				}
			}
		}
	})
}
