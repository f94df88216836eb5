package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// A reset whose user lost one of its factors between the reset's read and its write (the
// sweeper expiring a pending one, on another replica) still resets the rest: the factor
// gone is reset already. It failed whole instead, answered 404 "user not found" though
// the user exists, and a directory's reset (sync) was skipped for good, leaving the
// factors it was meant to remove.
func TestResetSurvivesFactorGoneMeanwhile(t *testing.T) {
	for _, mode := range []string{lifecycle.ResetDelete, lifecycle.ResetDisable} {
		t.Run(mode, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				hooked := &testdb.BeforeUserChanges{Store: st}
				m, _ := newManager(t, hooked)
				sweeper, sclk := newManager(t, st) // another replica's sweeper
				addAlice(t, m)
				active, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationImmediate})
				if err != nil {
					t.Fatal(err)
				}
				pending, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp"})
				if err != nil {
					t.Fatal(err)
				}
				hooked.Before = func() {
					sclk.Advance(lifecycle.DefaultActivationLifetime + time.Minute)
					if n, err := sweeper.SweepPending(ctx); err != nil || n != 1 {
						t.Fatalf("sweep between the reset's read and write: %d %v", n, err)
					}
				}
				n, err := m.ResetUser(ctx, "test", "alice", mode)
				if err != nil {
					t.Fatalf("reset with a factor gone meanwhile: %v", err)
				}
				if _, err := st.GetFactor(ctx, pending.Factor.ID); err == nil {
					t.Errorf("the pending factor is still there")
				}
				f, err := st.GetFactor(ctx, active.Factor.ID)
				switch mode {
				case lifecycle.ResetDelete:
					if err == nil {
						t.Errorf("reset %d factors, and left the active one: %+v", n, f)
					}
				case lifecycle.ResetDisable:
					if err != nil || f.State != store.FactorDisabled {
						t.Errorf("reset %d factors, the active one is %+v %v, want disabled", n, f, err)
					}
				}
			})
		})
	}
}
