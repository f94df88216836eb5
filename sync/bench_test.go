package sync_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// BenchmarkQueueApply measures events applied per second from the queue: user creations
// of distinct users, claimed in batches and applied through the lifecycle manager.
func BenchmarkQueueApply(b *testing.B) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", testdb.SQLite}, {"postgres", testdb.Postgres}} {
		b.Run(backend.name, func(b *testing.B) {
			ctx := context.Background()
			q, _, clk := newQueue(b, backend.open(b))
			evs := make([]provider.LifecycleEvent, b.N)
			for i := range evs {
				evs[i] = ev(fmt.Sprint(i), provider.EventUserCreate, fmt.Sprintf("bench%07d", i), clk.Now())
			}
			for i := 0; i < len(evs); i += 1000 {
				if _, err := q.Enqueue(ctx, evs[i:min(i+1000, len(evs))]); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			n, err := q.Drain(ctx)
			if err != nil || n != b.N {
				b.Fatalf("drained %d of %d: %v", n, b.N, err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
