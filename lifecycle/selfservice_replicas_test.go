package lifecycle_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// registerPush registers a device with the activation code of the push
// enrollment en.
func registerPush(t *testing.T, st store.Store, now func() time.Time, en lifecycle.Enrolled) {
	t.Helper()
	devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
	pub, _ := builtin.EncodePublicKey(key)
	if _, err := devices.Register(context.Background(), provider.DeviceRegistration{
		ActivationCode: en.Output["activationCode"].(string), PublicKey: pub, Alg: builtin.AlgES256}); err != nil {
		t.Fatal(err)
	}
}

// pushRegisteredRows counts the audit rows saying factor's push device registered.
func pushRegisteredRows(t *testing.T, m *lifecycle.Manager, factor string) int {
	t.Helper()
	n := 0
	for _, ev := range auditOf(t, m, "").Events {
		if ev.Action == "admin."+lifecycle.ActionSelfServiceConfirm && ev.FactorID == factor && ev.Outcome == "SUCCESS" && ev.Reason == "push device registered" {
			n++
		}
	}
	return n
}

// TestPushContinueTwiceOnTwoReplicas: a push set-up's "continue" posted twice (the
// script's and the button's, or a double click) reaches two replicas on one store, both
// having loaded the session before either saved it. The device registered once: the
// trail says so once, whichever session (signed in or a link's) posted it.
func TestPushContinueTwiceOnTwoReplicas(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		ma, clk := newManager(t, st)
		mb, clkB := newManager(t, st)
		addAlice(t, ma)
		ssa, ssb := selfService(t, ma, "totp", "push"), selfService(t, mb, "totp", "push")

		check := func(what string, sessA lifecycle.Session, en lifecycle.Enrolled) {
			t.Helper()
			registerPush(t, st, clk.Now, en)
			sessB, err := ssb.Session(ctx, sessA.Cookie) // loaded before the first saved
			if err != nil {
				t.Fatal(err)
			}
			if state, _, err := ssa.FinishPush(ctx, &sessA); err != nil || state != lifecycle.PushActive {
				t.Fatalf("%s: the first continue: %q %v", what, state, err)
			}
			if state, f, err := ssb.FinishPush(ctx, &sessB); err != nil || state != lifecycle.PushActive || f.ID != en.Factor.ID {
				t.Fatalf("%s: the second continue: %q %+v %v", what, state, f, err)
			}
			if n := pushRegisteredRows(t, ma, en.Factor.ID); n != 1 {
				t.Errorf("%s: %d audit rows say the device registered; want 1", what, n)
			}
		}

		sess, en := enrollVia(t, ssa, linkToken(t, ssa), "push")
		check("link session", sess, en)

		clk.Advance(2 * time.Minute) // another link may be issued
		user, _ := signedIn(t, ssa, clk)
		clkB.Advance(clk.Now().Sub(clkB.Now()))
		en, err := ssa.Enroll(ctx, &user, "push", "")
		if err != nil {
			t.Fatal(err)
		}
		check("signed-in session", user, en)
	})
}

// dyingStore is a replica's store whose replica dies once it claimed a set-up's
// record: the claim is stored, and the replica never writes again (its claim is neither
// answered, nor released, nor renewed) until release, which the test closes at its end.
type dyingStore struct {
	store.Store
	store.SelfService
	once     sync.Once
	claimed  chan struct{}
	release  chan struct{}
	provider string // the records it dies on: "selfservice:enroll" when ""
}

func (s *dyingStore) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.Store.SpendLink(ctx, hash, now)
}

func (s *dyingStore) ClaimIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, leaseUntil, expiresAt, now time.Time) (store.IdempotencyClaim, error) {
	c, err := s.Store.ClaimIdempotency(ctx, key, owner, leaseUntil, expiresAt, now)
	if err != nil || !c.Claimed || key.Provider != cmp.Or(s.provider, "selfservice:enroll") {
		return c, err
	}
	s.once.Do(func() { close(s.claimed) })
	<-s.release
	return store.IdempotencyClaim{}, errors.New("the replica died")
}

func (s *dyingStore) RenewIdempotency(context.Context, store.IdempotencyKey, string, time.Time) (bool, error) {
	return false, errors.New("the replica died")
}

// tickingStore is a replica's store whose every look at a running set-up's record
// (a post waiting for another's answer) moves the replica's clock a second on: the clock
// says, without timing, how long the post waited.
type tickingStore struct {
	store.Store
	store.SelfService
	clk      *clock
	polls    atomic.Int64
	provider string // the records it counts: "selfservice:enroll" when ""
}

func (s *tickingStore) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.Store.SpendLink(ctx, hash, now)
}

