package builtin_test

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
)

// TestHOTPCounterAtTheTop: an HOTP factor whose window, or resynchronisation
// window, ends at the largest counter the store holds (math.MaxInt64; an administrator's
// --counter 9223372036854775798 with the default window of 10) is checked like any other.
// Before, the loops over the window stepped past math.MaxInt64, wrapped around and never
// ended: every validate (and a resync) of the factor spun for ever.
func TestHOTPCounterAtTheTop(t *testing.T) {
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

// TestTOTPCodeLifetimeAfterUse: how long after its use a TOTP code is still
// accepted by a store that forgot the use (a restore, README "A restore turns the clock
// back"). A code is the code of a step T and is accepted while the current step is within
// window of T: used at the start of step T-window (a device one step fast, which the
// window allows), it stays good until the end of step T+window, (2 × window + 1) × period
// later, 90 s by default; the README said (window + 1) × period, 60 s, and an operator
// who waited that long before starting a restored store left a used code replayable.
func TestTOTPCodeLifetimeAfterUse(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t)) // window 1, period 30; alice and bob share a seed
	f.clock.Advance(time.Second)         // 1111111110: the first instant of a step
	code := f.code(1)
	if out := f.validate(t, "alice", f.factor, code); out.Status != provider.StatusSuccess {
		t.Fatalf("the next step's code at the start of a step: %s %q", out.Status, out.Reason)
	}
	// Bob's factor, with the same seed and never used, stands for alice's as restored from
	// a backup taken before the use.
	f.clock.Advance(89 * time.Second)
	if out := f.validate(t, "bob", f.other, code); out.Status != provider.StatusSuccess {
		t.Fatalf("89 s after its use, on a store that forgot it: %s %q", out.Status, out.Reason)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "`(2 × window + 1) × period` after its use (90 s by default") {
		t.Error("README: a TOTP code is accepted up to (2 × window + 1) × period after its use, 90 s by default; it says otherwise")
	}
}
