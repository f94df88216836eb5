package postgres_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/storetest"
)

// BenchmarkEnqueueEvents is a directory delivery queued (storetest.BenchEnqueueEvents):
// on PostgreSQL a statement is a round trip.
func BenchmarkEnqueueEvents(b *testing.B) {
	sv := testdb.Connect(b)
	storetest.BenchEnqueueEvents(b, func(b *testing.B) store.Store { return sv.Open(b) })
}

// TestEnqueueEventsNamesRefused: an event PostgreSQL refuses (a NUL in its id: text
// holds none) fails the delivery, none of it queued, and the error names the events of
// the statement that carried it, for the operator to find the delivery by.
func TestEnqueueEventsNamesRefused(t *testing.T) {
	t.Parallel()
	s := testdb.Connect(t).Open(t)
	ctx := t.Context()
	evs := oktaEvents("e", 1300)
	evs[1100].EventID = "bad\x00"
	_, err := s.EnqueueEvents(ctx, evs, t0)
	if err == nil {
		t.Fatal("an event of a NUL in its id queued")
	}
	// Statements of 512, 512 and 256 events: the third carried it.
	for _, named := range []string{evs[1024].EventID, evs[1279].EventID} {
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", named)) {
			t.Errorf("%v: does not name %q", err, named)
		}
	}
	queued, err := s.ListEvents(ctx, store.QueueFilter{Limit: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if len(queued) != 0 {
		t.Errorf("a refused delivery queued %d events", len(queued))
	}
}

// TestEnqueueEventsRoundTrips: a delivery of one event is one round trip, its INSERT,
// which commits alone; one of 1,300 is a transaction of a statement a batch (512, 512,
// 256, 16 and 4 events) with its BEGIN and COMMIT, not a statement an event; none is
// none.
func TestEnqueueEventsRoundTrips(t *testing.T) {
	t.Parallel()
	rt := &roundTrips{}
	sq := openTraced(t, "", 1, rt).(store.SyncQueue)
	for _, c := range []struct{ events, roundTrips int }{{1, 1}, {1300, 7}, {0, 0}} {
		before := rt.n.Load()
		if n, err := sq.EnqueueEvents(t.Context(), oktaEvents(fmt.Sprint("e", c.events), c.events), t0); err != nil || n != c.events {
			t.Fatalf("%d events enqueued: %d added, %v", c.events, n, err)
		}
		if got := rt.n.Load() - before; got != int64(c.roundTrips) {
			t.Errorf("%d events enqueued in %d round trips, want %d", c.events, got, c.roundTrips)
		}
	}
}

// oktaEvents are n events of source okta, prefix naming them, each of its own user.
func oktaEvents(prefix string, n int) []store.QueuedEvent {
	evs := make([]store.QueuedEvent, n)
	for i := range evs {
		id := fmt.Sprintf("%s-%04d", prefix, i)
		evs[i] = store.QueuedEvent{Source: "okta", EventID: id, Key: "user:" + id, Type: "user.update", Time: t0, Body: []byte(`{}`)}
	}
	return evs
}
