package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// BenchmarkInitiateStore runs a mediated push initiate's store work from 64
// goroutines: the disabled read, the deferred idempotency claim, and the deciding unit
// (transaction, audit row, the idempotency answer) made durable; it reports the
// process's CPU per initiate (cpu-µs/op).
func BenchmarkInitiateStore(b *testing.B) {
	s := open(b, fileDSN(b))
	ctx := b.Context()
	body := []byte(`{"status":"PENDING","transactionId":"0123456789abcdef0123456789abcdef"}`)
	perClientCPU(b, 64, func(int) func(int64) error {
		return func(i int64) error {
			now := time.Now()
			if _, err := s.UserDisabled(ctx, "alice"); err != nil {
				return err
			}
			key, owner := benchClaimKey(i), benchOwner
			c, err := s.ClaimIdempotency(store.DeferSync(ctx), key, owner, now.Add(4*time.Second), now.Add(time.Hour), now)
			if err != nil || !c.Claimed {
				return fmt.Errorf("claim %+v: %v", c, err)
			}
			return s.Update(store.SyncNow(store.DeferSync(ctx)), func(w store.Writer) error {
				if err := initiateWrites(ctx, w, i, now, key.WebhookID); err != nil {
					return err
				}
				return w.CompleteIdempotency(ctx, key, owner, 200, body, now)
			})
		}
	})
}

// benchOwner and benchClaimKey are the owner and the key (a fresh X-Webhook-ID of call
// i) of the store benchmarks' idempotency claims.
const benchOwner = "0123456789abcdef0123456789abcdef"

func benchClaimKey(i int64) store.IdempotencyKey {
	return store.IdempotencyKey{Provider: "duo", WebhookID: fmt.Sprint("bench-", i),
		Fingerprint: "initiate:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
}

// initiateWrites are a mediated push initiate's writes in its deciding unit, before its
// idempotency answer: the transaction and its audit row.
func initiateWrites(ctx context.Context, w store.Writer, i int64, now time.Time, webhookID string) error {
	if err := w.CreateTransaction(ctx, store.Transaction{ID: fmt.Sprint("duo", i), Provider: "duo", Username: "alice",
		Capability: "push", FactorID: "DPFZRS9FB0D46QFTM891", Status: "PENDING", Data: []byte(`{"txid":"abc"}`),
		ExpiresAt: now.Add(time.Minute), CreatedAt: now, UpdatedAt: now}); err != nil {
		return err
	}
	return w.AppendAudit(ctx, store.AuditEvent{Time: now, RequestID: "req", Provider: "duo", Username: "alice",
		Capability: "push", FactorID: "DPFZRS9FB0D46QFTM891", Resource: "initiate", Outcome: "PENDING", WebhookID: webhookID})
}

// TestClaimAllocs: the idempotency claim of every call with an X-Webhook-ID (Do's,
// before a push initiate calls its vendor), a batch of its own on the group writer. As
// one upsert read for its RETURNING row (database/sql's Rows, the goroutine watching the
// transaction's context, SQLite's ephemeral table): 69 allocations; as two Execs: 60.
func TestClaimAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	s := open(t, fileDSN(t))
	ctx := store.DeferSync(t.Context())
	now := time.UnixMilli(1_700_000_000_000)
	owner := "0123456789abcdef0123456789abcdef"
	keys := make([]store.IdempotencyKey, 300)
	for i := range keys {
		keys[i] = store.IdempotencyKey{Provider: "duo", WebhookID: fmt.Sprint("claim-", i), Fingerprint: "initiate:0123456789abcdef"}
	}
	i := 0
	claim := func() {
		c, err := s.ClaimIdempotency(ctx, keys[i], owner, now.Add(4*time.Second), now.Add(time.Hour), now)
		i++
		if err != nil || !c.Claimed || c.OtherFingerprint {
			t.Fatalf("claim: %+v, %v", c, err)
		}
	}
	for range 3 {
		claim() // the statements prepared
	}
	if got := testing.AllocsPerRun(200, claim); got > 60 {
		t.Errorf("a claim: %.0f allocations, want ≤ 60", got)
	}
}
