package sync_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// TestSetLimitsWhileRunning: a reload's limits apply to the running queue from its next
// event: a longer settle holds an event a shorter one would have applied, and one made
// short again lets it through without waiting; a lowered MaxAttempts dead-letters at the
// next failure; a lowered MaxDeletesPerHour trips the guard at once. Its workers read them
// while SetLimits writes them (run with -race).
func TestSetLimitsWhileRunning(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		if got := q.Limits(); got != (sync.Limits{MaxAttempts: 10, MaxDeletesPerHour: sync.DefaultMaxDeletesPerHour}) {
			t.Fatalf("defaults %+v", got)
		}
		prop := propagating(q)
		count := func(source, state string) int {
			c, err := q.Store.CountEvents(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return c[source][state]
		}
		q.SetLimits(sync.Limits{Settle: time.Hour, MaxAttempts: 1, MaxDeletesPerHour: 1})
		if got := q.Limits(); got != (sync.Limits{Settle: time.Hour, MaxAttempts: 1, MaxDeletesPerHour: 1}) {
			t.Fatalf("limits %+v", got)
		}
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "ann", clk.Now())}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		if n, err := q.RunOnce(ctx); n != 0 || err != nil {
			t.Fatalf("an event settling for an hour, a minute after it was queued: %d applied, %v", n, err)
		}
		q.SetLimits(sync.Limits{Settle: time.Second, MaxAttempts: 1, MaxDeletesPerHour: 1})
		if n, err := q.RunOnce(ctx); n != 1 || err != nil {
			t.Fatalf("the event once the settle is a second: %d applied, %v", n, err)
		}

		// The rest with the workers running, while SetLimits writes.
		q.Poll = time.Millisecond
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); q.Run(runCtx) }()
		defer func() { stop(); <-done }()
		until := func(what string, ok func() bool) {
			t.Helper()
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if ok() {
					return
				}
			}
			t.Fatalf("%s: never", what)
		}
		until("the event propagated", func() bool { return count(store.PropagationSource("0"), store.QueueDone) == 1 })
		// A reload after another, meanwhile.
		reloads := make(chan struct{})
		go func() {
			defer close(reloads)
			for runCtx.Err() == nil {
				q.SetLimits(sync.Limits{Settle: time.Second, MaxAttempts: 1, MaxDeletesPerHour: 1})
				time.Sleep(time.Millisecond)
			}
		}()
		defer func() { stop(); <-reloads }()

		// One attempt: the vendor's first failure dead-letters the propagation.
		prop.mu.Lock()
		prop.fail = true
		prop.mu.Unlock()
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("2", provider.EventUserDisable, "ann", clk.Now())}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Second)
		q.Wake()
		until("the failed propagation dead-lettered at its first attempt", func() bool {
			dead, err := q.Store.ListEvents(ctx, store.QueueFilter{State: store.QueueDead})
			return err == nil && len(dead) == 1 && dead[0].Attempts == 1
		})

		// One deletion an hour: the second pauses the source.
		for _, name := range []string{"d1", "d2"} {
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: name}); err != nil {
				t.Fatal(err)
			}
		}
		var evs []provider.LifecycleEvent
		for i, name := range []string{"d1", "d2"} {
			evs = append(evs, ev(fmt.Sprint("del", i), provider.EventUserDelete, name, clk.Now()))
		}
		if _, err := q.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Second)
		q.Wake()
		until("the source paused at its second deletion", func() bool {
			st, err := q.Status(ctx)
			return err == nil && len(st.Paused) == 1 && st.Counts["okta"][store.QueuePending] == 1
		})
	})
}

// TestSetLimitsDefaults: zero limits are the defaults, as at start; a negative
// MaxDeletesPerHour turns the guard off.
func TestSetLimitsDefaults(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		q, _, _ := newQueue(t, st)
		q.SetLimits(sync.Limits{Settle: -time.Second})
		if got, want := q.Limits(), (sync.Limits{MaxAttempts: 10, MaxDeletesPerHour: sync.DefaultMaxDeletesPerHour}); got != want {
			t.Errorf("limits %+v, want %+v", got, want)
		}
		q.SetLimits(sync.Limits{MaxDeletesPerHour: -1, MaxAttempts: 3})
		if got, want := q.Limits(), (sync.Limits{MaxAttempts: 3, MaxDeletesPerHour: -1}); got != want {
			t.Errorf("limits %+v, want %+v", got, want)
		}
	})
}
