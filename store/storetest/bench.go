package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// benchFactors is how many factors the parallel benchmarks spread over: enough that
// goroutines rarely share one, so they measure the backend's write path, not row contention.
const benchFactors = 64

// setupBench creates one user with benchFactors factors, b0..b63.
func setupBench(b *testing.B, s store.Store) {
	b.Helper()
	ctx := b.Context()
	if err := s.CreateUser(ctx, newUser("bench")); err != nil {
		b.Fatalf("CreateUser: %v", err)
	}
	for i := range benchFactors {
		if err := s.CreateFactor(ctx, newFactor(fmt.Sprintf("b%d", i), "bench", at(0))); err != nil {
			b.Fatalf("CreateFactor: %v", err)
		}
	}
}

// BenchAdvanceCounter measures AdvanceCounter, the write on every successful TOTP/HOTP
// check: "serial" from one goroutine, "parallel" from GOMAXPROCS goroutines (b.SetParallelism
// scales that up) on distinct factors. newStore returns an empty store.
func BenchAdvanceCounter(b *testing.B, newStore func(b *testing.B) store.Store) {
	b.Run("serial", func(b *testing.B) {
		s := newStore(b)
		setupBench(b, s)
		ctx := b.Context()
		var next int64
		for b.Loop() {
			next++
			if err := s.AdvanceCounter(ctx, "b0", next, at(0)); err != nil {
				b.Fatalf("AdvanceCounter: %v", err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		s := newStore(b)
		setupBench(b, s)
		ctx := b.Context()
		var worker atomic.Int64
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			id := fmt.Sprintf("b%d", worker.Add(1)%benchFactors)
			// Goroutines get distinct factors unless there are more than benchFactors of
			// them; then one may have gone further on a shared factor, and ErrReplay is
			// expected.
			var next int64
			for pb.Next() {
				next++
				if err := s.AdvanceCounter(ctx, id, next, at(0)); err != nil && !errors.Is(err, store.ErrReplay) {
					b.Errorf("AdvanceCounter: %v", err)
					return
				}
			}
		})
	})
}

// BenchGetFactor measures GetFactor, the read in front of every verification.
func BenchGetFactor(b *testing.B, newStore func(b *testing.B) store.Store) {
	b.Run("serial", func(b *testing.B) {
		s := newStore(b)
		setupBench(b, s)
		ctx := b.Context()
		for b.Loop() {
			if _, err := s.GetFactor(ctx, "b0"); err != nil {
				b.Fatalf("GetFactor: %v", err)
			}
		}
	})
	// A validation's one read: the factor and its user, by factor ID and user name.
	b.Run("with-user", func(b *testing.B) {
		s := newStore(b)
		setupBench(b, s)
		ctx := b.Context()
		name := newUser("bench").Name
		for b.Loop() {
			if _, u, err := s.GetFactorAndUser(ctx, "b0", name); err != nil || u.Name != name {
				b.Fatalf("GetFactorAndUser: %v %v", u, err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		s := newStore(b)
		setupBench(b, s)
		ctx := b.Context()
		var worker atomic.Int64
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			id := fmt.Sprintf("b%d", worker.Add(1)%benchFactors)
			for pb.Next() {
				if _, err := s.GetFactor(ctx, id); err != nil {
					b.Errorf("GetFactor: %v", err)
					return
				}
			}
		})
	})
}

// BenchDecision measures what a successful TOTP validation writes, its counter update, its
// audit row and its idempotency record in one unit, from benchClients goroutines at once on distinct factors: the write path
// under the load issue 16 sets its target at. newStore returns an empty store.
func BenchDecision(b *testing.B, newStore func(b *testing.B) store.Store) {
	s := newStore(b)
	setupBench(b, s)
	ctx := b.Context()
	var worker atomic.Int64
	b.SetParallelism((benchFactors + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		id := fmt.Sprintf("b%d", worker.Add(1)%benchFactors)
		var next int64
		for pb.Next() {
			next++
			if err := decide(ctx, s, id, next); err != nil && !errors.Is(err, store.ErrReplay) {
				b.Errorf("decision: %v", err)
				return
			}
		}
	})
}

// decide writes one decision as one unit, as a validation with an X-Webhook-ID does
// (provider.Decide under DoLate): the counter, the audit row (and the factor's last use),
// then the claim of the call's idempotency record with its answer.
func decide(ctx context.Context, s store.Store, id string, next int64) error {
	return s.Update(ctx, func(w store.Writer) error {
		if err := w.AdvanceCounter(ctx, id, next, at(0)); err != nil {
			return err
		}
		err := w.AppendAudit(ctx, store.AuditEvent{Time: at(0), Provider: "bench", FactorID: id, Resource: "validate", Outcome: "SUCCESS"})
		if err != nil {
			return err
		}
		key := store.IdempotencyKey{Provider: "bench", WebhookID: fmt.Sprintf("%s-%d", id, next), Fingerprint: "f"}
		claim, err := w.RecordIdempotency(ctx, key, "bench", 200, []byte(`{"status":"SUCCESS"}`), at(time.Minute), at(time.Hour), at(0))
		if err == nil && !claim.Claimed {
			err = fmt.Errorf("webhook ID %s: claimed by another", key.WebhookID)
		}
		return err
	})
}
