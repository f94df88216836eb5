package builtin_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// resetCounter counts the failure resets written as writes of their own, outside a unit.
type resetCounter struct {
	store.Store
	resets atomic.Int32
}

func (r *resetCounter) ResetFailures(ctx context.Context, id string, now time.Time) error {
	r.resets.Add(1)
	return r.Store.ResetFailures(ctx, id, now)
}

// TestCodeAfterFailuresIsOneCommit: a right TOTP or HOTP code after wrong ones clears the
// failures in the unit that advances the counter (AdvanceCounter), so the success costs
// that one commit and no second write to reset them again.
func TestCodeAfterFailuresIsOneCommit(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		rc := &resetCounter{Store: st}
		ctx := context.Background()

		f := newEngineFixture(t, rc, nil)
		totpID := f.enroll(t, "totp", "alice", "secret", builtin.EncodeSecret(rfcSeed)).Factor.ID
		right := builtin.HOTP(builtin.SHA1, rfcSeed, uint64(f.clock.Now().Unix()/30), 6)
		expect(t, "wrong totp", f.validate(t, "alice", "totp", totpID, "", otherCode(right)), provider.StatusFailed, "wrong code")
		expect(t, "right totp", f.validate(t, "alice", "totp", totpID, "", right), provider.StatusSuccess, "")

		hotpID := f.enrollHOTP(t, "bob", 0)
		expect(t, "wrong hotp", f.validate(t, "bob", "hotp", hotpID, "", otherCode(hotpCode(0))), provider.StatusFailed, "wrong code")
		expect(t, "right hotp", f.validate(t, "bob", "hotp", hotpID, "", hotpCode(0)), provider.StatusSuccess, "accepted")

		for _, id := range []string{totpID, hotpID} {
			if fac, err := st.GetFactor(ctx, id); err != nil || fac.Failures != 0 || !fac.LockedUntil.IsZero() {
				t.Errorf("factor %s after its success: %d failures, locked until %v, %v", id, fac.Failures, fac.LockedUntil, err)
			}
		}
		if n := rc.resets.Load(); n != 0 {
			t.Errorf("%d failure resets written after the deciding unit, want 0", n)
		}
	})
}
