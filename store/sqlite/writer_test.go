package sqlite_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/rusage"
	"github.com/emfa/emfa/store"
)

// validateUnit is an HTTP validation's unit, as the built-in TOTP engine writes it under
// DoLate: the call's idempotency record with its answer (a fresh X-Webhook-ID, hook),
// factor id's counter advanced to c, and the audit row.
func validateUnit(ctx context.Context, id string, c int64, at time.Time, hook string) func(w store.Writer) error {
	body := []byte(`{"result":"SUCCESS"}`)
	return func(w store.Writer) error {
		claim, err := w.RecordIdempotency(ctx, store.IdempotencyKey{Provider: "p", WebhookID: hook, Fingerprint: "fp"}, "owner",
			200, body, at.Add(12*time.Second), at.Add(10*time.Minute), at)
		if err != nil {
			return err
		}
		if !claim.Claimed || claim.OtherFingerprint {
			return fmt.Errorf("claim %+v, want claimed alone", claim)
		}
		return validation(ctx, id, c, at)(w)
	}
}

// TestValidateUnitAllocs counts the allocations of an HTTP validation's unit through
// the group writer (RecordIdempotency, AdvanceCounter, AppendAudit). The idempotency
// record's upsert was read back through database/sql's Rows (QueryRow): in a transaction,
// a Rows with a context of its own and a goroutine watching the transaction's
// (Rows.initContextClose), its result's column names from the driver, and Scan's
// conversion, for a RETURNING that a record new to the store answers the same way each
// time (claimed, no other fingerprint).
func TestValidateUnitAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	s := open(t, ":memory:")
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("s"), KeyID: "k1", Counter: -1, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	var c int64
	hooks := make([]string, 0, 400)
	for i := range cap(hooks) {
		hooks = append(hooks, fmt.Sprint("hook-", i))
	}
	run := func() {
		c++
		if err := s.Update(ctx, validateUnit(ctx, "f1", c, at, hooks[c])); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		run() // the statements prepared
	}
	got := testing.AllocsPerRun(100, run)
	t.Logf("%.0f allocations a validation's unit", got)
	// 94 with the record read back through QueryRow, 76 with its fresh insert's count,
	// 49 on the writer's driver connection (rawConn).
	const want = 51
	if got > want {
		t.Errorf("a validation's unit costs %.0f allocations, want at most %d", got, want)
	}
}

// TestDecisionAllocs counts the allocations of a decision's unit (AdvanceCounter
// and its audit row, validation) through the group writer, one unit a batch, as
// BenchmarkDecisionCPU's single client runs them. Through database/sql each batch began a
// Tx (a context to cancel, its connection's lookups), bound each statement to it
// (Tx.StmtContext), and each statement converted its arguments into a slice of
// driver.NamedValue of its own and wrapped the driver's result.
func TestDecisionAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	s := open(t, ":memory:")
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("s"), KeyID: "k1", Counter: -1, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	var c int64
	run := func() {
		c++
		if err := s.Update(ctx, validation(ctx, "f1", c, at)); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		run() // the statements prepared
	}
	got := testing.AllocsPerRun(100, run)
	t.Logf("%.0f allocations a decision's unit", got)
	// 52 through database/sql, 32 on the writer's driver connection (rawConn).
	const want = 34
	if got > want {
		t.Errorf("a decision's unit costs %.0f allocations, want at most %d", got, want)
	}
}

// BenchmarkValidateCPU is BenchmarkDecisionCPU (64 clients, durable) with an HTTP
// validation's unit (validateUnit): the process's CPU per unit.
func BenchmarkValidateCPU(b *testing.B) {
	const clients = 64
	s := open(b, fileDSN(b))
	ctx := b.Context()
	at := time.UnixMilli(1_700_000_000_000)
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
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan struct{})
	for i := range clients {
		go func() {
			defer func() { done <- struct{}{} }()
			id := fmt.Sprint("f", i)
			for c := int64(1); ; c++ {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				if err := s.Update(ctx, validateUnit(ctx, id, c, at, strconv.FormatInt(n, 10))); err != nil {
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
