package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// listsCounted counts the queue's ListEvents calls.
type listsCounted struct {
	store.SyncQueue
	calls int
}

func (l *listsCounted) ListEvents(ctx context.Context, f store.QueueFilter) ([]store.QueuedEvent, error) {
	l.calls++
	return l.SyncQueue.ListEvents(ctx, f)
}

// TestPendingBehindPausedReadsOnce: with a source paused and the events of n users listed
// by `emfa sync pending`, what holds them (behindPaused) is found in a few reads of the
// held deletions, not one read per event (n reads, each a query of the store); and it
// still tells those behind a held deletion of their user from those ahead of one and
// those of a user with none. n is 3,000, not the 10,000 of `--limit 10000`: three
// chunks of heldKeysRead users, two of them with a read's limit of held deletions or more
// (read in two), take every path of the reads; 10,000 took the same paths ten times over,
// 36 s of cmd/emfa's tests under the race detector.
func TestPendingBehindPausedReadsOnce(t *testing.T) {
	const n = 3000
	ctx := t.Context()
	sq := testdb.SQLite(t).(store.SyncQueue)
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	var evs []store.QueuedEvent
	for i := range n {
		user := fmt.Sprintf("user:u%05d", i)
		e := store.QueuedEvent{Source: "okta", EventID: fmt.Sprintf("c%d", i), Key: user, Type: provider.EventUserUpdate, Time: at.Add(time.Second), Body: []byte(`{}`)}
		switch i % 3 {
		case 0: // behind its user's held deletion (of the same time, queued before it), and ahead of another
			e.Time = at
			evs = append(evs, store.QueuedEvent{Source: "okta", EventID: fmt.Sprintf("d%d", i), Key: user, Type: provider.EventUserDelete, Time: at, Body: []byte(`{}`)}, e,
				store.QueuedEvent{Source: "okta", EventID: fmt.Sprintf("d2-%d", i), Key: user, Type: provider.EventUserDelete, Time: at, Body: []byte(`{}`)})
			continue
		case 1: // ahead of it
			evs = append(evs, store.QueuedEvent{Source: "okta", EventID: fmt.Sprintf("d%d", i), Key: user, Type: provider.EventUserDelete, Time: at.Add(2 * time.Second), Body: []byte(`{}`)})
		}
		evs = append(evs, e)
	}
	if got, err := sq.EnqueueEvents(ctx, evs, at); err != nil || got != len(evs) {
		t.Fatalf("enqueue: %d, %v", got, err)
	}
	pause := store.AuditEvent{Time: at, Resource: "sync.pause", Outcome: "SUCCESS", Actor: "sync"}
	if err := sq.PauseSource(ctx, store.SourcePause{Source: "okta", Reason: "too many deletions", CreatedAt: at}, pause); err != nil {
		t.Fatal(err)
	}
	listed, err := sq.ListEvents(ctx, store.QueueFilter{State: store.QueuePending, Types: []string{provider.EventUserUpdate}, Limit: n})
	if err != nil || len(listed) != n {
		t.Fatalf("list: %d, %v", len(listed), err)
	}
	count := &listsCounted{SyncQueue: sq}
	start := time.Now()
	held, err := behindPaused(ctx, count, listed, map[string]bool{"okta": true})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events listed: %d ListEvents calls, %v", n, count.calls, took)
	if count.calls > n/500 {
		t.Errorf("%d events listed: %d ListEvents calls, want at most %d", n, count.calls, n/500)
	}
	for i, ev := range listed {
		if want := i%3 == 0; held[ev.Seq] != want {
			t.Fatalf("event %d of %s: held %v, want %v", i, ev.Key, held[ev.Seq], want)
		}
	}
}
