package sqlite_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// TestConcurrentClaimsTwoBodies: one X-Webhook-ID retried at once with two bodies
// (two fingerprints), some attempts claiming first, some recording their answer in their
// unit, on the group writer's fresh-insert claim (claimOnWriter): exactly one claim per
// fingerprint, the others find it held or recorded by its claimer, and exactly one of the
// two claimers is told the ID is recorded under another fingerprint (the later).
func TestConcurrentClaimsTwoBodies(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	for round := range 5 {
		s := open(t, fileDSN(t))
		const n = 24
		claims := make([]store.IdempotencyClaim, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := store.IdempotencyKey{Provider: "emfa", WebhookID: "wh", Fingerprint: [2]string{"a", "b"}[i%2]}
				owner := fmt.Sprintf("o%d", i)
				ctx := context.Background()
				<-start
				if i%4 < 2 {
					claims[i], errs[i] = s.ClaimIdempotency(ctx, k, owner, now.Add(time.Minute), now.Add(time.Hour), now)
					return
				}
				errs[i] = s.Update(ctx, func(w store.Writer) (err error) {
					claims[i], err = w.RecordIdempotency(ctx, k, owner, 200, []byte(owner), now.Add(time.Minute), now.Add(time.Hour), now)
					return err
				})
			}()
		}
		close(start)
		wg.Wait()
		winner := map[string]string{}
		others := 0
		for i, c := range claims {
			if errs[i] != nil {
				t.Fatalf("round %d: attempt %d: %v", round, i, errs[i])
			}
			fp := [2]string{"a", "b"}[i%2]
			if c.Claimed {
				if w, ok := winner[fp]; ok {
					t.Errorf("round %d: fingerprint %s claimed by %s and o%d", round, fp, w, i)
				}
				winner[fp] = fmt.Sprintf("o%d", i)
				if c.OtherFingerprint {
					others++
				}
			}
		}
		for i, c := range claims {
			fp := [2]string{"a", "b"}[i%2]
			if !c.Claimed && c.Record.Owner != winner[fp] {
				t.Errorf("round %d: attempt o%d found %+v, want held by %s", round, i, c.Record, winner[fp])
			}
		}
		if len(winner) != 2 || others != 1 {
			t.Errorf("round %d: claimers %v, %d told of another fingerprint; want one per fingerprint, one told", round, winner, others)
		}
	}
}
