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

// TestMarksSwept: the ordering marks (sync_marks) were never deleted: every user
// ever created, every membership ever changed, kept a row for good, deleted users and
// groups included, so the table grew with the directory's churn without bound. The
// queue's hourly purge now deletes, a batch at a time, the marks older than KeepMarks
// and than every pending or dead event (which they could still order), so no event the
// queue holds is ordered otherwise.
func TestMarksSwept(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		q, _, clk := newQueue(t, st)
		t0 := clk.Now().Add(-time.Minute)
		// Ten users created and deleted at t0, one more an hour later.
		var evs []provider.LifecycleEvent
		for i := range 10 {
			name := fmt.Sprint("gone", i)
			evs = append(evs, ev("c"+name, provider.EventUserCreate, name, t0),
				ev("d"+name, provider.EventUserDelete, name, t0.Add(time.Second)))
		}
		evs = append(evs, ev("late", provider.EventUserCreate, "late", t0.Add(time.Hour)))
		clk.Advance(2 * time.Hour)
		if _, err := q.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		// A propagation to a removed vendor, pending, dated between them: it could still be
		// ordered against the later marks, which must stay.
		if _, err := q.Store.EnqueueEvents(ctx, []store.QueuedEvent{{Source: store.PropagationSource("removed"), EventID: "p",
			Key: store.PropagationKey("removed", "user:late"), Type: provider.EventUserUpdate, Time: t0.Add(30 * time.Minute),
			Body: []byte(`{}`), Applied: true}}, clk.Now()); err != nil {
			t.Fatal(err)
		}
		clk.Advance(365 * 24 * time.Hour)
		w := &purgeWatch{SyncQueue: q.Store, called: make(chan struct{}, 1)}
		q.Store = w
		q.Poll = time.Millisecond
		q.PurgeBatch = 7 // several batches
		ran := make(chan struct{})
		go func() { defer close(ran); q.Run(ctx) }()
		// Until the purge has caught up: the worker turned three times since its last batch.
		for done := false; !done; {
			select {
			case <-w.called:
			case <-time.After(30 * time.Second):
				t.Fatal("the queue's worker stopped turning")
			}
			w.mu.Lock()
			done = w.purged > 0 && w.claims >= 3
			w.mu.Unlock()
		}
		cancel()
		<-ran
		for i := range 10 {
			if m, err := st.(store.SyncQueue).KeyMark(context.Background(), "user:gone"+fmt.Sprint(i)); err != nil || !m.IsZero() {
				t.Errorf("the mark of gone%d, deleted a year ago: %v, %v; want none", i, m, err)
			}
		}
		if m, err := st.(store.SyncQueue).KeyMark(context.Background(), "user:late"); err != nil || m.IsZero() {
			t.Errorf("the mark of late, after a pending propagation's time: %v, %v; want kept", m, err)
		}
	})
}
