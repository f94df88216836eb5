package builtin_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
)

// TestReviewHOTPCounterAtTheTop: an HOTP factor whose window, or resynchronisation
// window, ends at the largest counter the store holds (math.MaxInt64; an administrator's
// --counter 9223372036854775798 with the default window of 10) is checked like any other.
// Before, the loops over the window stepped past math.MaxInt64, wrapped around and never
// ended: every validate (and a resync) of the factor spun for ever.
func TestReviewHOTPCounterAtTheTop(t *testing.T) {
	f := newEngineFixture(t, testdb.SQLite(t), nil)
	ctx := context.Background()
	id := f.enrollHOTP(t, "alice", math.MaxInt64-9) // window 10: counters MaxInt64-9 .. MaxInt64
	expect(t, "a wrong code", f.validate(t, "alice", "hotp", id, "", "000000"), provider.StatusFailed, "wrong code")
	expect(t, "the window's last code", f.validate(t, "alice", "hotp", id, "", hotpCode(math.MaxInt64)), provider.StatusSuccess, "accepted")

	id2 := f.enrollHOTP(t, "bob", math.MaxInt64-999) // resyncWindow 1000: up to MaxInt64
	if _, err := f.engine.ResyncHOTP(ctx, id2, "000000", "000000", nil); !errors.Is(err, builtin.ErrNotSynchronised) {
		t.Errorf("resync with wrong codes: %v", err)
	}
	next, err := f.engine.ResyncHOTP(ctx, id2, hotpCode(math.MaxInt64-2), hotpCode(math.MaxInt64-1), nil)
	if err != nil || next != math.MaxInt64 {
		t.Errorf("resync at the top: next %d, %v", next, err)
	}
}
