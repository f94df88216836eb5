package lifecycle_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestKeySetUpPostedTwiceOnTwoReplicas: an authenticator app's (or a push
// device's) set-up form posted twice (a double click) reaches two replicas on one
// store; the second loaded the session before the first saved it. The second answers
// the first's key (or activation code), and no second factor is made.
func TestKeySetUpPostedTwiceOnTwoReplicas(t *testing.T) {
	for _, tc := range []struct{ typ, shown string }{{"totp", "secret"}, {"push", "activationCode"}} {
		t.Run(tc.typ, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				ma, _ := newManager(t, st)
				mb, _ := newManager(t, st)
				addAlice(t, ma)
				ssa, ssb := selfService(t, ma, tc.typ), selfService(t, mb, tc.typ)
				token := linkToken(t, ssa)
				sessA, err := ssa.OpenLink(ctx, token)
				if err != nil {
					t.Fatal(err)
				}
				// The second post's replica loads the session before the first saves it.
				sessB, err := ssb.Session(ctx, sessA.Cookie)
				if err != nil {
					t.Fatal(err)
				}
				enA, err := ssa.Enroll(ctx, &sessA, tc.typ, "")
				if err != nil {
					t.Fatal(err)
				}
				enB, err := ssb.Enroll(ctx, &sessB, tc.typ, "")
				if err != nil {
					t.Fatal(err)
				}
				if enB.Factor.ID != enA.Factor.ID {
					t.Errorf("the second post made factor %q, the first %q; want the first's", enB.Factor.ID, enA.Factor.ID)
				}
				if a, b := enA.Output[tc.shown], enB.Output[tc.shown]; a == nil || a != b {
					t.Errorf("the second post shows %s %v, the first %v; want the first's", tc.shown, b, a)
				}
				fs, err := mb.ListFactors(ctx, "alice")
				if err != nil {
					t.Fatal(err)
				}
				pending := 0
				for _, f := range fs {
					if f.Type == tc.typ {
						pending++
					}
				}
				if pending != 1 {
					t.Errorf("%d factors of %s after the set-up posted twice: %+v; want 1", pending, tc.typ, fs)
				}
				// The page after either answer shows the one set-up, and what the second
				// answer sealed opens there.
				sess, err := ssa.Session(ctx, sessA.Cookie)
				if err != nil {
					t.Fatal(err)
				}
				if f, err := ssa.Pending(ctx, sess); err != nil || f.ID != enA.Factor.ID {
					t.Errorf("pending after both: %+v %v; want %s", f, err, enA.Factor.ID)
				}
				if _, _, ok := ssa.OpenShown(sess, ssb.SealShown(sessB, enB.Output)); !ok {
					t.Error("what the second answer sealed does not open on the page after it")
				}
				// The set-up started again later, knowing the first (no shown cookie), makes a new one.
				en, err := ssb.Enroll(ctx, &sess, tc.typ, "")
				if err != nil || en.Factor.ID == enA.Factor.ID || en.Output[tc.shown] == enA.Output[tc.shown] {
					t.Errorf("set-up started again: %+v %v; want a new factor", en.Factor, err)
				}
			})
		})
	}
}

// TestKeySetUpAgainAfterConfirming: a signed-in user who sets up an authenticator
// app, confirms it, and sets up another within seconds gets a new key: the first
// set-up's record answers only the same form posted again. That second set-up posted
// twice to two replicas makes one key too.
func TestKeySetUpAgainAfterConfirming(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		mb, _ := newManager(t, st)
		addAlice(t, m)
		ss, ssb := selfService(t, m, "totp"), selfService(t, mb, "totp")
		user, _ := signedIn(t, ss, clk)
		en, err := ss.Enroll(ctx, &user, "totp", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Confirm(ctx, &user, codeOf(t, en, clk.Now())); err != nil {
			t.Fatal(err)
		}
		userB, err := ssb.Session(ctx, user.Cookie) // the second post's, loaded first
		if err != nil {
			t.Fatal(err)
		}
		again, err := ss.Enroll(ctx, &user, "totp", "")
		if err != nil || again.Factor.ID == en.Factor.ID || again.Output["secret"] == en.Output["secret"] {
			t.Fatalf("a second app set up after the first was confirmed: %+v %v; want a new factor and key", again.Factor, err)
		}
		twice, err := ssb.Enroll(ctx, &userB, "totp", "")
		if err != nil || twice.Factor.ID != again.Factor.ID || twice.Output["secret"] != again.Output["secret"] {
			t.Errorf("the second set-up posted again to another replica: %+v %v; want %s and its key", twice.Factor, err, again.Factor.ID)
		}
		if f, err := ss.Pending(ctx, userB); err != nil || f.ID != again.Factor.ID {
			t.Errorf("pending: %+v %v; want %s", f, err, again.Factor.ID)
		}
		// The app signed in with, the first set up, and the second, pending.
		if fs, err := m.ListFactors(ctx, "alice"); err != nil || len(fs) != 3 {
			t.Errorf("factors: %+v %v; want 3", fs, err)
		}
	})
}

