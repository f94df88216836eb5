package lifecycle_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlite"
)

// twoOpened is two stores opened apart on one database, as two processes open it: the
// SQLite file (a server and an administering command beside it) or the PostgreSQL schema
// (two replicas). Nothing they share lives in Go memory.
func twoOpened(t *testing.T, backend string) (store.Store, store.Store) {
	t.Helper()
	var open func() (store.Store, error)
	switch backend {
	case "sqlite":
		dsn := "file:" + filepath.Join(t.TempDir(), "emfa.db")
		open = func() (store.Store, error) { return sqlite.Open(context.Background(), dsn) }
	default:
		sv := testdb.Connect(t)
		dsn := sv.SchemaDSN(t, sv.NewSchema(t))
		open = func() (store.Store, error) { return postgres.Open(context.Background(), dsn) }
	}
	var sts [2]store.Store
	for i := range sts {
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		sts[i] = st
	}
	return sts[0], sts[1]
}

// peeking is a replica's store that says when a post first looks at another's running
// record (it waits for that one's answer).
type peeking struct {
	store.Store
	store.SelfService
	once   sync.Once
	looked chan struct{}
}

func (s *peeking) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.Store.SpendLink(ctx, hash, now)
}

func (s *peeking) GetIdempotency(ctx context.Context, key store.IdempotencyKey) (store.IdempotencyRecord, error) {
	s.once.Do(func() { close(s.looked) })
	return s.Store.GetIdempotency(ctx, key)
}

// TestSignInTwiceOnTwoOpenedStores: the sign-in form posted twice to two replicas,
// each with its own store opened on the one database (the other replica tests of the
// package share one store object between their "replicas"): the second post waits for
// the first's start and answers its sign-in; one start, on SQLite and PostgreSQL.
func TestSignInTwiceOnTwoOpenedStores(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			sta, stb := twoOpened(t, backend)
			pb := &peeking{Store: stb, SelfService: stb.(store.SelfService), looked: make(chan struct{})}
			open := func(st store.Store) *lifecycle.SelfService {
				m, err := lifecycle.New(lifecycle.Options{Store: st})
				if err != nil {
					t.Fatal(err)
				}
				return replicaSelfService(t, m)
			}
			ssa, ssb := open(sta), open(pb)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			var starts atomic.Int32
			started := make(chan struct{})
			first := signInAside(ctx, ssa, func(context.Context) (string, error) {
				starts.Add(1)
				close(started)
				<-pb.looked // the second post waits on this start's record
				return "a", nil
			})
			testwait.Recv(t, "the first post's start", started)
			c, again, err := ssb.StartSignInOnce(ctx, "form", "alice", lifecycle.MethodPush, func(context.Context) (string, error) {
				starts.Add(1)
				return "b", nil
			})
			a := testwait.Recv(t, "the first post's answer", first)
			if n := starts.Load(); n != 1 {
				t.Errorf("%d starts of one form's sign-in on two stores; want 1", n)
			}
			if a.err != nil || a.cookie != "a" || a.again || err != nil || c != "a" || !again {
				t.Errorf("answers: first %q %v %v, second %q %v %v; want the first's sign-in, the second again",
					a.cookie, a.again, a.err, c, again, err)
			}
		})
	}
}

// signInResult is what StartSignInOnce answered.
type signInResult struct {
	cookie string
	again  bool
	err    error
}

// signInAside posts alice's sign-in form to ss (a push, started by start) in a goroutine
// of its own, and hands back its answer when it comes.
func signInAside(ctx context.Context, ss *lifecycle.SelfService, start func(context.Context) (string, error)) <-chan signInResult {
	answer := make(chan signInResult, 1)
	go func() {
		c, again, err := ss.StartSignInOnce(ctx, "form", "alice", lifecycle.MethodPush, start)
		answer <- signInResult{c, again, err}
	}()
	return answer
}
