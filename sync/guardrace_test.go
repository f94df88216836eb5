package sync_test

import (
	"context"
	"errors"
	"strings"
	gosync "sync"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// TestApplyNowGuardAcrossReplicas: with sync.maxDeletesPerHour at 2 and one
// SCIM deletion applied, two replicas each answer a SCIM DELETE at once, both past the
// guard's first look (each counted 1 applied, under the limit, before either queued its
// own). ApplyNow asks the guard again, counted and recorded in one commit
// (AllowApplying), once its deletion is queued: one replica deletes, the other trips the
// guard, answers ErrPaused (503) and deletes nobody. Its deletion is not held: it is done,
// not applied, saying why, and the directory's DELETE sent again after the operator's
// resumption applies.
func TestApplyNowGuardAcrossReplicas(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		a, m, clk := newQueue(t, st)
		a.MaxDeletesPerHour = 2
		scim := func(q *sync.Queue, typ, user string) error {
			return q.ApplyNow(ctx, provider.LifecycleEvent{Type: typ, Source: "scim", Username: user})
		}
		for _, name := range []string{"alice", "bob", "carol"} {
			if err := scim(a, provider.EventUserCreate, name); err != nil {
				t.Fatal(err)
			}
		}
		if err := scim(a, provider.EventUserDelete, "alice"); err != nil {
			t.Fatal(err)
		}
		shared := &countsTogether{SyncQueue: a.Store, both: make(chan struct{}), done: make(chan struct{})}
		a.Store = shared
		b := (&sync.Queue{Store: shared, Applier: a.Applier, Now: clk.Now, Owner: "replica-b", MaxDeletesPerHour: 2}).Init()
		errs := make([]error, 2)
		var wg gosync.WaitGroup
		var once gosync.Once
		for i, c := range []struct {
			q    *sync.Queue
			user string
		}{{a, "bob"}, {b, "carol"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer once.Do(func() { close(shared.done) })
				errs[i] = scim(c.q, provider.EventUserDelete, c.user)
			}()
		}
		wg.Wait()
		refused := ""
		for i, user := range []string{"bob", "carol"} {
			switch gone := userState(t, m, user) == "unknown"; {
			case errs[i] == nil && gone:
			case errors.Is(errs[i], sync.ErrPaused) && !gone:
				if refused != "" {
					t.Fatalf("both DELETEs refused: %v", errs)
				}
				refused = user
			default:
				t.Fatalf("DELETE of %s: %v, deleted %v", user, errs[i], gone)
			}
		}
		if refused == "" {
			t.Fatal("both replicas deleted at the last deletion allowed: 3 users deleted in the hour, limit 2")
		}
		if ps, err := shared.ListPauses(ctx); err != nil || len(ps) != 1 || ps[0].Source != "scim" {
			t.Fatalf("pauses %+v, %v; want scim's", ps, err)
		}
		// What an operator sees of the refused one: nothing pending, done and not applied
		// with the guard's reason; the directory was answered 503 and sends it again.
		if pending, err := shared.ListEvents(ctx, store.QueueFilter{State: store.QueuePending, Source: "scim"}); err != nil || len(pending) != 0 {
			t.Fatalf("pending scim events %+v, %v; want none", pending, err)
		}
		done, err := shared.ListEvents(ctx, store.QueueFilter{State: store.QueueDone, Source: "scim", Key: "user:" + refused})
		if err != nil {
			t.Fatal(err)
		}
		last := done[len(done)-1]
		if last.Type != provider.EventUserDelete || last.Applied || !strings.Contains(last.Note, "source paused") {
			t.Errorf("the refused deletion: %s applied=%v %q; want user.delete, not applied, saying the source is paused", last.Type, last.Applied, last.Note)
		}
		if err := scim(b, provider.EventUserDelete, refused); !errors.Is(err, sync.ErrPaused) {
			t.Fatalf("DELETE of %s sent again while paused: %v, want ErrPaused", refused, err)
		}
		if err := a.Resume(ctx, "ops", "scim"); err != nil {
			t.Fatal(err)
		}
		if err := scim(b, provider.EventUserDelete, refused); err != nil {
			t.Fatalf("DELETE of %s sent again after the resumption: %v", refused, err)
		}
		if userState(t, m, refused) != "unknown" {
			t.Errorf("%s not deleted by the DELETE sent again after the resumption", refused)
		}
	})
}
