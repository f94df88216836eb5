package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// BenchEnqueueEvents measures EnqueueEvents, which queues every directory delivery (a
// SCIM request's, an Okta hook's, an import's): n new events a call, and a redelivery of
// n events all queued already. newStore returns an empty store.
func BenchEnqueueEvents(b *testing.B, newStore func(b *testing.B) store.Store) {
	for _, n := range []int{1, 100, 5000} {
		b.Run(fmt.Sprintf("new-%d", n), func(b *testing.B) {
			sq := syncQueue(b, newStore(b))
			ctx := b.Context()
			for i := 0; b.Loop(); i++ {
				if got, err := sq.EnqueueEvents(ctx, deliveredEvents(fmt.Sprintf("d%d", i), n), at(0)); err != nil || got != n {
					b.Fatalf("EnqueueEvents of %d new events: %d, %v", n, got, err)
				}
			}
		})
	}
	b.Run("redelivered-5000", func(b *testing.B) {
		sq := syncQueue(b, newStore(b))
		ctx := b.Context()
		evs := deliveredEvents("d", 5000)
		if _, err := sq.EnqueueEvents(ctx, evs, at(0)); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if got, err := sq.EnqueueEvents(ctx, evs, at(0)); err != nil || got != 0 {
				b.Fatalf("EnqueueEvents of 5000 queued events: %d, %v", got, err)
			}
		}
	})
}

// deliveredEvents are n events of one delivery, prefix naming it, each of its own user,
// with a body of an event's size.
func deliveredEvents(prefix string, n int) []store.QueuedEvent {
	evs := make([]store.QueuedEvent, n)
	for i := range evs {
		user := fmt.Sprintf("%s-%05d", prefix, i)
		evs[i] = store.QueuedEvent{Source: "scim", EventID: user, Key: "user:" + user, Type: "user.update", Time: at(time.Duration(i) * time.Millisecond),
			Body: fmt.Appendf(nil, `{"type":"user.update","source":"scim","id":%q,"username":%q,"profile":{"email":"%s@example.com","displayName":"User %s"}}`, user, user, user, user)}
	}
	return evs
}

// enqueueTests are the cases of EnqueueEvents, which a store may run a statement a batch
// of events rather than one an event.
var enqueueTests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"SyncEnqueueEventsMany", testSyncEnqueueEventsMany},
	{"SyncEnqueueEventsDuplicates", testSyncEnqueueEventsDuplicates},
}

// testSyncEnqueueEventsMany: more events than one statement of a store carries are queued
// at once, in their order (by seq, which orders a key's events of one time); queued
// again, none is added; none at all adds none.
func testSyncEnqueueEventsMany(t *testing.T, s store.Store) {
	sq := syncQueue(t, s)
	evs := deliveredEvents("u", 1300)
	wantAdded(t, sq, "new", evs, len(evs))
	wantQueued(t, sq, evs)
	for what, again := range map[string][]store.QueuedEvent{"again": evs, "none": nil, "an empty slice": {}} {
		wantAdded(t, sq, what, again, 0)
		wantQueued(t, sq, evs)
	}
}

// testSyncEnqueueEventsDuplicates: an event queued before, or twice among those queued,
// however far apart, is queued once, as it came first, and counted once.
func testSyncEnqueueEventsDuplicates(t *testing.T, s store.Store) {
	sq := syncQueue(t, s)
	first := deliveredEvents("u", 600)
	wantAdded(t, sq, "new", first, len(first))
	evs := deliveredEvents("v", 1100)
	again := func(e store.QueuedEvent) store.QueuedEvent {
		e.Body = []byte(`{"again":true}`)
		return e
	}
	evs[5] = again(first[7])      // queued before, in the first statement of a store's
	evs[1099] = again(first[599]) // and in the last
	evs[300] = again(evs[100])    // twice in one statement
	evs[600] = again(evs[500])    // in two
	evs[1000] = again(evs[999])   // side by side
	want := slices.Clone(first)
	seen := map[string]bool{}
	for _, e := range first {
		seen[e.EventID] = true
	}
	for _, e := range evs {
		if !seen[e.EventID] {
			seen[e.EventID] = true
			want = append(want, e)
		}
	}
	wantAdded(t, sq, "of duplicates", evs, len(want)-len(first))
	wantQueued(t, sq, want)
}

// wantAdded enqueues evs, what they are, and checks that added of them were added.
func wantAdded(t *testing.T, sq store.SyncQueue, what string, evs []store.QueuedEvent, added int) {
	t.Helper()
	n, err := sq.EnqueueEvents(t.Context(), evs, at(time.Second))
	must(t, "enqueue "+what, err)
	if n != added {
		t.Errorf("%d events enqueued, %s: %d added, want %d", len(evs), what, n, added)
	}
}

// wantQueued checks that the queue holds want, of source scim, in order of seq, each with
// its body.
func wantQueued(t *testing.T, sq store.SyncQueue, want []store.QueuedEvent) {
	t.Helper()
	got, err := sq.ListEvents(t.Context(), store.QueueFilter{Source: "scim", Limit: 3000})
	must(t, "list events", err)
	if len(got) != len(want) {
		t.Fatalf("%d events queued, want %d", len(got), len(want))
	}
	for i, e := range got {
		if e.EventID != want[i].EventID || string(e.Body) != string(want[i].Body) {
			t.Fatalf("the %d-th event queued is %q (%s), want %q (%s)", i, e.EventID, e.Body, want[i].EventID, want[i].Body)
		}
	}
}
