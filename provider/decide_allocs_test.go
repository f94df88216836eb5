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
// recorded answer and two flags, each variable moved to the heap by itself. On an
// engine's detached context (WithoutCancel, as every remote initiate, validate and result
// writes its decision) the WriteGrace timeout adds its own; reading the call's decision
// off the detached context itself boxed it, one more (7 before, 6 now).
func TestDecideAllocations(t *testing.T) {
	deadline, cancel := context.WithTimeout(context.Background(), time.Hour) // no WriteGrace timer
	defer cancel()
	detached := context.WithoutCancel(context.WithValue(context.Background(), decisionKey{}, &decision{}))
	var st store.Store = unitStore{} // boxed once, not on every call
	decide := func(store.Writer) (Outcome, error) { return Outcome{Status: StatusSuccess}, nil }
	for _, c := range []struct {
		name string
		ctx  context.Context
		max  float64
	}{{"with a deadline", deadline, 2}, {"detached", detached, 6}} {
		t.Run(c.name, func(t *testing.T) {
			if out, err := Decide(c.ctx, st, decide); err != nil || out.Status != StatusSuccess {
				t.Fatalf("Decide: %+v %v", out, err)
			}
			if raceEnabled {
				t.Skip("allocation counts differ under -race")
			}
			n := testing.AllocsPerRun(100, func() { Decide(c.ctx, st, decide) })
			t.Logf("Decide: %v allocations", n)
			if n > c.max {
				t.Errorf("Decide allocates %v times around its unit, want at most %v", n, c.max)
			}
		})
	}
}
