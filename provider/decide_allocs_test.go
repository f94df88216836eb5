package provider

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// unitStore runs a unit's function once, with no writer: what Decide allocates around it.
type unitStore struct{ store.Store }

func (unitStore) Update(_ context.Context, fn func(store.Writer) error) error { return fn(nil) }

// TestDecideAllocations bounds what Decide allocates of its own around a unit (every
// initiate, validate and result an engine decides): the unit's closure captured out, the
// recorded answer and two flags, each variable moved to the heap by itself.
func TestDecideAllocations(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // no WriteGrace timer
	defer cancel()
	var st store.Store = unitStore{} // boxed once, not on every call
	decide := func(store.Writer) (Outcome, error) { return Outcome{Status: StatusSuccess}, nil }
	if out, err := Decide(ctx, st, decide); err != nil || out.Status != StatusSuccess {
		t.Fatalf("Decide: %+v %v", out, err)
	}
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	n := testing.AllocsPerRun(100, func() { Decide(ctx, st, decide) })
	t.Logf("Decide: %v allocations", n)
	if n > 2 {
		t.Errorf("Decide allocates %v times around its unit, want at most 2", n)
	}
}
