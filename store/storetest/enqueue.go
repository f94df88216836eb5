package storetest

import (
	"fmt"
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
			sq := benchQueue(b, newStore(b))
			ctx := b.Context()
			for i := 0; b.Loop(); i++ {
				if got, err := sq.EnqueueEvents(ctx, deliveredEvents(fmt.Sprintf("d%d", i), n), at(0)); err != nil || got != n {
					b.Fatalf("EnqueueEvents of %d new events: %d, %v", n, got, err)
				}
			}
		})
	}
	b.Run("redelivered-5000", func(b *testing.B) {
		sq := benchQueue(b, newStore(b))
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

func benchQueue(b *testing.B, s store.Store) store.SyncQueue {
	b.Helper()
	sq, ok := s.(store.SyncQueue)
	if !ok {
		b.Skip("the store keeps no sync queue")
	}
	return sq
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
