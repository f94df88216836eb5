package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// TestFreshClaim: the group writer's claim tries a plain insert first (freshClaimSQL,
// freshRecordSQL); what it answers in each state an ID can be in is what the upsert's was.
func TestFreshClaim(t *testing.T) {
	at := func(d time.Duration) time.Time { return time.UnixMilli(1_700_000_000_000).Add(d) }
	key := func(id, fp string) store.IdempotencyKey {
		return store.IdempotencyKey{Provider: "emfa", WebhookID: id, Fingerprint: fp}
	}
	type claimFn func(s store.Store, k store.IdempotencyKey, owner string, now time.Time) (store.IdempotencyClaim, error)
	claim := func(s store.Store, k store.IdempotencyKey, owner string, now time.Time) (store.IdempotencyClaim, error) {
		return s.ClaimIdempotency(context.Background(), k, owner, now.Add(10*time.Second), now.Add(10*time.Minute), now)
	}
	record := func(s store.Store, k store.IdempotencyKey, owner string, now time.Time) (c store.IdempotencyClaim, err error) {
		err = s.Update(context.Background(), func(w store.Writer) error {
			c, err = w.RecordIdempotency(context.Background(), k, owner, 200, []byte("b"), now.Add(10*time.Second), now.Add(10*time.Minute), now)
			return err
		})
		return c, err
	}
	for name, fn := range map[string]claimFn{"claim": claim, "record": record} {
		t.Run(name, func(t *testing.T) {
			s := open(t, ":memory:")
			ctx := context.Background()
			// Held by a: another owner finds it held; b under another fingerprint claims
			// its own, and is told.
			if c, err := claim(s, key("h", "x"), "a", at(0)); err != nil || !c.Claimed {
				t.Fatalf("first: %+v %v", c, err)
			}
			if c, err := fn(s, key("h", "x"), "b", at(time.Second)); err != nil || c.Claimed || c.Record.Owner != "a" {
				t.Errorf("held by another: %+v %v", c, err)
			}
			if c, err := fn(s, key("h", "y"), "b", at(time.Second)); err != nil || !c.Claimed || !c.OtherFingerprint {
				t.Errorf("other fingerprint held: %+v %v", c, err)
			}
			// Expired, with another fingerprint of the ID still there: taken, and told.
			if c, err := fn(s, key("h", "x"), "c", at(11*time.Minute)); err != nil || !c.Claimed || !c.OtherFingerprint || c.Record.Owner != "c" {
				t.Errorf("expired, another fingerprint there: %+v %v", c, err)
			}
			// Recorded done: returned, never taken before it expires.
			if c, err := claim(s, key("d", "x"), "a", at(0)); err != nil || !c.Claimed {
				t.Fatal(c, err)
			}
			if err := s.CompleteIdempotency(ctx, key("d", "x"), "a", 201, []byte("y"), at(2*time.Second)); err != nil {
				t.Fatal(err)
			}
			if c, err := fn(s, key("d", "x"), "d", at(3*time.Second)); err != nil || c.Claimed || !c.Record.Done || c.Record.Status != 201 {
				t.Errorf("recorded done: %+v %v", c, err)
			}
			// Lease passed: taken over.
			if c, err := claim(s, key("l", "x"), "a", at(0)); err != nil || !c.Claimed {
				t.Fatal(c, err)
			}
			if c, err := fn(s, key("l", "x"), "e", at(10*time.Second)); err != nil || !c.Claimed || c.OtherFingerprint || c.Record.Owner != "e" {
				t.Errorf("lease passed: %+v %v", c, err)
			}
			if got, err := s.GetIdempotency(ctx, key("l", "x")); err != nil || got.Owner != "e" {
				t.Errorf("after the take-over: %+v %v", got, err)
			}
		})
	}
}