func (s *tickingStore) GetIdempotency(ctx context.Context, key store.IdempotencyKey) (store.IdempotencyRecord, error) {
	if key.Provider == cmp.Or(s.provider, "selfservice:enroll") {
		s.polls.Add(1)
		s.clk.Advance(time.Second)
	}
	return s.Store.GetIdempotency(ctx, key)
}

// TestSetUpOwnerDiesOnAnotherReplica: the set-up form posted twice (a double click)
// reaches two replicas; the first dies just after it claimed the set-up's record. The
// second post notices the first is gone well before SignInAgain and sets up itself,
// rather than wait out the whole record's lease.
func TestSetUpOwnerDiesOnAnotherReplica(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		ss := st.(store.SelfService)
		dying := &dyingStore{Store: st, SelfService: ss, claimed: make(chan struct{}), release: make(chan struct{})}
		ticking := &tickingStore{Store: st, SelfService: ss}
		ma, _ := newManager(t, dying)
		mb, clkB := newManager(t, ticking)
		ticking.clk = clkB
		addAlice(t, ma)
		ssa, ssb := selfService(t, ma, "totp"), selfService(t, mb, "totp")
		sessA, err := ssa.OpenLink(ctx, linkToken(t, ssa))
		if err != nil {
			t.Fatal(err)
		}
		sessB, err := ssb.Session(ctx, sessA.Cookie)
		if err != nil {
			t.Fatal(err)
		}
		doneA := make(chan struct{})
		go func() { defer close(doneA); ssa.Enroll(ctx, &sessA, "totp", "") }()
		t.Cleanup(func() { close(dying.release); <-doneA })
		testwait.Recv(t, "the first replica's claim", dying.claimed)

		start := clkB.Now()
		en, err := ssb.Enroll(ctx, &sessB, "totp", "")
		waited := clkB.Now().Sub(start)
		if err != nil {
			t.Fatalf("the second post, its first replica dead: %v (after %v)", err, waited)
		}
		t.Logf("waited %v, %d looks", waited, ticking.polls.Load())
		if waited >= lifecycle.SignInAgain/2 {
			t.Errorf("the second post waited %v (%d looks at the record) for a replica that died; want well under %v",
				waited, ticking.polls.Load(), lifecycle.SignInAgain)
		}
		if sess, err := ssb.Session(ctx, sessB.Cookie); err != nil || sess.State.Enrolling != en.Factor.ID {
			t.Errorf("the session after the second post: %+v %v; want it enrolling %s", sess.State, err, en.Factor.ID)
		}
	})
}

// TestSignInOwnerDiesOnAnotherReplica: the sign-in form posted twice reaches two
// replicas; the first dies just after it claimed the start's record. The second post
// notices the first is gone well before SignInAgain and starts the sign-in itself.
func TestSignInOwnerDiesOnAnotherReplica(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		ss := st.(store.SelfService)
		dying := &dyingStore{Store: st, SelfService: ss, claimed: make(chan struct{}), release: make(chan struct{}),
			provider: "selfservice:signin"}
		ticking := &tickingStore{Store: st, SelfService: ss, provider: "selfservice:signin"}
		ma, _ := newManager(t, dying)
		mb, clkB := newManager(t, ticking)
		ticking.clk = clkB
		open := func(m *lifecycle.Manager) *lifecycle.SelfService {
			return replicaSelfService(t, m)
		}
		ssa, ssb := open(ma), open(mb)
		doneA := make(chan struct{})
		go func() {
			defer close(doneA)
			ssa.StartSignInOnce(ctx, "form", "alice", lifecycle.MethodPush, func(context.Context) (string, error) { return "a", nil })
		}()
		t.Cleanup(func() { close(dying.release); <-doneA })
		testwait.Recv(t, "the first replica's claim", dying.claimed)

		start := clkB.Now()
		cookie, again, err := ssb.StartSignInOnce(ctx, "form", "alice", lifecycle.MethodPush,
			func(context.Context) (string, error) { return "b", nil })
		waited := clkB.Now().Sub(start)
		t.Logf("waited %v, %d looks", waited, ticking.polls.Load())
		if err != nil || cookie != "b" || again {
			t.Fatalf("the second post, its first replica dead: %q %v %v (after %v); want its own start", cookie, again, err, waited)
		}
		if waited >= lifecycle.SignInAgain/2 {
			t.Errorf("the second post waited %v (%d looks at the record) for a replica that died; want well under %v",
				waited, ticking.polls.Load(), lifecycle.SignInAgain)
		}
	})
}

// replicaSelfService is a replica's self-service on m, as the replica tests open it:
// app codes and push, one form key for every replica.
func replicaSelfService(t testing.TB, m *lifecycle.Manager) *lifecycle.SelfService {
	t.Helper()
	s, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp", "push"}, LinkLifetime: time.Hour,
		SessionIdle: time.Hour, PublicURL: "https://mfa.example.com", FormKey: bytes.Repeat([]byte{8}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
