package builtin_test

import (
	"context"
	"math"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestHOTPWindowPastTheTop: an HOTP factor whose look-ahead window, or
// resynchronisation window, would run past math.MaxInt64 (the largest counter the store
// holds) is checked over the part of it that is left. Before, the window's end wrapped
// around to a negative counter, so the window was empty: a token enrolled with --counter
// 9223372036854775802, or one that reached the last ten values, had every right code
// refused as wrong and counted toward the lockout, and a resynchronisation there always
// failed.
func TestHOTPWindowPastTheTop(t *testing.T) {
	f := newEngineFixture(t, testdb.SQLite(t), nil) // hotp.window 10, resyncWindow 1000
	ctx := context.Background()

	id := f.enrollHOTP(t, "alice", math.MaxInt64-5) // window MaxInt64-5 .. MaxInt64
	expect(t, "the token's next code", f.validate(t, "alice", "hotp", id, "", hotpCode(math.MaxInt64-5)), provider.StatusSuccess, "accepted")
	expect(t, "the code after it", f.validate(t, "alice", "hotp", id, "", hotpCode(math.MaxInt64-4)), provider.StatusSuccess, "accepted")
	expect(t, "the last code of all", f.validate(t, "alice", "hotp", id, "", hotpCode(math.MaxInt64)), provider.StatusSuccess, "accepted")
	// Nothing is left after the largest counter: refused, and the check ends.
	expect(t, "the last code again", f.validate(t, "alice", "hotp", id, "", hotpCode(math.MaxInt64)), provider.StatusFailed, "replayed")
	expect(t, "a wrong code at the end", f.validate(t, "alice", "hotp", id, "", otherCode(hotpCode(math.MaxInt64))), provider.StatusFailed, "wrong code")

	bob := f.enrollHOTP(t, "bob", math.MaxInt64-900) // resync window to MaxInt64-900+999, past the top
	next, err := f.engine.ResyncHOTP(ctx, bob, hotpCode(math.MaxInt64-3), hotpCode(math.MaxInt64-2), nil)
	if err != nil || next != math.MaxInt64-1 {
		t.Fatalf("resync near the top: next %d, %v; want %d", next, err, int64(math.MaxInt64-1))
	}
	// A pair ending at the largest counter leaves the token no next counter the store
	// holds: refused, not answered with a next value wrapped around.
	if err := f.store.CreateUser(ctx, store.User{ID: "u-carol", Name: "carol", CreatedAt: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	carol := f.enrollHOTP(t, "carol", math.MaxInt64-5)
	if next, err := f.engine.ResyncHOTP(ctx, carol, hotpCode(math.MaxInt64-1), hotpCode(math.MaxInt64), nil); err == nil || next < 0 {
		t.Errorf("resync to the largest counter: next %d, %v; want it refused", next, err)
	}
	expect(t, "the token's next code after the resync", f.validate(t, "bob", "hotp", bob, "", hotpCode(math.MaxInt64-1)), provider.StatusSuccess, "accepted")
}
