package lifecycle_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// A reset in disable mode that read a factor pending, then commits after the factor was
// activated (its owner typing the code on another replica), disables the factor: it is
// no longer one that never proved itself. The reset deleted it, as if still pending.
func TestResetDisableKeepsFactorActivatedMeanwhile(t *testing.T) {
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
		still, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp"})
		if err != nil {
			t.Fatal(err)
		}
		id := en.Factor.ID
		code := codeOf(t, en, clk.Now())
		hooked.Before = func() {
			if f, err := other.ActivateFactor(ctx, "test", "alice", id, code); err != nil || f.State != lifecycle.FactorActive {
				t.Fatalf("activation between the reset's read and write: %+v %v", f, err)
			}
		}
		if _, err := m.ResetUser(ctx, "test", "alice", lifecycle.ResetDisable); err != nil {
			t.Fatal(err)
		}
		f, err := st.GetFactor(ctx, id)
		if err != nil || f.State != store.FactorDisabled {
			t.Errorf("the factor activated meanwhile is %+v %v, want disabled", f, err)
		}
		if _, err := st.GetFactor(ctx, still.Factor.ID); err == nil {
			t.Errorf("the factor still pending was not deleted")
		}
	})
}
