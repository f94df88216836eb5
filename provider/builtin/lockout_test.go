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
	a.mu.Lock()
	hook := a.hook
	a.hook = nil
	a.mu.Unlock()
	if hook != nil {
		hook()
	}
	return f, u, err
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
