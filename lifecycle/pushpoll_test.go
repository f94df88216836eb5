package lifecycle_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// pollReads is a store that lists the reads a push sign-in's poll makes, while on.
type pollReads struct {
	*sqlite.Store
	mu    sync.Mutex
	on    bool
	reads []string
}

func (s *pollReads) note(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.on {
		s.reads = append(s.reads, what)
	}
}

func (s *pollReads) taken(f func()) []string {
	s.mu.Lock()
	s.on, s.reads = true, nil
	s.mu.Unlock()
	f()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.on = false
	slices.Sort(s.reads)
	return s.reads
}

func (s *pollReads) ListCapabilitySwitches(ctx context.Context) ([]store.CapabilitySwitch, error) {
	s.note("switches")
	return s.Store.ListCapabilitySwitches(ctx)
}

func (s *pollReads) GetFactorAndUser(ctx context.Context, id, username string) (store.Factor, store.User, error) {
	s.note("factor and user")
	return s.Store.GetFactorAndUser(ctx, id, username)
}

func (s *pollReads) GetTransaction(ctx context.Context, id string) (store.Transaction, error) {
	s.note("transaction")
	return s.Store.GetTransaction(ctx, id)
}

// TestPushPollReadsAlike: the poll of a push sign-in (its status, which the
// page's script reads every 2 s and anyone may read as often as they like, unbudgeted,
// and "Continue") of a user with a device reads the switches, the factor and its user,
// and the challenge; that of a name no one has read nothing, and answered "pending" a
// store's round trips sooner, for anyone timing it to tell who exists. Now it makes the
// same reads, on nothing.
func TestPushPollReadsAlike(t *testing.T) {
	ctx := context.Background()
	st := &pollReads{Store: testdb.SQLite(t).(*sqlite.Store)}
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
	poll := func(sess lifecycle.Session) (state string, reads []string) {
		reads = st.taken(func() {
			if state, err = ss.PushSignInStatus(ctx, sess); err != nil {
				t.Fatal(err)
			}
		})
		return state, reads
	}
	aState, aReads := poll(alice)
	zState, zReads := poll(zelda)
	if aState != lifecycle.SignInPending || zState != aState || !slices.Equal(zReads, aReads) {
		t.Errorf("the poll of a name no one has: %s, reads %q; alice's: %s, reads %q", zState, zReads, aState, aReads)
	}
	aReads = st.taken(func() { alice2 := alice; ss.FinishPushSignIn(ctx, &alice2) })
	zReads = st.taken(func() { zelda2 := zelda; ss.FinishPushSignIn(ctx, &zelda2) })
	if !slices.Equal(zReads, aReads) {
		t.Errorf("the continue of a name no one has reads %q; alice's %q", zReads, aReads)
	}
}
