package lifecycle_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestResetMeanwhile: a reset whose user's factors changed between its read and
// its write (another replica's admin deleting one, or enrolling one) answers and records
// what it did at its commit: a factor deleted meanwhile is not counted as reset by it, and
// a factor enrolled before its commit is reset with the others. The reset answered
// {"reset": 1} and recorded "delete 1 factor(s)" for a factor another call had deleted,
// and left a factor enrolled a moment before its commit active after a reset that said
// every factor was gone.
func TestResetMeanwhile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   string
		enroll bool // a factor is enrolled meanwhile too
	}{{"delete", lifecycle.ResetDelete, false}, {"disable", lifecycle.ResetDisable, false},
		{"delete+enroll", lifecycle.ResetDelete, true}, {"disable+enroll", lifecycle.ResetDisable, true}} {
		t.Run(tc.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				hooked := &testdb.BeforeUserChanges{Store: st}
				m, _ := newManager(t, hooked)
				other, _ := newManager(t, st) // another replica
				addAlice(t, m)
				en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationImmediate})
				if err != nil {
					t.Fatal(err)
				}
				var late lifecycle.Enrolled
				hooked.Before = func() {
					if err := other.DeleteFactor(ctx, "test", "alice", en.Factor.ID); err != nil {
						t.Fatalf("delete between the reset's read and write: %v", err)
					}
					if !tc.enroll {
						return
					}
					if late, err = other.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationImmediate}); err != nil {
						t.Fatalf("enroll between the reset's read and write: %v", err)
					}
				}
				n, err := m.ResetUser(ctx, "test", "alice", tc.mode)
				if err != nil {
					t.Fatal(err)
				}
				want := 0
				if tc.enroll {
					want = 1
				}
				if n != want {
					t.Errorf("reset answered %d factors, want %d (the one enrolled before its commit, if any; the other was deleted by another call)", n, want)
				}
				reason := fmt.Sprintf("%s %d factor(s)", tc.mode, want)
				page := auditOf(t, m, "admin.users.reset")
				if len(page.Events) != 1 || page.Events[0].Reason != reason {
					t.Errorf("reset records: %+v, want one %q", page.Events, reason)
				}
				if !tc.enroll {
					return
				}
				f, err := st.GetFactor(ctx, late.Factor.ID)
				switch tc.mode {
				case lifecycle.ResetDelete:
					if err == nil {
						t.Errorf("the factor enrolled before the reset's commit is still there: %+v", f.State)
					}
				case lifecycle.ResetDisable:
					if err != nil || f.State != store.FactorDisabled {
						t.Errorf("the factor enrolled before the reset's commit is %v %v, want disabled", f.State, err)
					}
				}
			})
		})
	}
}