// hookedStore runs onSave before a session is saved, and onWait once a claim of an
// idempotency record finds another attempt's running.
type hookedStore struct {
	store.Store
	store.SelfService
	onSave func()
	onWait func()
}

func (s *hookedStore) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.SelfService.SpendLink(ctx, hash, now)
}

func (s *hookedStore) UpdateSession(ctx context.Context, ss store.SelfServiceSession) error {
	if f := s.onSave; f != nil {
		s.onSave = nil
		f()
	}
	return s.SelfService.UpdateSession(ctx, ss)
}

func (s *hookedStore) ClaimIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, leaseUntil, expiresAt, now time.Time) (store.IdempotencyClaim, error) {
	c, err := s.Store.ClaimIdempotency(ctx, key, owner, leaseUntil, expiresAt, now)
	if f := s.onWait; err == nil && !c.Claimed && !c.Record.Done && f != nil {
		s.onWait = nil
		f()
	}
	return c, err
}

// TestKeySetUpPostedTwiceWhileTheFirstRuns: the second post of an authenticator
// app's set-up reaches another replica while the first is still under way, its factor
// stored but its session not yet saved. It waits for the first and answers its key; the
// session, saved by the first, waits for that key.
func TestKeySetUpPostedTwiceWhileTheFirstRuns(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		ha := &hookedStore{Store: st, SelfService: st.(store.SelfService)}
		hb := &hookedStore{Store: st, SelfService: st.(store.SelfService)}
		ma, _ := newManager(t, ha)
		mb, _ := newManager(t, hb)
		addAlice(t, ma)
		ssa, ssb := selfService(t, ma, "totp"), selfService(t, mb, "totp")
		sessA, err := ssa.OpenLink(ctx, linkToken(t, ssa))
		if err != nil {
			t.Fatal(err)
		}
		type result struct {
			en  lifecycle.Enrolled
			err error
		}
		done, waiting := make(chan result, 1), make(chan struct{})
		hb.onWait = func() { close(waiting) }
		ha.onSave = func() {
			go func() {
				sessB, err := ssb.Session(ctx, sessA.Cookie)
				if err != nil {
					done <- result{err: err}
					return
				}
				en, err := ssb.Enroll(ctx, &sessB, "totp", "")
				done <- result{en, err}
			}()
			// The first saves its session once the second waits for it (or, when it does
			// not wait, once it is done).
			select {
			case <-waiting:
			case r := <-done:
				done <- r
			}
		}
		enA, err := ssa.Enroll(ctx, &sessA, "totp", "")
		if err != nil {
			t.Fatal(err)
		}
		b := testwait.Recv(t, "the second post's answer", done)
		if b.err != nil || b.en.Factor.ID != enA.Factor.ID || b.en.Output["secret"] != enA.Output["secret"] {
			t.Errorf("the second post: %+v %v; want the first's factor %s and key", b.en.Factor, b.err, enA.Factor.ID)
		}
		sess, err := ssb.Session(ctx, sessA.Cookie)
		if err != nil {
			t.Fatal(err)
		}
		if f, err := ssb.Pending(ctx, sess); err != nil || f.ID != enA.Factor.ID {
			t.Errorf("pending after both: %+v %v; want %s", f, err, enA.Factor.ID)
		}
		fs, err := mb.ListFactors(ctx, "alice")
		if err != nil || len(fs) != 1 {
			t.Errorf("factors after the set-up posted twice: %+v %v; want 1", fs, err)
		}
	})
}

