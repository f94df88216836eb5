package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// TestBusyHoldFromWrongClock: a vendor's hold shared in the store by a replica
// whose clock is a day ahead holds the other replicas no longer than the longest hold a
// refusal can ask (MaxRetryAfter, past the skew allowed). The mark only moves forward, a
// restart does not clear it and no command lifts it: every replica sent that vendor
// nothing for a day.
func TestBusyHoldFromWrongClock(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		_, b, duo, clk := refusedOnOne(t, st, 3, 24*time.Hour)
		duo.mu.Lock()
		duo.limited = false
		duo.mu.Unlock()
		clk.Advance(sync.MaxRetryAfter + sync.MaxFutureSkew + time.Second)
		if _, err := b.PropagateOnce(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if len(duo.done) != 2 {
			t.Errorf("replica b, past the longest hold, sent the vendor %v; want the two a gave back", duo.done)
		}
	})
}
