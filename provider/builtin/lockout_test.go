package builtin_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// afterRead runs hook once, right after the next GetFactorAndUser: what other requests do
// between a validation's read of the factor and its decision.
type afterRead struct {
	store.Store
	mu   sync.Mutex
	hook func()
}

func (a *afterRead) GetFactorAndUser(ctx context.Context, id, name string) (store.Factor, store.User, error) {
	f, u, err := a.Store.GetFactorAndUser(ctx, id, name)
	a.after()
	return f, u, err
}

// GetFactorUserAndTransaction is the read of a code's validate (with its transaction).
func (a *afterRead) GetFactorUserAndTransaction(ctx context.Context, id, name, txID string) (store.Factor, store.User, store.Transaction, error) {
	f, u, tx, err := a.Store.GetFactorUserAndTransaction(ctx, id, name, txID)
	a.after()
	return f, u, tx, err
}

func (a *afterRead) after() {
	a.mu.Lock()
	hook := a.hook
	a.hook = nil
	a.mu.Unlock()
	if hook != nil {
		hook()
	}
}

// TestRightCodeAfterAConcurrentLockout: wrong codes sent alongside a right one lock the
// factor after the right one's request read it unlocked. The right code does not pass: a
// burst of requests gets no more guesses than lockout.maxFailures (they all answer
// FAILED alike), and the counter stays where it was.
func TestRightCodeAfterAConcurrentLockout(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		as := &afterRead{Store: st}
		clk := &clock{t: time.Unix(1111111109, 0).UTC()}
		e := newEngine(t, as, clk.Now, &engineConfig{section: map[string]any{
			"lockout": map[string]any{"maxFailures": 3, "duration": 15 * time.Minute},
		}})
		if err := st.CreateUser(ctx, store.User{ID: "u-alice", Name: "alice", CreatedAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
		enrolled, err := e.Enroll(ctx, enrollment("totp", "alice", "secret", builtin.EncodeSecret(rfcSeed)))
		if err != nil {
			t.Fatal(err)
		}
		id := enrolled.Factor.ID
		before, _ := st.GetFactor(ctx, id)
		as.hook = func() { // three wrong codes, decided meanwhile
			for range 3 {
				if _, err := st.RecordFailure(ctx, id, clk.Now(), 3, 15*time.Minute); err != nil {
					t.Error(err)
				}
			}
		}
		right := builtin.HOTP(builtin.SHA1, rfcSeed, uint64(clk.Now().Unix()/30), 6)
		out, err := e.Validate(ctx, provider.Request{Capability: "totp", ID: id, Username: "alice", Passvalue: right})
		after, _ := st.GetFactor(ctx, id)
		if err != nil || out.Status != provider.StatusFailed || after.Counter != before.Counter || after.LockedUntil.IsZero() {
			t.Errorf("a right code decided after concurrent failures locked the factor: %+v %v; counter %d → %d, locked until %v",
				out, err, before.Counter, after.Counter, after.LockedUntil)
		}
	})
}

// TestHOTPResyncWithinItsWindow: both codes of a resynchronisation lie within
// resyncWindow after the last accepted counter (-1 here: counters 0-999 for 1000).
func TestHOTPResyncWithinItsWindow(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, func(c *engineConfig) {
			c.set("hotp", map[string]any{"window": 10, "resyncWindow": 1000})
		})
		id := f.enrollHOTP(t, "alice", 0)
		if next, err := f.engine.ResyncHOTP(context.Background(), id, hotpCode(999), hotpCode(1000), nil); err == nil {
			t.Errorf("resync on counters 999 and 1000 accepted (next %d): 1000 is past the window", next)
		}
		if next, err := f.engine.ResyncHOTP(context.Background(), id, hotpCode(998), hotpCode(999), nil); err != nil || next != 1000 {
			t.Errorf("resync on counters 998 and 999: %d %v", next, err)
		}
	})
}

// TestValidateSignInCountsNoFailure: the self-service page's validation (ValidateSignIn)
// does not count a wrong code toward the factor's lockout, of a TOTP-like factor or a code
// factor's challenge, while Validate (Verify's path) does; a factor locked already is
// refused, and a right code still works once.
func TestValidateSignInCountsNoFailure(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newEngineFixture(t, st, nil)
		signIn := (*builtin.Engine).ValidateSignIn
		failures := func(id string) int {
			t.Helper()
			got, err := st.GetFactor(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return got.Failures
		}

		hotp := f.enrollHOTP(t, "alice", 0)
		for range 12 { // more than lockout.maxFailures (10)
			expect(t, "wrong HOTP code", f.call(t, signIn, "alice", "hotp", hotp, "", otherCode(hotpCode(1))), provider.StatusFailed, "not counted")
		}
		if n := failures(hotp); n != 0 {
			t.Fatalf("after wrong codes on the page: %d failures, want 0", n)
		}
		expect(t, "right HOTP code", f.call(t, signIn, "alice", "hotp", hotp, "", hotpCode(1)), provider.StatusSuccess, "")
		expect(t, "the same code again", f.call(t, signIn, "alice", "hotp", hotp, "", hotpCode(1)), provider.StatusFailed, "replayed")
		expect(t, "a wrong code on Verify's path", f.validate(t, "alice", "hotp", hotp, "", otherCode(hotpCode(2))), provider.StatusFailed, "wrong code")
		if n := failures(hotp); n != 1 {
			t.Fatalf("after a wrong code on Verify's path: %d failures, want 1", n)
		}
		for range 10 {
			if _, err := st.RecordFailure(ctx, hotp, f.clock.Now(), 10, 15*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		expect(t, "right code, factor locked", f.call(t, signIn, "alice", "hotp", hotp, "", hotpCode(2)), provider.StatusFailed, "locked")

		sms := f.enrollSMS(t, "bob", "+15551230123")
		out := f.initiate(t, "bob", "smsotp", sms)
		code := f.sms.last(t).Code
		expect(t, "wrong SMS code", f.call(t, signIn, "bob", "smsotp", sms, out.TransactionID, otherCode(code)), provider.StatusFailed, "not counted")
		if n := failures(sms); n != 0 {
			t.Fatalf("after a wrong SMS code on the page: %d failures, want 0", n)
		}
		expect(t, "right SMS code", f.call(t, signIn, "bob", "smsotp", sms, out.TransactionID, code), provider.StatusSuccess, "")
	})
}
