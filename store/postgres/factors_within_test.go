package postgres_test

import (
	"fmt"
	"testing"

	"github.com/emfa/emfa/store"
)

// Users created with factors within a bound (an import's pre-provisioned factors) still
// go in one round trip: the bound is assumed, not read change by change.
func TestUserBatchWithFactorsWithinInOneRoundTrip(t *testing.T) {
	s, rt := speculating(t)
	ctx := t.Context()
	batch := func(from, n int) []store.UserChange {
		var cs []store.UserChange
		for i := from; i < from+n; i++ {
			u := store.User{ID: fmt.Sprint("n", i), Name: fmt.Sprint("new-", i), CreatedAt: t0}
			f := store.Factor{ID: fmt.Sprint("within-", i), Type: "smsotp", Label: "SMS", State: store.FactorPending,
				Params: map[string]string{"phone": "+15550001"}, Counter: -1, CreatedAt: t0, UpdatedAt: t0}
			cs = append(cs, store.UserChange{Name: u.Name, Create: &u, Now: t0, CreateFactors: []store.Factor{f},
				FactorsWithin: 5, FactorsAlike: []store.Alike{{Type: true, Param: "phone"}}})
		}
		return cs
	}
	for _, err := range s.ApplyUserChanges(ctx, batch(0, 2)) { // prepares the statements
		if err != nil {
			t.Fatal(err)
		}
	}
	rt.n.Store(0)
	for _, err := range s.ApplyUserChanges(ctx, batch(2, 20)) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := rt.n.Load(); n != 1 {
		t.Errorf("20 new users with a factor each: %d round trips, want 1", n)
	}
}
