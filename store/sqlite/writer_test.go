package sqlite_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

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
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	hooks := make([]string, 0, 400)
	for i := range cap(hooks) {
		hooks = append(hooks, fmt.Sprint("hook-", i))
	}
	got := unitAllocs(t, func(c int64) func(store.Writer) error { return validateUnit(ctx, "f0", c, at, hooks[c]) })
	t.Logf("%.0f allocations a validation's unit", got)
	// 94 with the record read back through QueryRow, 76 with its fresh insert's count,
	// 49 on the writer's driver connection (rawConn).
	const want = 51
	if got > want {
		t.Errorf("a validation's unit costs %.0f allocations, want at most %d", got, want)
	}
}

// unitAllocs is the allocations of one unit through the group writer of an in-memory
// store holding alice's factor f0, unit(c) its c-th (from 1), once its statements are
// prepared.
func unitAllocs(t *testing.T, unit func(c int64) func(store.Writer) error) float64 {
	t.Helper()
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	s := open(t, ":memory:")
	seedFactors(t, s, time.UnixMilli(1_700_000_000_000), 1)
	var c int64
	run := func() {
		c++
		if err := s.Update(context.Background(), unit(c)); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		run() // the statements prepared
	}
	return testing.AllocsPerRun(100, run)
}

// TestDecisionAllocs counts the allocations of a decision's unit (AdvanceCounter
// and its audit row, validation) through the group writer, one unit a batch, as
// BenchmarkDecisionCPU's single client runs them. Through database/sql each batch began a
// Tx (a context to cancel, its connection's lookups), bound each statement to it
// (Tx.StmtContext), and each statement converted its arguments into a slice of
// driver.NamedValue of its own and wrapped the driver's result.
func TestDecisionAllocs(t *testing.T) {
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	got := unitAllocs(t, func(c int64) func(store.Writer) error { return validation(ctx, "f0", c, at) })
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
	seedFactors(b, s, at, clients)
	perClientCPU(b, clients, func(client int) func(int64) error {
		id, c := fmt.Sprint("f", client), int64(0)
		return func(n int64) error {
			c++
			return s.Update(ctx, validateUnit(ctx, id, c, at, strconv.FormatInt(n, 10)))
		}
	})
}
