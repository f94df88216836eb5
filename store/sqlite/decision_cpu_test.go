package sqlite_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/rusage"
	"github.com/emfa/emfa/store"
)

// BenchmarkDecisionCPU runs successful validations' units (AdvanceCounter and its
// audit row, which records the factor's use) from 64 goroutines, each on a factor of its
// own, on a database file, and reports the process's CPU time per unit (cpu-µs/op): the
// writer's work, which ns/op hides behind the commits' fsync waits.
// validation is a successful TOTP validation's unit: factor id's counter advanced to c
// and its audit row, at at.
func validation(ctx context.Context, id string, c int64, at time.Time) func(w store.Writer) error {
	return func(w store.Writer) error {
		if err := w.AdvanceCounter(ctx, id, c, at); err != nil {
			return err
		}
		return w.AppendAudit(ctx, store.AuditEvent{Time: at, Provider: "p", Username: "alice", Capability: "totp",
			FactorID: id, Resource: "validate", Outcome: "SUCCESS"})
	}
}

func BenchmarkDecisionCPU(b *testing.B) {
	for _, clients := range []int{1, 64} {
		for _, deferred := range []bool{false, true} {
			b.Run(fmt.Sprint("clients=", clients, "/deferred=", deferred), func(b *testing.B) {
				s := open(b, fileDSN(b))
				ctx := b.Context()
				at := time.UnixMilli(1_700_000_000_000)
				wctx := ctx
				if deferred {
					wctx = store.DeferSync(ctx)
				}
				seedFactors(b, s, at, clients)
				perClientCPU(b, clients, func(client int) func(int64) error {
					id, c := fmt.Sprint("f", client), int64(0)
					return func(int64) error {
						c++
						return s.Update(wctx, validation(ctx, id, c, at))
					}
				})
			})
		}
	}
}

// seedFactors creates alice (u1) and n TOTP factors of hers, f0 to f(n-1), at at.
func seedFactors(tb testing.TB, s store.Store, at time.Time, n int) {
	tb.Helper()
	ctx := context.Background()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: at}); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		if err := s.CreateFactor(ctx, store.Factor{ID: fmt.Sprint("f", i), UserID: "u1", Type: "totp", State: store.FactorActive,
			Secret: []byte("s"), KeyID: "k1", Counter: -1, CreatedAt: at, UpdatedAt: at}); err != nil {
			tb.Fatal(err)
		}
	}
}

// perClientCPU runs b.N operations from clients goroutines, client k's the calls of
// client(k) with each operation's number (1 to b.N), and reports the process's CPU time
// per operation (cpu-µs/op) and its allocations.
func perClientCPU(b *testing.B, clients int, client func(k int) func(n int64) error) {
	var next atomic.Int64
	cpu := rusage.Process()
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan struct{})
	for k := range clients {
		op := client(k)
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				if err := op(n); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for range clients {
		<-done
	}
	b.StopTimer()
	b.ReportMetric(float64((rusage.Process()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}
