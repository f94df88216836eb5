package lifecycle_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// afterUserChanges is a store whose next write (a batch of user changes, or an Update:
// an unlock's, a resync's) runs After (once) once it committed: another replica's change
// between a write and its caller's read back.
type afterUserChanges struct {
	store.Store
	After func()
}

func (s *afterUserChanges) ApplyUserChanges(ctx context.Context, cs []store.UserChange) []error {
	errs := s.Store.ApplyUserChanges(ctx, cs)
	s.after()
	return errs
}

func (s *afterUserChanges) Update(ctx context.Context, fn func(w store.Writer) error) error {
	err := s.Store.Update(ctx, fn)
	s.after()
	return err
}

func (s *afterUserChanges) after() {
	if f := s.After; f != nil {
		s.After = nil
		f()
	}
}

// TestChangeAnsweredAsWritten: a rename or a state change that committed, and was
// recorded, is answered as written even when a delete on another replica took the factor
// before it was read back. It was answered 404 "no factor" while its SUCCESS stood in the
// audit trail (found by TestTransitionRaces under CI's race detector).
func TestChangeAnsweredAsWritten(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &afterUserChanges{Store: st}
		m, _ := newManager(t, hooked)
		other, _ := newManager(t, st)
		for _, c := range []struct {
			name   string
			change func(user, id string) (lifecycle.Factor, error)
			check  func(f lifecycle.Factor) bool
		}{
			{"rename", func(user, id string) (lifecycle.Factor, error) {
				return m.RenameFactor(ctx, "test", user, id, "renamed")
			}, func(f lifecycle.Factor) bool { return f.Label == "renamed" }},
			{"disable", func(user, id string) (lifecycle.Factor, error) {
				return m.SetFactorState(ctx, "test", user, id, true)
			}, func(f lifecycle.Factor) bool { return f.State == lifecycle.FactorDisabled }},
		} {
			user := "w-" + c.name
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: user}); err != nil {
				t.Fatal(err)
			}
			en, err := m.EnrollFactor(ctx, "test", user, lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationImmediate})
			if err != nil {
				t.Fatal(err)
			}
			id := en.Factor.ID
			hooked.After = func() {
				if err := other.DeleteFactor(ctx, "test", user, id); err != nil {
					t.Error(err)
				}
			}
			f, err := c.change(user, id)
			if err != nil || f.ID != id || !c.check(f) {
				t.Errorf("%s, the factor deleted after it committed: %+v, %v; want the factor as written", c.name, f, err)
			}
		}
	})
}
