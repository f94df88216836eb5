package sync_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// panickyChanges is a store whose ApplyUserChanges has a bug for the user "boom".
type panickyChanges struct{ store.Store }

func (p panickyChanges) ApplyUserChanges(ctx context.Context, cs []store.UserChange) []error {
	for _, c := range cs {
		if c.Name == "boom" {
			var m map[string]int
			m["x"]++ // a nil map: a bug's runtime panic
		}
	}
	return p.Store.ApplyUserChanges(ctx, cs)
}

// An event whose apply panics fails, retried then dead-lettered as any failure, and the
// worker goes on with the next: before, the panic ended the process, and again on every
// replica that claimed the event once its lease passed.
func TestApplyPanicFailsTheEventAlone(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
		m, err := lifecycle.New(lifecycle.Options{Store: panickyChanges{st}, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		sq := st.(store.SyncQueue)
		q := (&sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq, Now: clk.Now}, Now: clk.Now}).Init()
		t0 := clk.Now().Add(-time.Minute)
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "boom", t0),
			ev("2", provider.EventUserCreate, "alice", t0)}); err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("the panic reached the worker: %v", r)
				}
			}()
			drain(t, q)
		}()
		if _, err := m.GetUser(ctx, "alice"); err != nil {
			t.Errorf("the next event: %v, want alice created", err)
		}
		evs, err := q.Store.ListEvents(ctx, store.QueueFilter{Source: "okta", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.EventID != "1" {
				continue
			}
			if e.State != store.QueuePending || e.Attempts != 1 || !strings.Contains(e.Note, "panic") || strings.Contains(e.Note, "goroutine") {
				t.Errorf("the event that panicked: %+v, want pending, tried once, its note saying it panicked (no stack)", e)
			}
			return
		}
		t.Errorf("the event that panicked is not listed: %+v", evs)
	})
}
