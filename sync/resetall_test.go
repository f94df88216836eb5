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

// TestResetAllIsOneReset: Okta Classic sends user.mfa.factor.reset_all once per
// internal factor, three events a moment apart for one reset. Queued together, they are
// one reset: the vendor is told once (DUO's devices deleted, or its user deleted and
// created again, once), by the newest of them, which resets all the others would.
func TestResetAllIsOneReset(t *testing.T) {
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

// TestLateResetOfADeletedUser: a reset delivered after the user was deleted and
// created again since is the old user's. The deletion took everything the reset would (at
// the vendor too: the account deleted); told to the vendor now, it would reset the new
// user's account, deleting the devices it enrolled since.
func TestLateResetOfADeletedUser(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		prop := propagating(q)
		t0 := clk.Now().Add(-time.Minute)
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{
			ev("c1", provider.EventUserCreate, "alice", t0),
			ev("d", provider.EventUserDelete, "alice", t0.Add(2*time.Second)),
			ev("c2", provider.EventUserCreate, "alice", t0.Add(3*time.Second)),
		}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("r", provider.EventUserMFAReset, "alice", t0.Add(time.Second))}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		want := []string{"user.create alice", "user.delete alice", "user.create alice"}
		if fmt.Sprint(prop.got) != fmt.Sprint(want) {
			t.Fatalf("propagated %v, want %v", prop.got, want)
		}
	})
}

// TestResetPropagatedAfterANewerCreate: a reset applied, whose propagation waits
// (the vendor down), is still sent once the vendor is back, though a create of the user,
// newer, was applied meanwhile: that create does not reset the vendor's account.
func TestResetPropagatedAfterANewerCreate(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		prop := propagating(q)
		t0 := clk.Now().Add(-time.Minute)
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("c1", provider.EventUserCreate, "alice", t0)}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		prop.fail = true
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("r", provider.EventUserMFAReset, "alice", t0.Add(time.Second))}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("c2", provider.EventUserCreate, "alice", t0.Add(2*time.Second))}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		prop.fail = false
		clk.Advance(time.Hour) // past every backoff
		drain(t, q)
		want := []string{"user.create alice", "user.mfa.reset alice", "user.create alice"}
		if fmt.Sprint(prop.got) != fmt.Sprint(want) {
			t.Fatalf("propagated %v, want %v", prop.got, want)
		}
	})
}
