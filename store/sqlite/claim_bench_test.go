package sqlite_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// BenchmarkClaimPass is Idempotency.Do's claim as the group writer runs it: a
// deferred unit of its own, one fresh X-Webhook-ID a call, one caller at a time. Session
// 65 (callgrind, instructions a claim): 181k, of which an empty pass is 51k
// (BenchmarkEmptyPass) and the fresh insert with its WAL frames the rest
// (_walChecksumBytes alone 17.6k).
func BenchmarkClaimPass(b *testing.B) {
	s := open(b, fileDSN(b))
	ctx := store.DeferSync(b.Context())
	now := time.Now()
	for i := int64(0); b.Loop(); i++ {
		c, err := s.ClaimIdempotency(ctx, benchClaimKey(i), benchOwner, now.Add(4*time.Second), now.Add(time.Hour), now)
		if err != nil || !c.Claimed {
			b.Fatalf("claim %+v: %v", c, err)
		}
	}
}

// BenchmarkEmptyPass is a deferred unit that writes nothing: the fixed cost of a
// pass through the group writer (hand-off, PRAGMAs, BEGIN, COMMIT).
func BenchmarkEmptyPass(b *testing.B) {
	s := open(b, fileDSN(b))
	ctx := store.DeferSync(b.Context())
	for b.Loop() {
		if err := s.Update(ctx, func(store.Writer) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInitiateUnits is a push initiate's store writes, one caller at a time,
// with its idempotency record three ways: claimed apart (Idempotency.Do: a deferred pass
// of its own, then the deciding unit completes it, durably), claimed and recorded in the
// deciding unit (what a claim riding the decision's commit would cost: DoLate's unit), and
// none (no X-Webhook-ID). Session 65 (callgrind, instructions a call): apart 538k,
// inUnit 371k, none 241k.
func BenchmarkInitiateUnits(b *testing.B) {
	for _, mode := range []string{"apart", "inUnit", "none"} {
		b.Run(mode, func(b *testing.B) {
			s := open(b, fileDSN(b))
			ctx := b.Context()
			body := []byte(`{"status":"PENDING","transactionId":"0123456789abcdef0123456789abcdef"}`)
			owner := benchOwner
			for i := int64(0); b.Loop(); i++ {
				now := time.Now()
				key := benchClaimKey(i)
				if mode == "apart" {
					c, err := s.ClaimIdempotency(store.DeferSync(ctx), key, owner, now.Add(4*time.Second), now.Add(time.Hour), now)
					if err != nil || !c.Claimed {
						b.Fatalf("claim %+v: %v", c, err)
					}
				}
				err := s.Update(store.SyncNow(store.DeferSync(ctx)), func(w store.Writer) error {
					if err := initiateWrites(ctx, w, i, now, key.WebhookID); err != nil {
						return err
					}
					switch mode {
					case "apart":
						return w.CompleteIdempotency(ctx, key, owner, 200, body, now)
					case "inUnit":
						c, err := w.RecordIdempotency(ctx, key, owner, 200, body, now.Add(4*time.Second), now.Add(time.Hour), now)
						if err == nil && !c.Claimed {
							err = fmt.Errorf("not claimed: %+v", c)
						}
						return err
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetIdempotencyMiss is the read of an ID new to the store through the
// readers: what a claim kept in the process (no pass through the writer) would read
// first, to replay an answer recorded by an earlier attempt, and what a waiting retry
// reads at each poll. Session 65 (callgrind): 81k instructions and 62 allocs through
// database/sql, 41k and 47 as a keyed read.
func BenchmarkGetIdempotencyMiss(b *testing.B) {
	s := open(b, fileDSN(b))
	ctx := b.Context()
	for i := 0; b.Loop(); i++ {
		key := store.IdempotencyKey{Provider: "duo", WebhookID: fmt.Sprint("bench-", i), Fingerprint: "initiate:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
		if _, err := s.GetIdempotency(ctx, key); !errors.Is(err, store.ErrNotFound) {
			b.Fatal(err)
		}
	}
}
