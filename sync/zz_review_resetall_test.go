package sync_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestReviewResetAllIsOneReset: Okta Classic sends user.mfa.factor.reset_all once per
// internal factor, three events a moment apart for one reset. Queued together, they are
// one reset: the vendor is told once (DUO's devices deleted, or its user deleted and
// created again, once), by the newest of them, which resets all the others would.
func TestReviewResetAllIsOneReset(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		prop := propagating(q)
		t0 := clk.Now().Add(-time.Minute)
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("c", provider.EventUserCreate, "alice", t0)}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		var resets []provider.LifecycleEvent
		for i := range 3 {
			resets = append(resets, ev(fmt.Sprint("r", i), provider.EventUserMFAReset, "alice", t0.Add(time.Second+time.Duration(i)*time.Millisecond)))
		}
		// In one delivery.
		if _, err := q.Enqueue(ctx, resets); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		want := []string{"user.create alice", "user.mfa.reset alice"}
		if fmt.Sprint(prop.got) != fmt.Sprint(want) {
			t.Fatalf("propagated %v, want %v", prop.got, want)
		}
		if s, err := q.Status(ctx); err != nil || s.Counts["okta"]["done"] != 4 || s.Counts["okta"]["pending"] != 0 {
			t.Fatalf("status = %+v, %v; want every event done", s, err)
		}
	})
}
