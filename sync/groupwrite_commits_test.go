package sync_test

import (
	"context"
	"fmt"
	"slices"
	gosync "sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// countingQueue counts the calls of the queue's store that commit, or read, once an event.
type countingQueue struct {
	store.SyncQueue
	mu gosync.Mutex
	n  map[string]int
}

func (c *countingQueue) count(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[what]++
}

func (c *countingQueue) calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return map[string]int{"MarkKeys": c.n["MarkKeys"], "FinishApplied": c.n["FinishApplied"] + c.n["FinishAppliedEvents"], "LatestMark": c.n["LatestMark"] + c.n["KeyMarks"]}
}

func (c *countingQueue) MarkKeys(ctx context.Context, t time.Time, keys ...string) error {
	c.count("MarkKeys")
	return c.SyncQueue.MarkKeys(ctx, t, keys...)
}

func (c *countingQueue) FinishApplied(ctx context.Context, seq int64, owner, note string, props []store.QueuedEvent, now time.Time) error {
	c.count("FinishApplied")
	return c.SyncQueue.FinishApplied(ctx, seq, owner, note, props, now)
}

func (c *countingQueue) FinishAppliedEvents(ctx context.Context, owner string, evs []store.AppliedEvent, now time.Time) error {
	c.count("FinishAppliedEvents")
	return c.SyncQueue.FinishAppliedEvents(ctx, owner, evs, now)
}

func (c *countingQueue) KeyMarks(ctx context.Context, keys []string) (map[string]time.Time, error) {
	c.count("KeyMarks")
	return c.SyncQueue.KeyMarks(ctx, keys)
}

func (c *countingQueue) LatestMark(ctx context.Context, keys []string) (time.Time, error) {
	c.count("LatestMark")
	return c.SyncQueue.LatestMark(ctx, keys)
}

// TestGroupWriteCommitsOnce: a group write (a SCIM PATCH adding 200 members) reads its
// events' ordering marks at once, records them in its own commit, and finishes its
// events in one more, not a LatestMark read, a MarkKeys and a FinishApplied commit a
// member: a write of 5,000 members with a vendor configured spent 9 s of SCIM's 10 on
// them, and was answered 503. The marks still order
// a member's late event after the write, and each member's add is propagated once.
func TestGroupWriteCommitsOnce(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		q.Propagators = []provider.LifecyclePropagator{&captured{}}
		const n = 200
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("m%03d", i)
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: names[i]}); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.ApplyNow(ctx, provider.LifecycleEvent{Type: provider.EventGroupCreate, Source: "scim", Group: "eng"}); err != nil {
			t.Fatal(err)
		}
		g, err := q.Store.GetGroupByName(ctx, "eng")
		if err != nil {
			t.Fatal(err)
		}
		before := clk.Now()
		clk.Advance(time.Minute)

		counted := &countingQueue{SyncQueue: q.Store, n: map[string]int{}}
		a := *q.Applier
		a.Groups = counted
		cq := &sync.Queue{Store: counted, Applier: &a, Propagators: q.Propagators, Now: q.Now}
		w := sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision}
		for _, name := range names {
			w.Events = append(w.Events, provider.LifecycleEvent{Type: provider.EventGroupMemberAdd, Source: "scim", Username: name, Group: "eng"})
		}
		if err := cq.ApplyGroupNow(ctx, w); err != nil {
			t.Fatal(err)
		}
		for what, calls := range counted.calls() {
			if calls > 1 {
				t.Errorf("a group write of %d members made %d %s calls, want at most 1", n, calls, what)
			}
		}

		// A member's removal dated before the write, delivered late: older than the add.
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{{ID: "late", Type: provider.EventGroupMemberRemove, Source: "scim",
			Username: names[7], Group: "eng", Time: before}}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		drain(t, q)
		if u, err := m.GetUser(ctx, names[7]); err != nil || !slices.Equal(u.Groups, []string{"eng"}) {
			t.Errorf("%s after a late removal older than the write's add: %v, %v; want [eng]", names[7], u.Groups, err)
		}
	})
}

// takenOverAtFinish is a queue store on which, as the events a request applied at once
// are finished, a worker of another process takes the first of them over, its lease
// having passed.
type takenOverAtFinish struct {
	store.SyncQueue
	later time.Time
}

func (s takenOverAtFinish) FinishAppliedEvents(ctx context.Context, owner string, evs []store.AppliedEvent, now time.Time) error {
	if _, err := s.ClaimEvents(ctx, "other", 1, s.later, s.later.Add(time.Minute), s.later); err != nil {
		return err
	}
	return s.SyncQueue.FinishAppliedEvents(ctx, owner, evs, now)
}

// TestApplyNowFinishesTheEventsStillItsOwn: the events of a request applied at once are
// finished in one commit, all or none; when a worker took one of them over meanwhile,
// the others are finished each on its own, once, and the one taken over is left to that
// worker: none is lost, none propagated twice.
func TestApplyNowFinishesTheEventsStillItsOwn(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		q.Propagators = []provider.LifecyclePropagator{&captured{}}
		tq := &sync.Queue{Store: takenOverAtFinish{q.Store, clk.Now().Add(2 * time.Minute)}, Applier: q.Applier, Propagators: q.Propagators, Now: q.Now}
		var evs []provider.LifecycleEvent
		for _, name := range []string{"alice", "bob", "carol"} {
			evs = append(evs, provider.LifecycleEvent{Type: provider.EventUserCreate, Source: "scim", Username: name})
		}
		if err := tq.ApplyNow(ctx, evs...); err != nil {
			t.Fatal(err)
		}
		got, err := q.Store.ListEvents(ctx, store.QueueFilter{Source: "scim"})
		if err != nil {
			t.Fatal(err)
		}
		var done, pending int
		for _, e := range got {
			switch {
			case e.State == store.QueueDone && e.Applied:
				done++
			case e.State == store.QueuePending:
				pending++
			}
		}
		if done != 2 || pending != 1 {
			t.Errorf("events after the finish: %d done and applied (want 2), %d pending (want 1, the worker's)", done, pending)
		}
		props, err := q.Store.ListEvents(ctx, store.QueueFilter{Source: store.PropagationSource("0")})
		if err != nil {
			t.Fatal(err)
		}
		if len(props) != 2 {
			t.Errorf("propagations queued: %d, want those of the 2 events finished", len(props))
		}
	})
}
