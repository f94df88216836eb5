package sync_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestHeldBehindRenameFromClockAhead: Eng's create fails once at the vendor and
// waits its backoff; a CLI whose clock is an hour ahead queues Eng's rename to Platform
// (behind the create, by its key); alice's add to Platform waits for the rename
// (holdBehind). Once the create is through, the rename is due at once (the claim takes a
// row queued by a clock ahead as due now), and so must alice's add be, a groupStep on.
// Before, holdBehind held the add until the rename's next_at, the CLI's time an hour
// ahead: a wait a worker set, which the claim keeps, so alice reached Platform at the
// vendor an hour late.
func TestHeldBehindRenameFromClockAhead(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := &namedGroups{vendor: newVendor("duo"), groups: map[string][]string{}}
		q.Propagators = []provider.LifecyclePropagator{duo}
		at := clk.Now().Add(-time.Hour)
		member := func(id, typ, user, group string, d time.Duration) provider.LifecycleEvent {
			e := ev(id, typ, user, at.Add(d))
			e.Group = group
			return e
		}
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "alice", at)}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		duo.failing(provider.EventGroupCreate, true)
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{member("2", provider.EventGroupCreate, "", "Eng", time.Second)}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)

		rename := member("3", provider.EventGroupRename, "", "Eng", 2*time.Second)
		rename.NewGroup = "Platform"
		rows, err := q.Propagations(ctx, rename)
		if err != nil || len(rows) != 1 {
			t.Fatalf("the rename's propagation: %v, %v", rows, err)
		}
		if n, err := q.Store.EnqueueEvents(ctx, rows, clk.Now().Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("the rename queued an hour ahead: %d, %v", n, err)
		}
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{member("4", provider.EventGroupMemberAdd, "alice", "Platform", 3*time.Second)}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)

		duo.failing(provider.EventGroupCreate, false)
		for range 10 {
			clk.Advance(time.Minute)
			drain(t, q)
		}
		duo.mu.Lock()
		defer duo.mu.Unlock()
		if got := duo.groups["Platform"]; !slices.Contains(got, "alice") {
			t.Errorf("ten minutes on, Platform at the vendor has %q, want alice (calls %q)", got, duo.calls)
		}
	})
}
