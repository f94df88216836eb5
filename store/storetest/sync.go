package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// syncTests are the cases of the sync queue (store.SyncQueue): what the worker that
// applies events and the workers that propagate them to vendors claim.
var syncTests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"SyncPauseHoldsOnlyDeletions", testSyncPauseHoldsOnlyDeletions},
	{"SyncFinishApplied", testSyncFinishApplied},
	{"SyncCountApplied", testSyncCountApplied},
	{"SyncUserChangeQueue", testSyncUserChangeQueue},
}

// queuedEvent is an event of source for user at t (its id: source, type and user).
func queuedEvent(source, typ, user string, t time.Time) store.QueuedEvent {
	return store.QueuedEvent{Source: source, EventID: typ + " " + user, Key: "user:" + user, Type: typ, Time: t, Body: []byte(`{}`)}
}

// claimed lists evs as "source type key".
func claimed(evs []store.QueuedEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Source+" "+e.Type+" "+e.Key)
	}
	return out
}

// testSyncPauseHoldsOnlyDeletions: a paused source's deletions wait; its other events,
// and other sources' deletions, are claimed.
func testSyncPauseHoldsOnlyDeletions(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	evs := []store.QueuedEvent{
		queuedEvent("okta", "user.delete", "u1", at(0)),
		queuedEvent("okta", "user.disable", "u2", at(time.Millisecond)),
		queuedEvent("scim", "user.delete", "u3", at(2*time.Millisecond)),
	}
	if _, err := sq.EnqueueEvents(ctx, evs, at(0)); err != nil {
		t.Fatal(err)
	}
	pause := store.AuditEvent{Time: at(0), Resource: "admin.sync.pause", Outcome: "SUCCESS", Actor: "sync:okta"}
	must(t, "pause", sq.PauseSource(ctx, store.SourcePause{Source: "okta", Reason: "test", CreatedAt: at(0)}, pause))
	got, err := sq.ClaimEvents(ctx, "w", 10, at(time.Second), at(time.Minute), at(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"okta user.disable user:u2", "scim user.delete user:u3"}; !slices.Equal(claimed(got), want) {
		t.Errorf("claimed %q while okta is paused, want %q", claimed(got), want)
	}
}

// testSyncFinishApplied: an applied event's propagations are queued in the commit that
// finishes it, once; each target's are claimed apart from the events and from each
// other's, one at a time per key.
func testSyncFinishApplied(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{
		queuedEvent("okta", "user.create", "u1", at(0)),
		queuedEvent("okta", "user.disable", "u1", at(time.Millisecond)),
	}, at(0)); err != nil {
		t.Fatal(err)
	}
	props := func(e store.QueuedEvent) []store.QueuedEvent {
		var out []store.QueuedEvent
		for _, target := range []string{"duo", "okta"} {
			p := e
			p.Source, p.EventID, p.Key, p.Applied = store.PropagationSource(target), e.Source+":"+e.EventID, store.PropagationKey(target, e.Key), true
			out = append(out, p)
		}
		return out
	}
	for i := range 2 {
		now := at(time.Duration(i+1) * time.Second)
		got, err := sq.ClaimEvents(ctx, "w", 10, now, now.Add(time.Minute), now)
		if err != nil || len(got) != 1 {
			t.Fatalf("claim %d: %q, %v; want the user's next event alone", i, claimed(got), err)
		}
		must(t, "finish applied", sq.FinishApplied(ctx, got[0].Seq, "w", "", props(got[0]), now))
		if err := sq.FinishApplied(ctx, got[0].Seq, "w", "", props(got[0]), now); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("finish applied again: %v, want ErrConflict", err)
		}
	}
	now := at(3 * time.Second)
	if got, err := sq.ClaimEvents(ctx, "w", 10, now, now.Add(time.Minute), now); err != nil || len(got) != 0 {
		t.Fatalf("events claimed after both applied: %q, %v", claimed(got), err)
	}
	for _, target := range []string{"duo", "okta"} {
		var got []string
		for i := range 3 {
			now := at(time.Duration(4+i) * time.Second)
			evs, err := sq.ClaimPropagations(ctx, target, "p", 10, now, now.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) > 1 {
				t.Fatalf("claimed %q of one user at once", claimed(evs))
			}
			for _, e := range evs {
				if !e.Applied || string(e.Body) != `{}` {
					t.Errorf("propagation %+v", e)
				}
				got = append(got, claimed(evs)...)
				must(t, "finish propagation", sq.FinishEvent(ctx, e.Seq, "p", store.QueueDone, "", false, time.Time{}, now))
			}
		}
		src, key := store.PropagationSource(target), store.PropagationKey(target, "user:u1")
		if want := []string{src + " user.create " + key, src + " user.disable " + key}; !slices.Equal(got, want) {
			t.Errorf("propagations to %s: %q, want %q", target, got, want)
		}
	}
	all, err := sq.ListEvents(ctx, store.QueueFilter{Key: store.PropagationKey("duo", "user:u1")})
	if err != nil || len(all) != 2 {
		t.Errorf("propagations to duo listed by key: %q, %v", claimed(all), err)
	}
	c, err := sq.CountEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(c); got != "map[okta:map[done:2] propagate:duo:map[done:2] propagate:okta:map[done:2]]" {
		t.Errorf("counts %s", got)
	}
}

// testSyncCountApplied: the deletion guard's count, of the events applied since a time
// and enqueued after another.
func testSyncCountApplied(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	for i, user := range []string{"u1", "u2", "u3"} {
		queued := at(time.Duration(i) * time.Minute)
		if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{queuedEvent("okta", "user.delete", user, queued)}, queued); err != nil {
			t.Fatal(err)
		}
	}
	now := at(time.Hour)
	got, err := sq.ClaimEvents(ctx, "w", 10, now, now.Add(time.Minute), now)
	if err != nil || len(got) != 3 {
		t.Fatalf("claimed %q, %v", claimed(got), err)
	}
	for _, e := range got {
		must(t, "finish", sq.FinishApplied(ctx, e.Seq, "w", "", nil, now))
	}
	for _, tc := range []struct {
		since, queuedAfter time.Time
		want               int
	}{
		{at(0), time.Time{}, 3},
		{now.Add(time.Millisecond), time.Time{}, 0},
		{at(0), at(0), 2},
		{at(0), at(2 * time.Minute), 0},
	} {
		if n, err := sq.CountApplied(ctx, "okta", "user.delete", tc.since, tc.queuedAfter); err != nil || n != tc.want {
			t.Errorf("CountApplied(since %v, queued after %v) = %d, %v; want %d", tc.since, tc.queuedAfter, n, err, tc.want)
		}
	}
}
