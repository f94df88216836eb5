package provider

import (
	"context"
	"testing"

	"github.com/emfa/emfa/store"
)

// TestReviewDecideDetachedAllocs: Decide on an engine's detached context (WithoutCancel,
// as every remote initiate, validate and result writes its decision) allocates only the
// WriteGrace timeout and its own two: reading the call's decision off the detached
// context itself boxed it, one more. Was 7, now 6.
func TestReviewDecideDetachedAllocs(t *testing.T) {
	d := &decision{}
	ctx := context.WithoutCancel(context.WithValue(context.Background(), decisionKey{}, d))
	var st store.Store = unitStore{}
	decide := func(store.Writer) (Outcome, error) { return Outcome{Status: StatusSuccess}, nil }
	if out, err := Decide(ctx, st, decide); err != nil || out.Status != StatusSuccess {
		t.Fatalf("Decide: %+v %v", out, err)
	}
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	n := testing.AllocsPerRun(100, func() { Decide(ctx, st, decide) })
	t.Logf("Decide on a detached context: %v allocations", n)
	if n > 6 {
		t.Errorf("Decide on a detached context allocates %v times, want at most 6", n)
	}
}
