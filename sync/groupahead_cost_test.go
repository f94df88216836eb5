package sync_test

import (
	"context"
	"fmt"
	gosync "sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// rowsRead counts the rows the queue's ListEvents returns.
type rowsRead struct {
	store.SyncQueue
	mu          gosync.Mutex
	calls, rows int
}

func (r *rowsRead) ListEvents(ctx context.Context, f store.QueueFilter) ([]store.QueuedEvent, error) {
	evs, err := r.SyncQueue.ListEvents(ctx, f)
	r.mu.Lock()
	r.calls++
	r.rows += len(evs)
	r.mu.Unlock()
	return evs, err
}

// TestGroupAheadReadsItsGroupsAlone: with the vendor failing and n group creates of
// distinct groups pending, one retry round of them (each propagation's groupAhead) reads
// the pending propagations that name its groups, not every older pending one of any
// group: that was n²/2 rows read and decoded a round (5,000 waiting: 12.5 million).
func TestGroupAheadReadsItsGroupsAlone(t *testing.T) {
	const n = 2000
	ctx := context.Background()
	st := testdb.SQLite(t)
	q, _, clk := newQueue(t, st)
	count := &rowsRead{SyncQueue: q.Store}
	q.Store = count
	duo := newVendor("duo")
	q.Propagators = []provider.LifecyclePropagator{duo}
	duo.failing(provider.EventGroupCreate, true)
	var rows []store.QueuedEvent
	for i := range n {
		c := ev(fmt.Sprintf("c%05d", i), provider.EventGroupCreate, "", clk.Now().Add(-time.Hour+time.Duration(i)*time.Millisecond))
		c.Group = fmt.Sprintf("g%05d", i)
		r, err := q.Propagations(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r...)
	}
	if got, err := count.EnqueueEvents(ctx, rows, clk.Now()); err != nil || got != n {
		t.Fatalf("the backlog: %d, %v", got, err)
	}
	start := time.Now()
	drain(t, q)
	t.Logf("%d pending group creates, one round: %d ListEvents calls, %d rows read (%.1f a propagation), %v",
		n, count.calls, count.rows, float64(count.rows)/n, time.Since(start))
	if count.rows > 2*n {
		t.Errorf("one round of %d pending group creates read %d rows, want at most %d", n, count.rows, 2*n)
	}
	duo.mu.Lock()
	defer duo.mu.Unlock()
	if len(duo.calls) != 0 {
		t.Errorf("the failing vendor recorded %d calls", len(duo.calls))
	}
}
