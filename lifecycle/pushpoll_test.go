package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// pollReads is a store that lists the reads a push sign-in's poll makes, while on, and
// fails the one fail names ("switches", "factor and user", "transaction"; "" none).
type pollReads struct {
	*sqlite.Store
	fail  atomic.Value // string
	mu    sync.Mutex
	on    bool
	reads []string
}

var errPollFault = errors.New("store fault (test)")

// read notes the read what, and answers errPollFault when it is the one to fail.
func (s *pollReads) read(what string) error {
	s.mu.Lock()
	if s.on {
		s.reads = append(s.reads, what)
	}
	s.mu.Unlock()
	if f, _ := s.fail.Load().(string); f == what {
		return errPollFault
	}
	return nil
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
	if err := s.read("switches"); err != nil {
		return nil, err
	}
	return s.Store.ListCapabilitySwitches(ctx)
}

func (s *pollReads) GetFactorAndUser(ctx context.Context, id, username string) (store.Factor, store.User, error) {
	if err := s.read("factor and user"); err != nil {
		return store.Factor{}, store.User{}, err
	}
	return s.Store.GetFactorAndUser(ctx, id, username)
}

func (s *pollReads) GetTransaction(ctx context.Context, id string) (store.Transaction, error) {
	if err := s.read("transaction"); err != nil {
		return store.Transaction{}, err
	}
	return s.Store.GetTransaction(ctx, id)
}

// pushSignIns are two push sign-ins started on st's page: alice's, whose device is
// paired, and zelda's, a name no one has.
func pushSignIns(t *testing.T, st *pollReads) (ss *lifecycle.SelfService, alice, zelda lifecycle.Session) {
	t.Helper()
	ctx := context.Background()
	m, clk := newManager(t, st)
	addAlice(t, m)
	ss = selfService(t, m, "totp", "push")
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
	alice, zelda = started("alice"), started("zelda")
	if alice.State.Tx == "" || zelda.State.Tx != "" {
		t.Fatalf("challenges: alice %q, zelda %q", alice.State.Tx, zelda.State.Tx)
	}
	return ss, alice, zelda
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
	ss, alice, zelda := pushSignIns(t, st)
	poll := func(sess lifecycle.Session) (state string, reads []string) {
		reads = st.taken(func() {
			var err error
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
