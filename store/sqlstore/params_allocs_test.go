package sqlstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// allocsPerRunIn is the allocations one more run of run's statement costs in a unit: a unit
// with many runs against one with one, so that the unit's own cost drops out.
func allocsPerRunIn(t *testing.T, st store.Store, run func(w store.Writer, i int) error) float64 {
	t.Helper()
	ctx := context.Background()
	n := 0
	units := func(k int) func(w store.Writer) error {
		return func(w store.Writer) error {
			for range k {
				n++
				if err := run(w, n); err != nil {
					return err
				}
			}
			return nil
		}
	}
	// The first runs prepare the statement on the pool (a transaction's miss runs as text).
	for range 3 {
		if err := st.Update(ctx, units(2)); err != nil {
			t.Fatal(err)
		}
	}
	const many = 65
	one := testing.AllocsPerRun(100, func() {
		if err := st.Update(ctx, units(1)); err != nil {
			t.Fatal(err)
		}
	})
	all := testing.AllocsPerRun(100, func() {
		if err := st.Update(ctx, units(many)); err != nil {
			t.Fatal(err)
		}
	})
	return (all - one) / (many - 1)
}

// TestRepeatedParamsBoundOnce: the hot writes whose text names a parameter twice
// (AdvanceCounter's compare-and-set, the claim of an idempotency key, the update of a
// factor's last use) cost no allocation a parameter for its name. modernc.org/sqlite
// reads each named parameter's name into a Go string on every run; AnonymousParams
// prepared such a statement as it is.
func TestRepeatedParamsBoundOnce(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	st := testdb.Memory(t)
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000)
	if err := st.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	keys := make([]store.IdempotencyKey, 10_000)
	for i := range keys {
		keys[i] = store.IdempotencyKey{Provider: "p", WebhookID: "w" + strconv.Itoa(i), Fingerprint: "fp"}
	}
	for _, c := range []struct {
		name string
		max  float64
		run  func(w store.Writer, i int) error
	}{
		{"AdvanceCounter", 10.5, func(w store.Writer, i int) error {
			return w.AdvanceCounter(ctx, "f1", int64(i), now)
		}},
		{"ClaimIdempotency", 36, func(w store.Writer, i int) error {
			_, err := w.ClaimIdempotency(ctx, keys[i], "o", now.Add(time.Minute), now.Add(time.Hour), now)
			return err
		}},
		{"AppendAudit use", 25, func(w store.Writer, i int) error {
			return w.AppendAudit(ctx, store.AuditEvent{Time: now.Add(time.Duration(i) * time.Millisecond), RequestID: "r",
				Provider: "p", Username: "alice", FactorID: "f1", Resource: "validate", Outcome: "SUCCESS"})
		}},
	} {
		per := allocsPerRunIn(t, st, c.run)
		t.Logf("%s: %.1f allocs a run", c.name, per)
		// Before: 12.9, 43.8 and 26.0, a Go string of each repeated statement's
		// parameters' names (3, 7, 2) on every run; then 36.5 for the claim, whose text
		// arguments, each bound again as a ?, grew the driver's list of C copies once
		// more.
		if per > c.max {
			t.Errorf("%s costs %.1f allocations a run in a unit, want at most %.1f", c.name, per, c.max)
		}
	}
}