// TestSetUpReplacedOnAReplicaBehind: the link opened again in another browser,
// whose set-up reaches a replica whose clock runs 2 s behind the one that started the
// first, replaces the first's pending factor: it does not leave two pending.
func TestSetUpReplacedOnAReplicaBehind(t *testing.T) {
	for _, typ := range []string{"totp", "smsotp"} {
		t.Run(typ, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				ma, ca := newManager(t, st)
				mb, _ := newManager(t, st)
				ca.Advance(2 * time.Second) // replica A's clock runs ahead of B's
				addAlice(t, ma)
				ssa, ssb := selfService(t, ma, typ), selfService(t, mb, typ)
				token := linkToken(t, ssa)
				x, err := ssa.OpenLink(ctx, token)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ssa.Enroll(ctx, &x, typ, "+15550000001"); err != nil {
					t.Fatal(err)
				}
				y, err := ssb.OpenLink(ctx, token) // the link opened again in another browser
				if err != nil {
					t.Fatal(err)
				}
				en, err := ssb.Enroll(ctx, &y, typ, "+15550000001")
				if err != nil {
					t.Fatalf("another browser's set-up on the replica behind: %v", err)
				}
				fs, err := mb.ListFactors(ctx, "alice")
				if err != nil || len(fs) != 1 || fs[0].ID != en.Factor.ID {
					t.Errorf("factors after another browser's set-up replaced the first: %+v %v; want its %s alone", fs, err, en.Factor.ID)
				}
			})
		})
	}
}

// listHooked runs onList inside its nth ListFactors call, before it returns.
type listHooked struct {
	*hookedStore
	n      int
	onList func()
}

func (s *listHooked) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	fs, err := s.hookedStore.Store.ListFactors(ctx, userID)
	if s.n--; s.n == 0 && s.onList != nil {
		s.onList()
	}
	return fs, err
}

// TestCodeSetUpPostedTwiceBothBeforeEitherStored: a code set-up posted twice to two
// replicas, the second run whole while the first has read the user's factors but not yet
// stored its own (the race bafda81 left): one code goes out, and both answer one factor.
func TestCodeSetUpPostedTwiceBothBeforeEitherStored(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		var sent atomic.Int64
		ha := &listHooked{hookedStore: &hookedStore{Store: st, SelfService: st.(store.SelfService)}}
		hb := &hookedStore{Store: st, SelfService: st.(store.SelfService)}
		ma, _ := newManagerSending(t, ha, &hookSender{sent: &sent})
		mb, _ := newManagerSending(t, hb, &hookSender{sent: &sent})
		addAlice(t, ma)
		ssa, ssb := selfService(t, ma, "smsotp"), selfService(t, mb, "smsotp")
		sessA, err := ssa.OpenLink(ctx, linkToken(t, ssa))
		if err != nil {
			t.Fatal(err)
		}
		sessB, err := ssb.Session(ctx, sessA.Cookie)
		if err != nil {
			t.Fatal(err)
		}
		var enB lifecycle.Enrolled
		var errB error
		done, waiting := make(chan struct{}), make(chan struct{})
		hb.onWait = func() { close(waiting) }
		// The first's reads of the factors: startedElsewhere's, then replaceStarted's. The
		// first goes on once the second is done, or waits for it.
		ha.n, ha.onList = 2, func() {
			go func() {
				defer close(done)
				enB, errB = ssb.Enroll(ctx, &sessB, "smsotp", "+15550000001")
			}()
			select {
			case <-waiting:
			case <-done:
			}
		}
		enA, errA := ssa.Enroll(ctx, &sessA, "smsotp", "+15550000001")
		testwait.Recv(t, "the second post's answer", done)
		if n := sent.Load(); n != 1 || errA != nil || errB != nil || enA.Factor.ID != enB.Factor.ID {
			t.Errorf("one set-up posted twice: %d codes sent, factors %q (%v) and %q (%v); want 1 code, one factor, no error",
				n, enA.Factor.ID, errA, enB.Factor.ID, errB)
		}
		sess, err := ssb.Session(ctx, sessA.Cookie)
		if err != nil {
			t.Fatal(err)
		}
		if f, err := ssb.Pending(ctx, sess); err != nil || f.ID != enA.Factor.ID {
			t.Errorf("pending after both: %+v %v; want %s", f, err, enA.Factor.ID)
		}
	})
}
