package adapter

import (
	"context"
	"io"
	"log/slog"
	gosync "sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// stateVendor keeps each user's state as it is told it.
type stateVendor struct {
	mu    gosync.Mutex
	state map[string]string
	told  []string
}

func (v *stateVendor) PropagationTarget() string { return "duo" }

func (v *stateVendor) Propagate(_ context.Context, ev provider.LifecycleEvent) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.told = append(v.told, ev.Type)
	switch {
	case ev.Type == provider.EventUserCreate:
		v.state[ev.Username] = lifecycle.StateName(ev.Disabled)
	case ev.Type == provider.EventUserDisable:
		v.state[ev.Username] = lifecycle.StateDisabled
	case ev.Type == provider.EventUserEnable:
		v.state[ev.Username] = lifecycle.StateActive
	case ev.Type == provider.EventUserUpdate && ev.State != "":
		v.state[ev.Username] = ev.State
	}
	return nil
}

// TestSCIMActiveAndOperatorAtOnceAgreeWithTheVendor: a SCIM PATCH of active, sent
// without If-Match, and an operator's change of the state that commits while the PATCH
// is on its way (after SCIM read the user, before its write) leave the user in one state
// in emfa and at the vendor. The PATCH's change of the state alone was written on no
// revision, dated before the operator's but committed after it: emfa kept SCIM's state,
// and the vendor, told the changes in the order of their dates (SCIM's skipped as older
// than the operator's), the operator's.
func TestSCIMActiveAndOperatorAtOnceAgreeWithTheVendor(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clk := &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
		hooked := &testdb.BeforeUserChanges{Store: st}
		m, err := lifecycle.New(lifecycle.Options{Store: hooked, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		sq := st.(store.SyncQueue)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		duo := &stateVendor{state: map[string]string{}}
		q := (&sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq, Now: clk.Now}, Log: log, Now: clk.Now,
			Propagators: []provider.LifecyclePropagator{duo}}).Init()
		ops, err := lifecycle.New(lifecycle.Options{Store: st, Now: clk.Now, Propagation: q})
		if err != nil {
			t.Fatal(err)
		}
		srv := New(Options{Log: log, Sync: &Sync{Queue: q, Manager: m, SCIMToken: testSCIMToken}})
		h := &syncHarness{t: t, h: srv.Handler(), srv: srv, m: m, q: q, st: st}
		code, u, _ := h.scim("POST", "/Users", `{"userName":"alice","active":false}`)
		if code != 201 {
			t.Fatalf("create: %d %v", code, u)
		}
		h.drain()
		clk.Advance(time.Minute)
		// The operator enables alice, then disables her again, while the PATCH is on its way.
		hooked.Before = func() {
			for _, disabled := range []bool{false, true} {
				clk.Advance(time.Second)
				if _, err := ops.SetUserState(ctx, "ops-token", "alice", disabled); err != nil {
					t.Fatal(err)
				}
			}
		}
		code, u, _ = h.scim("PATCH", "/Users/"+u["id"].(string), `{`+patchSchema+`,"Operations":[{"op":"replace","path":"active","value":true}]}`)
		if code != 200 {
			t.Fatalf("patch: %d %v", code, u)
		}
		if hooked.Before != nil {
			t.Fatal("the PATCH wrote nothing")
		}
		clk.Advance(time.Minute)
		h.drain()
		got, err := ops.GetUser(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		duo.mu.Lock()
		defer duo.mu.Unlock()
		if duo.state["alice"] != got.State {
			t.Fatalf("alice is %s in emfa, %s at the vendor (told %v)", got.State, duo.state["alice"], duo.told)
		}
	})
}
