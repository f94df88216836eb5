package sync_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// outcomes records what a queue tells its Observe, as "source outcome n".
type outcomes struct {
	mu  gosync.Mutex
	got map[string]int
}

func observing(q *sync.Queue) *outcomes {
	o := &outcomes{got: map[string]int{}}
	q.Observe = func(source, outcome string) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.got[source+" "+outcome]++
	}
	return o
}

func (o *outcomes) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for k, n := range o.got {
		out = append(out, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(out)
	return out
}

// TestQueueObservesOutcomes: the queue tells Observe what it made of each event and
// propagation it finished, by source, where it decides it: applied (by a worker, and at
// once by ApplyNow), skipped (older than a change applied since, refused by the manager,
// a propagation with nothing left to send), retry, dead, propagated. An event released
// because its source is paused is not told of.
func TestQueueObservesOutcomes(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		q.MaxAttempts = 2
		q.MaxDeletesPerHour = 1
		duo := newVendor("duo")
		duo.failing(provider.EventUserDisable, true)
		q.Propagators = []provider.LifecyclePropagator{duo}
		q = q.Init()
		o := observing(q)
		t0 := clk.Now().Add(-time.Minute)

		// alice created (propagated), then disabled (its propagation fails, then is dead);
		// ghost unknown (refused: skipped); a late enable of alice (older: skipped).
		ghost := ev("g", provider.EventUserUpdate, "ghost", t0)
		ghost.DisplayName = str("Ghost")
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("a1", provider.EventUserCreate, "alice", t0),
			ev("a2", provider.EventUserDisable, "alice", t0.Add(2*time.Second)), ghost}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		clk.Advance(time.Hour) // past the propagation's backoff
		drain(t, q)
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("a3", provider.EventUserEnable, "alice", t0.Add(time.Second))}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)

		// bob created and renamed twice, all applied before any propagation: the first
		// rename's propagation is older than the second, applied since (skipped).
		b1 := ev("b1", provider.EventUserUpdate, "bob", t0.Add(time.Second))
		b1.DisplayName = str("B1")
		b2 := ev("b2", provider.EventUserUpdate, "bob", t0.Add(2*time.Second))
		b2.DisplayName = str("B2")
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("b0", provider.EventUserCreate, "bob", t0), b1, b2}); err != nil {
			t.Fatal(err)
		}
		for {
			n, err := q.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		drain(t, q)

		// At once (SCIM): carol created; nobody refused.
		carol := provider.LifecycleEvent{Source: "scim", Type: provider.EventUserCreate, Username: "carol"}
		if err := q.ApplyNow(ctx, carol); err != nil {
			t.Fatal(err)
		}
		nobody := provider.LifecycleEvent{Source: "scim", Type: provider.EventUserUpdate, Username: "nobody", DisplayName: str("N")}
		if err := q.ApplyNow(ctx, nobody); err == nil {
			t.Fatal("an update of nobody applied")
		}
		drain(t, q)

		// Two deletions of auth0 with a guard of one an hour: one applied, the other
		// released while the source is paused (not told of).
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{
			{ID: "d1", Source: "auth0", Type: provider.EventUserDelete, Username: "carol", Time: clk.Now()},
			{ID: "d2", Source: "auth0", Type: provider.EventUserDelete, Username: "bob", Time: clk.Now()},
		}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		if s, _ := q.Status(ctx); len(s.Paused) != 1 || s.Counts["auth0"]["pending"] != 1 {
			t.Fatalf("status = %+v, want auth0 paused with one deletion held", s)
		}

		duoSource := store.PropagationSource("duo")
		want := []string{
			"auth0 applied 1",
			"okta applied 5", "okta skipped 2",
			duoSource + " dead 1",
			duoSource + " propagated 5", // alice's and bob's creates, B2, carol's create and delete
			duoSource + " retry 1",
			duoSource + " skipped 1", // B1
			"scim applied 1", "scim skipped 1",
		}
		slices.Sort(want)
		if got := o.list(); !slices.Equal(got, want) {
			t.Errorf("observed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestQueueWithoutObserve: a queue without Observe works as one with it.
func TestQueueWithoutObserve(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		q, m, clk := newQueue(t, st)
		if err := q.ApplyNow(context.Background(), ev("1", provider.EventUserCreate, "dora", clk.Now())); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		if s := userState(t, m, "dora"); s != lifecycle.StateActive {
			t.Fatalf("dora is %s", s)
		}
	})
}
