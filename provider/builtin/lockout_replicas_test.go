package builtin_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// lockouts counts what an engine tells its observer of lockouts (emfa_lockouts_total).
type lockouts struct{ n atomic.Int64 }

func (*lockouts) CodeSent(string)    {}
func (*lockouts) SendRefused(string) {}
func (*lockouts) SendFailed(string)  {}
func (o *lockouts) Lockout(string)   { o.n.Add(1) }
func (*lockouts) StoreError(string)  {}

// TestLockoutCountedOnceAcrossReplicas: two replicas (two engines on one store)
// share a factor's lockout. Replica B's wrong codes reach maxFailures and lock the factor
// while replica A's request, which read it unlocked, still checks its own wrong code. The
// factor was locked once, so emfa_lockouts_total, summed over the replicas, counts one
// lockout, not one per failure past the limit.
func TestLockoutCountedOnceAcrossReplicas(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Unix(1111111109, 0).UTC()}
		section := map[string]any{"lockout": map[string]any{"maxFailures": 3, "duration": 15 * time.Minute}}
		keys, err := builtin.NewKeyring(bytes.Repeat([]byte{9}, 32))
		if err != nil {
			t.Fatal(err)
		}
		as := &afterRead{Store: st}
		var obsA, obsB lockouts
		a, err := builtin.New(builtin.Options{Store: as, Keyring: keys, Now: clk.Now, Config: section, Observer: &obsA})
		if err != nil {
			t.Fatal(err)
		}
		b, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: clk.Now, Config: section, Observer: &obsB})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateUser(ctx, store.User{ID: "u-alice", Name: "alice", CreatedAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
		enrolled, err := b.Enroll(ctx, enrollment("totp", "alice", "secret", builtin.EncodeSecret(rfcSeed)))
		if err != nil {
			t.Fatal(err)
		}
		id := enrolled.Factor.ID
		wrong := otherCode(builtin.HOTP(builtin.SHA1, rfcSeed, uint64(clk.Now().Unix()/30), 6))
		req := provider.Request{Capability: "totp", ID: id, Username: "alice", Passvalue: wrong}
		as.hook = func() { // B's three wrong codes, decided while A's request runs
			for range 3 {
				if out, err := b.Validate(ctx, req); err != nil || out.Status != provider.StatusFailed {
					t.Errorf("wrong code on B: %+v %v", out, err)
				}
			}
		}
		if out, err := a.Validate(ctx, req); err != nil || out.Status != provider.StatusFailed {
			t.Fatalf("wrong code on A: %+v %v", out, err)
		}
		if got := obsA.n.Load() + obsB.n.Load(); got != 1 {
			t.Errorf("one lockout counted %d times (A %d, B %d)", got, obsA.n.Load(), obsB.n.Load())
		}

		// A limit lowered by a reload below the failures counted already: the next failure
		// locks the factor, and that is one lockout.
		if err := st.ResetFailures(ctx, id, clk.Now()); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if _, err := st.RecordFailure(ctx, id, clk.Now(), 10, 15*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		obsB.n.Store(0)
		if out, err := b.Validate(ctx, req); err != nil || out.Status != provider.StatusFailed {
			t.Fatalf("wrong code on B: %+v %v", out, err)
		}
		if f, _ := st.GetFactor(ctx, id); !f.LockedUntil.After(clk.Now()) || obsB.n.Load() != 1 {
			t.Errorf("past a lowered limit: locked until %v, %d lockouts counted; want locked, 1", f.LockedUntil, obsB.n.Load())
		}
	})
}
