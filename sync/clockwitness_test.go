package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// clockWitnessed is a store with a clock of its own (store.ClockWitness) that says when
// it is asked to compare.
type clockWitnessed struct {
	store.SyncQueue
	asked chan struct{}
}

func (c *clockWitnessed) CheckClock(context.Context) error {
	select {
	case c.asked <- struct{}{}:
	default:
	}
	return nil
}

// TestRunComparesClockWithStore: the sync worker asks a store with a clock of its own
// (PostgreSQL's) to compare this process's clock with it as it runs: a clock that drifts
// after the process started, or is set wrong then, is said in the log (the store's
// CheckClock, which reads the clock at most every store.ClockCheckEvery). Before, it was
// compared only at open, and a long-running serve whose clock went an hour ahead said
// nothing while its changes were held from the other replicas for the hour.
func TestRunComparesClockWithStore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q, _, _ := newQueue(t, testdb.SQLite(t))
	w := &clockWitnessed{SyncQueue: q.Store, asked: make(chan struct{}, 1)}
	q.Store = w
	q.Poll = time.Millisecond
	ran := make(chan struct{})
	go func() { defer close(ran); q.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	for range 2 { // on its turns, not once
		select {
		case <-w.asked:
		case <-time.After(30 * time.Second):
			t.Fatal("the worker did not ask the store to compare the clocks")
		}
	}
}
