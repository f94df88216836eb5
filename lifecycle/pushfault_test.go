package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// faultyReads is a store whose reads of a push poll fail, while on (which one: what).
type faultyReads struct {
	*sqlite.Store
	what atomic.Value // string: "switches", "factor and user", "transaction", or ""
}

var errC38Fault = errors.New("store fault (test)")

func (s *faultyReads) fails(what string) bool { w, _ := s.what.Load().(string); return w == what }

func (s *faultyReads) ListCapabilitySwitches(ctx context.Context) ([]store.CapabilitySwitch, error) {
	if s.fails("switches") {
		return nil, errC38Fault
	}
	return s.Store.ListCapabilitySwitches(ctx)
}

func (s *faultyReads) GetFactorAndUser(ctx context.Context, id, username string) (store.Factor, store.User, error) {
	if s.fails("factor and user") {
		return store.Factor{}, store.User{}, errC38Fault
	}
	return s.Store.GetFactorAndUser(ctx, id, username)
}

func (s *faultyReads) GetTransaction(ctx context.Context, id string) (store.Transaction, error) {
	if s.fails("transaction") {
		return store.Transaction{}, errC38Fault
	}
	return s.Store.GetTransaction(ctx, id)
}

// TestPushPollFaultsAlike: a push sign-in's poll of a name no one has makes the
// reads a real one's does (pollNothing), but ignored their faults: with the store failing
// one of them, alice's poll answered the fault (the page's error) and a name no one has
// "pending", which told who exists to anyone polling while the store was in trouble. Now
// a fault of any of the reads is answered alike.
func TestPushPollFaultsAlike(t *testing.T) {
	ctx := context.Background()
	st := &faultyReads{Store: testdb.SQLite(t).(*sqlite.Store)}
	m, clk := newManager(t, st)
	addAlice(t, m)
	ss := selfService(t, m, "totp", "push")
	devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ss.IssueLink(ctx, "test", "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	pushDevice(t, ss, devices, l.URL[strings.LastIndex(l.URL, "/")+1:])
	started := func(user string) lifecycle.Session {
		t.Helper()
		anon, err := ss.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.StartSignIn(ctx, &anon, user, lifecycle.MethodPush); err != nil {
			t.Fatal(err)
		}
		return anon
	}
	alice, zelda := started("alice"), started("zelda")
	if alice.State.Tx == "" || zelda.State.Tx != "" {
		t.Fatalf("challenges: alice %q, zelda %q", alice.State.Tx, zelda.State.Tx)
	}
	for _, what := range []string{"switches", "factor and user", "transaction"} {
		st.what.Store(what)
		aState, aErr := ss.PushSignInStatus(ctx, alice)
		zState, zErr := ss.PushSignInStatus(ctx, zelda)
		st.what.Store("")
		if !errors.Is(aErr, errC38Fault) {
			t.Fatalf("%s failing: alice's poll %q, %v (the test's premise: a real poll answers the fault)", what, aState, aErr)
		}
		if !errors.Is(zErr, errC38Fault) {
			t.Errorf("%s failing: the poll of a name no one has answered %q, %v; alice's the fault", what, zState, zErr)
		}
	}
}
