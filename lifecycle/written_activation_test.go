package lifecycle_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestActivationAnsweredAsWritten: an activation that committed, and was recorded, is
// answered with the factor as it wrote it (active, its failures cleared, as a read just
// after its commit shows) even when another replica deleted the factor, or its user,
// between that commit and the read back. It was answered 404 while its SUCCESS stood in
// the audit trail (74173812, found only by the random TestTransitionRaces). A wrong code
// first leaves a failure for the activation to clear.
func TestActivationAnsweredAsWritten(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &afterUserChanges{Store: st}
		sender := &keptSender{}
		m, clk := newManagerSending(t, hooked, sender)
		other, _ := newManager(t, st)
		for _, typ := range []string{"smsotp", "totp"} {
			for _, gone := range []string{"", "factor", "user"} {
				user := fmt.Sprintf("a-%s-%s", typ, gone)
				if _, err := other.CreateUser(ctx, "test", lifecycle.UserInput{Name: user}); err != nil {
					t.Fatal(err)
				}
				in := lifecycle.Enrollment{Type: typ, Activation: lifecycle.ActivationPasscode}
				if typ == "smsotp" {
					in.Params = raw(`{"phone":"+15550000001"}`)
				}
				en, err := m.EnrollFactor(ctx, "test", user, in)
				if err != nil {
					t.Fatal(err)
				}
				id := en.Factor.ID
				code := func() string {
					if typ == "smsotp" {
						return sender.code(t)
					}
					seed, err := builtin.DecodeSecret(en.Output["secret"].(string))
					if err != nil {
						t.Fatal(err)
					}
					return builtin.HOTP(builtin.SHA1, seed, uint64(builtin.TOTPStep(clk.Now().Unix(), 30)), 6)
				}()
				n, _ := strconv.Atoi(code)
				wrong := fmt.Sprintf("%06d", (n+1)%1000000)
				if _, err := m.ActivateFactor(ctx, "test", user, id, wrong); err == nil {
					t.Fatalf("%s: a wrong code activated", typ)
				}
				clk.Advance(time.Second + 300*time.Microsecond)
				var want lifecycle.Factor
				hooked.After = func() {
					var err error
					if want, err = other.GetFactor(ctx, user, id); err != nil {
						t.Error(err)
					}
					switch gone {
					case "factor":
						err = other.DeleteFactor(ctx, "test", user, id)
					case "user":
						err = other.DeleteUser(ctx, "test", user)
					}
					if err != nil {
						t.Error(err)
					}
				}
				got, err := m.ActivateFactor(ctx, "test", user, id, code)
				if hooked.After != nil {
					t.Fatalf("%s: the activation committed no unit", typ)
				}
				if want.State != lifecycle.FactorActive || want.Failures != 0 {
					t.Fatalf("%s: read just after the activation's commit: %+v; want it active, no failures", typ, want)
				}
				if gone != "" {
					if _, err := other.GetFactor(ctx, user, id); err == nil {
						t.Fatalf("%s: the %s was not deleted", typ, gone)
					}
				}
				if err != nil || got.ID != id || !sameJSON(t, got, want) {
					t.Errorf("%s activated, then its %s deleted before the read back: %+v, %v; want it as written, %+v", typ, gone, got, err, want)
				}
			}
		}
	})
}
