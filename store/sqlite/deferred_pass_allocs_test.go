package sqlite_test

import (
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// TestGroupDeferredPassAllocs: what a deferred pass through the group writer
// allocates, empty and with a mediated initiate's idempotency claim (Idempotency.Do's
// first pass). Before issue 16's P44: 19 and 36, the synchronous pragma's two statements
// joined at every deferred batch, each run's writer allocated apart from its unit, and
// each run's context without cancelation.
func TestGroupDeferredPassAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	s := open(t, fileDSN(t))
	ctx := store.DeferSync(t.Context())
	empty := allocsPerCall(t, func() {
		if err := s.Update(ctx, func(store.Writer) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
	now := time.Now()
	var i int64
	claim := allocsPerCall(t, func() {
		i++
		c, err := s.ClaimIdempotency(ctx, benchClaimKey(i), benchOwner, now.Add(4*time.Second), now.Add(time.Hour), now)
		if err != nil || !c.Claimed {
			t.Fatalf("claim %+v: %v", c, err)
		}
	})
	if empty > 15 || claim > 32 {
		t.Errorf("allocations a deferred pass: empty %v, claim %v; want at most 15 and 32", empty, claim)
	}
}
