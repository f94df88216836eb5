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
				if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: at}); err != nil {
					b.Fatal(err)
				}
				for i := range clients {
					if err := s.CreateFactor(ctx, store.Factor{ID: fmt.Sprint("f", i), UserID: "u1", Type: "totp", State: store.FactorActive,
						Secret: []byte("s"), KeyID: "k1", Counter: -1, CreatedAt: at, UpdatedAt: at}); err != nil {
						b.Fatal(err)
					}
				}
				var next atomic.Int64
				cpu := rusage.Process()
				b.ResetTimer()
				run := func(id string) {
					for c := int64(1); ; c++ {
						if next.Add(1) > int64(b.N) {
							return
						}
						err := s.Update(wctx, validation(ctx, id, c, at))
						if err != nil {
							b.Error(err)
							return
						}
					}
				}
				done := make(chan struct{})
				for i := range clients {
					go func() {
						defer func() { done <- struct{}{} }()
						run(fmt.Sprint("f", i))
					}()
				}
				for range clients {
					<-done
				}
				b.StopTimer()
				b.ReportMetric(float64((rusage.Process()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
			})
		}
	}
}
