package sync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

type clock struct {
	mu gosync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fakePropagator records what it is given (type, user, and "disabled" for a user created
// so) and fails while fail is set.
type fakePropagator struct {
	mu   gosync.Mutex
	got  []string
	fail bool
}

func (f *fakePropagator) Propagate(_ context.Context, ev provider.LifecycleEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("vendor down")
	}
	got := ev.Type + " " + ev.Username
	if ev.Disabled {
		got += " disabled"
	}
	f.got = append(f.got, got)
	return nil
}

// propagating gives q a fakePropagator, its only one.
func propagating(q *sync.Queue) *fakePropagator {
	prop := &fakePropagator{}
	q.Propagators = []provider.LifecyclePropagator{prop}
	return prop
}

// onceQueue is newQueue propagating to p alone, each event tried once: a failure is a
// dead letter at once.
func onceQueue(t testing.TB, st store.Store, p provider.LifecyclePropagator) (*sync.Queue, *lifecycle.Manager, *clock) {
	q, m, clk := newQueue(t, st)
	q.MaxAttempts = 1
	q.Propagators = []provider.LifecyclePropagator{p}
	return q, m, clk
}

func newQueue(t testing.TB, st store.Store) (*sync.Queue, *lifecycle.Manager, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	sq := st.(store.SyncQueue)
	q := (&sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq, Now: clk.Now}, Now: clk.Now}).Init()
	return q, m, clk
}

func str(s string) *string { return &s }

func ev(id, typ, user string, at time.Time) provider.LifecycleEvent {
	return provider.LifecycleEvent{ID: id, Type: typ, Source: "okta", Time: at, Username: user}
}

func drain(t *testing.T, q *sync.Queue) int {
	t.Helper()
	n, err := q.Drain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestQueueAppliesInOrderOnceEach(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		prop := propagating(q)
		t0 := clk.Now().Add(-time.Minute)
		create := ev("1", provider.EventUserCreate, "alice", t0)
		create.Email = str("alice@example.com")
		upd := ev("2", provider.EventUserUpdate, "alice", t0.Add(time.Second))
		upd.DisplayName = str("Alice")
		add := ev("3", provider.EventGroupMemberAdd, "alice", t0.Add(2*time.Second))
		add.Group = "sms-allowed"
		dis := ev("4", provider.EventUserDisable, "alice", t0.Add(3*time.Second))
		// Delivered out of order, and twice.
		for range 2 {
			if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{dis, add, upd, create}); err != nil {
				t.Fatal(err)
			}
		}
		if n := drain(t, q); n != 8 {
			t.Fatalf("processed %d events and propagations, want 4 of each", n)
		}
		u, err := m.GetUser(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "alice@example.com" || u.DisplayName != "Alice" || u.State != lifecycle.StateDisabled || len(u.Groups) != 1 {
			t.Fatalf("user = %+v", u)
		}
		want := []string{"user.create alice", "user.update alice", "group.member.add alice", "user.disable alice"}
		if fmt.Sprint(prop.got) != fmt.Sprint(want) {
			t.Fatalf("propagated %v, want %v", prop.got, want)
		}
		// A late, older event does not undo a newer one, whatever the case of the name it
		// gives (store.FoldName); a redelivered one is not queued.
		late := ev("5", provider.EventUserEnable, "ALICE", t0.Add(time.Second))
		if n, _ := q.Enqueue(ctx, []provider.LifecycleEvent{late, dis}); n != 1 {
			t.Fatalf("enqueued %d, want 1", n)
		}
		drain(t, q)
		if u, _ := m.GetUser(ctx, "alice"); u.State != lifecycle.StateDisabled {
			t.Fatalf("state = %s after a stale enable", u.State)
		}
		// Delete, then an unknown user's events are acknowledged, not retried: they wait
		// for a late create of the user (sync.UserWait), then are done.
		del := ev("6", provider.EventUserDelete, "alice", t0.Add(time.Hour))
		ghost := ev("7", provider.EventUserUpdate, "ghost", t0)
		ghost.DisplayName = str("Ghost")
		q.Enqueue(ctx, []provider.LifecycleEvent{del, ghost})
		drain(t, q)
		if _, err := m.GetUser(ctx, "alice"); err == nil {
			t.Fatal("alice survived her deletion")
		}
		if st2, err := q.Status(ctx); err != nil || st2.Counts["okta"]["done"] != 6 || st2.Counts["okta"]["pending"] != 1 {
			t.Fatalf("status = %+v, %v; want ghost's update waiting", st2, err)
		}
		clk.Advance(sync.UserWait)
		drain(t, q)
		st2, err := q.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st2.Counts["okta"]["done"] != 7 || st2.Counts["okta"]["pending"] != 0 {
			t.Fatalf("status = %+v", st2)
		}
	})
}

func TestQueueRetriesThenDeadLetters(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		q.MaxAttempts = 3
		prop := &fakePropagator{fail: true}
		q.Propagators = []provider.LifecyclePropagator{prop}
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "bob", clk.Now())})
		for range 3 {
			drain(t, q)
			clk.Advance(time.Hour)
		}
		dead, err := q.Store.ListEvents(ctx, store.QueueFilter{State: store.QueueDead})
		if err != nil || len(dead) != 1 || dead[0].Attempts != 3 || !dead[0].Applied {
			t.Fatalf("dead letters = %+v, %v", dead, err)
		}
		if _, err := m.GetUser(ctx, "bob"); err != nil {
			t.Fatalf("applied before propagation failed: %v", err)
		}
		prop.fail = false
		if n, err := q.RetryDead(ctx, "ops", 0); n != 1 || err != nil {
			t.Fatalf("retry = %d, %v", n, err)
		}
		drain(t, q)
		if len(prop.got) != 1 {
			t.Fatalf("propagated %v", prop.got)
		}
		// A retry that queued nothing changed nothing, and is not recorded.
		if n, err := q.RetryDead(ctx, "ops", 0); n != 0 || err != nil {
			t.Fatalf("retry with no dead letter = %d, %v", n, err)
		}
		wantTrail(t, m, "admin.sync.retry", "SUCCESS ops every dead letter")
	})
}

func TestQueueSurvivesAWorkerThatDied(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "carol", clk.Now())})
		// A worker claims the event, then dies before it finishes.
		got, err := q.Store.ClaimEvents(ctx, "dead-worker", 10, clk.Now(), clk.Now().Add(time.Minute), clk.Now())
		if err != nil || len(got) != 1 {
			t.Fatalf("claim = %v, %v", got, err)
		}
		if n := drain(t, q); n != 0 {
			t.Fatalf("claimed a leased event")
		}
		clk.Advance(2 * time.Minute)
		if n := drain(t, q); n != 1 {
			t.Fatalf("processed %d after the lease passed", n)
		}
		if _, err := m.GetUser(ctx, "carol"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestQueueOneUserAtATimeAcrossWorkers(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		var evs []provider.LifecycleEvent
		for i := range 20 {
			evs = append(evs, ev(fmt.Sprint(i), provider.EventUserCreate, fmt.Sprint("u", i%4), clk.Now().Add(time.Duration(i)*time.Millisecond)))
		}
		q.Enqueue(ctx, evs)
		a, err := q.Store.ClaimEvents(ctx, "a", 100, clk.Now(), clk.Now().Add(time.Minute), clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		b, err := q.Store.ClaimEvents(ctx, "b", 100, clk.Now(), clk.Now().Add(time.Minute), clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != 4 || len(b) != 0 {
			t.Fatalf("claimed %d and %d; want the head of each of 4 users, then none", len(a), len(b))
		}
	})
}

func TestDeletionGuardPausesTheSource(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		q.MaxDeletesPerHour = 3
		var evs []provider.LifecycleEvent
		for i := range 5 {
			name := fmt.Sprint("d", i)
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: name}); err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev(fmt.Sprint(i), provider.EventUserDelete, name, clk.Now()))
		}
		q.Enqueue(ctx, evs)
		drain(t, q)
		s, _ := q.Status(ctx)
		if len(s.Paused) != 1 || s.Paused[0].Source != "okta" || s.Counts["okta"]["pending"] != 2 {
			t.Fatalf("status = %+v", s)
		}
		if err := q.Resume(ctx, "ops", "okta"); err != nil {
			t.Fatal(err)
		}
		if err := q.Resume(ctx, "ops", "okta"); !errors.Is(err, sync.ErrNotPaused) {
			t.Fatalf("resume again: %v", err)
		}
		// The guard's pause and the operator's resumption are each recorded once.
		wantTrail(t, m, "admin.sync.pause", "SUCCESS sync:okta 3 users deleted in the last hour (sync.maxDeletesPerHour is 3)")
		wantTrail(t, m, "admin.sync.resume", "SUCCESS ops okta")
		// The resumption approves the deletions held: they apply within the hour.
		drain(t, q)
		if s, _ := q.Status(ctx); s.Counts["okta"]["pending"] != 0 || len(s.Paused) != 0 {
			t.Fatalf("status after resume = %+v", s)
		}
		// And the guard counts afresh from it: 3 more deletions, then a pause again.
		evs = nil
		for i := range 4 {
			name := fmt.Sprint("e", i)
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: name}); err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev(fmt.Sprint("e", i), provider.EventUserDelete, name, clk.Now()))
		}
		clk.Advance(time.Second)
		q.Enqueue(ctx, evs)
		drain(t, q)
		if s, _ := q.Status(ctx); len(s.Paused) != 1 || s.Counts["okta"]["pending"] != 1 {
			t.Fatalf("status after 4 more deletions = %+v", s)
		}
	})
}

// TestQueueWorkersKeepEachUsersOrder: two workers (two replicas) drain one queue at once;
// every user ends with the value of its last event.
func TestQueueWorkersKeepEachUsersOrder(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q1, m, clk := newQueue(t, st)
		q2, _, _ := newQueue(t, st)
		q2.Now = clk.Now
		q2.Applier.Now = clk.Now
		var evs []provider.LifecycleEvent
		for u := range 5 {
			name := fmt.Sprint("w", u)
			evs = append(evs, ev(name+"-c", provider.EventUserCreate, name, clk.Now()))
			for i := range 20 {
				e := ev(fmt.Sprintf("%s-%d", name, i), provider.EventUserUpdate, name, clk.Now().Add(time.Duration(i+1)*time.Millisecond))
				e.DisplayName = str(fmt.Sprint("v", i))
				evs = append(evs, e)
			}
		}
		if _, err := q1.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
		var wg gosync.WaitGroup
		for _, q := range []*sync.Queue{q1, q2} {
			q.Batch = 3
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := q.RunOnce(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					if n == 0 {
						if s, _ := q.Status(ctx); s.Counts["okta"]["pending"] == 0 {
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		for u := range 5 {
			if got, _ := m.GetUser(ctx, fmt.Sprint("w", u)); got.DisplayName != "v19" {
				t.Errorf("w%d: %q", u, got.DisplayName)
			}
		}
	})
}

// wantTrail checks the records of action, newest first, as "outcome actor reason".
func wantTrail(t *testing.T, m *lifecycle.Manager, action string, want ...string) {
	t.Helper()
	page, err := m.QueryAudit(context.Background(), lifecycle.AuditQuery{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range page.Events {
		got = append(got, ev.Outcome+" "+ev.Actor+" "+ev.Reason)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s records %q, want %q", action, got, want)
	}
}

// killedAfterApply is a queue store whose process dies right after its first change is
// applied: from the first MarkKeys on, nothing more is written.
type killedAfterApply struct {
	store.SyncQueue
}

func (killedAfterApply) MarkKeys(context.Context, time.Time, ...string) error {
	return errors.New("killed")
}

// events lists the queue's events of source as "type user state applied note".
func events(t *testing.T, q *sync.Queue, source string) []string {
	t.Helper()
	evs, err := q.Store.ListEvents(context.Background(), store.QueueFilter{Source: source})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		var ev provider.LifecycleEvent
		if err := json.Unmarshal(e.Body, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s %s %v %s", e.Type, ev.Username, e.State, e.Applied, e.Note))
	}
	return out
}

func TestApplyNowLosesNothing(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		scim := func(typ, user string) provider.LifecycleEvent {
			return provider.LifecycleEvent{Type: typ, Source: "scim", Username: user}
		}

		// Without propagators an event applied at once is done with it.
		if err := q.ApplyNow(ctx, scim(provider.EventUserCreate, "alice")); err != nil {
			t.Fatal(err)
		}
		if got, want := events(t, q, "scim"), []string{"user.create alice done true "}; !slices.Equal(got, want) {
			t.Errorf("after ApplyNow: %q, want %q", got, want)
		}
		if n := drain(t, q); n != 0 {
			t.Errorf("a worker found %d events to process", n)
		}

		// With them, it is done too, its propagations queued for the workers.
		prop := propagating(q)
		if err := q.ApplyNow(ctx, scim(provider.EventUserCreate, "bob"), scim(provider.EventUserDisable, "bob")); err != nil {
			t.Fatal(err)
		}
		if u, err := m.GetUser(ctx, "bob"); err != nil || u.State != lifecycle.StateDisabled {
			t.Fatalf("bob = %+v, %v", u, err)
		}
		if got, want := events(t, q, "scim")[1:], []string{"user.create bob done true ", "user.disable bob done true "}; !slices.Equal(got, want) {
			t.Errorf("after ApplyNow: %q, want %q", got, want)
		}
		if n := drain(t, q); n != 2 || !slices.Equal(prop.got, []string{"user.create bob disabled", "user.disable bob"}) {
			t.Errorf("the worker processed %d, propagated %q", n, prop.got)
		}

		// A refusal: the event and those after it are done, not applied, and say why.
		err := q.ApplyNow(ctx, scim(provider.EventUserUpdate, "nobody"), scim(provider.EventUserDisable, "nobody"))
		var sk *sync.Skipped
		if !errors.As(err, &sk) {
			t.Fatalf("a refused event: %v", err)
		}
		got := events(t, q, "scim")[3:]
		if len(got) != 2 || !strings.HasPrefix(got[0], "user.update nobody done false skipped: ") ||
			!strings.HasPrefix(got[1], "user.disable nobody done false skipped: ") {
			t.Errorf("after a refusal: %q", got)
		}

		// A process killed between applying the first event and recording it: the
		// directory was never answered, and sends nothing again. The worker applies both
		// once the lease passes, and propagates them.
		prop.got = nil
		killed := &sync.Queue{Store: killedAfterApply{q.Store}, Applier: q.Applier, Now: clk.Now}
		if err := killed.ApplyNow(ctx, scim(provider.EventUserCreate, "carol"), scim(provider.EventUserDisable, "carol")); err == nil {
			t.Fatal("ApplyNow on a dying store: no error")
		}
		if u, err := m.GetUser(ctx, "carol"); err != nil || u.State != lifecycle.StateActive {
			t.Fatalf("carol after the crash = %+v, %v; want created, not yet disabled", u, err)
		}
		if n := drain(t, q); n != 0 {
			t.Fatalf("the worker took %d leased events", n)
		}
		clk.Advance(2 * time.Minute)
		if n := drain(t, q); n != 4 {
			t.Fatalf("the worker processed %d events and propagations after the lease passed, want 2 of each", n)
		}
		if u, err := m.GetUser(ctx, "carol"); err != nil || u.State != lifecycle.StateDisabled {
			t.Errorf("carol = %+v, %v; want disabled", u, err)
		}
		if !slices.Equal(prop.got, []string{"user.create carol", "user.disable carol"}) {
			t.Errorf("propagated %q", prop.got)
		}

		// A store that fails the change: the source is told, and sends it again; the
		// event is done, not applied, and no worker applies it behind the source's back.
		fm, err := lifecycle.New(lifecycle.Options{Store: failingChanges{st}, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		faulty := &sync.Queue{Store: q.Store, Applier: &sync.Applier{M: fm, Now: clk.Now}, Now: clk.Now}
		if err := faulty.ApplyNow(ctx, scim(provider.EventUserCreate, "dave")); err == nil || errors.As(err, new(*sync.Skipped)) {
			t.Fatalf("ApplyNow on a failing store: %v", err)
		}
		all := events(t, q, "scim")
		if last := all[len(all)-1]; !strings.HasPrefix(last, "user.create dave done false not applied: ") {
			t.Errorf("after a failure: %q", last)
		}
		clk.Advance(2 * time.Minute)
		if n := drain(t, q); n != 0 {
			t.Errorf("the worker processed %d events", n)
		}
		if _, err := m.GetUser(ctx, "dave"); err == nil {
			t.Error("dave was created")
		}
	})
}

// failingChanges is a store whose every change of a user fails, as a full disk would.
type failingChanges struct {
	store.Store
}

func (failingChanges) ApplyUserChanges(_ context.Context, cs []store.UserChange) []error {
	errs := make([]error, len(cs))
	for i := range errs {
		errs[i] = errors.New("disk full")
	}
	return errs
}

// A user a source creates disabled is never active: one event, one commit. A create of a
// user who exists disables it too, and a propagator gets the event as it was said.
func TestCreatedDisabled(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, _ := newQueue(t, st)
		prop := propagating(q)
		create := func(user string) provider.LifecycleEvent {
			return provider.LifecycleEvent{Type: provider.EventUserCreate, Source: "scim", Username: user, Disabled: true}
		}
		if err := q.ApplyNow(ctx, create("dee")); err != nil {
			t.Fatal(err)
		}
		if u, err := m.GetUser(ctx, "dee"); err != nil || u.State != lifecycle.StateDisabled {
			t.Fatalf("dee = %+v, %v; want disabled", u, err)
		}
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "eve"}); err != nil {
			t.Fatal(err)
		}
		if err := q.ApplyNow(ctx, create("Eve")); err != nil {
			t.Fatal(err)
		}
		if u, err := m.GetUser(ctx, "eve"); err != nil || u.State != lifecycle.StateDisabled {
			t.Fatalf("eve = %+v, %v; want disabled", u, err)
		}
		if n := drain(t, q); n != 2 || !slices.Equal(prop.got, []string{"user.create dee disabled", "user.create Eve disabled"}) {
			t.Errorf("the worker processed %d, propagated %q", n, prop.got)
		}
		for _, e := range events(t, q, "scim") {
			if !strings.HasPrefix(e, "user.create ") || !strings.Contains(e, " done true") {
				t.Errorf("queued %q", e)
			}
		}
	})
}

// TestUpdateOnAStaleRevision: an update computed from the user at a revision (SCIM's
// whole profile) is refused when another change came since, applies nothing, and is
// not retried; on the current revision it applies.
func TestUpdateOnAStaleRevision(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, _ := newQueue(t, st)
		u, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "hal"})
		if err != nil {
			t.Fatal(err)
		}
		read := u.Revision
		update := func(name string) provider.LifecycleEvent {
			return provider.LifecycleEvent{Type: provider.EventUserUpdate, Source: "scim", Username: "hal", DisplayName: &name, IfRevision: &read}
		}
		if err := q.ApplyNow(ctx, update("Hal")); err != nil {
			t.Fatalf("on the revision read: %v", err)
		}
		err = q.ApplyNow(ctx, update("Hal 2"), provider.LifecycleEvent{Type: provider.EventUserDisable, Source: "scim", Username: "hal"})
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Code != lifecycle.CodeChanged {
			t.Fatalf("on a stale revision: %v, want %s", err, lifecycle.CodeChanged)
		}
		if u, _ := m.GetUser(ctx, "hal"); u.DisplayName != "Hal" || u.State != lifecycle.StateActive {
			t.Errorf("after the refused update: %+v", u)
		}
		if n := drain(t, q); n != 0 {
			t.Errorf("the worker took up %d events after them", n)
		}
		got := events(t, q, "scim")
		if len(got) != 3 || !strings.HasPrefix(got[1], "user.update hal done false skipped: ") || !strings.HasPrefix(got[2], "user.disable hal done false skipped: ") {
			t.Errorf("queued %q", got)
		}
	})
}

// TestDeleteAndStateOnAStaleRevision: a delete or a change of state made on a revision
// (a write conditional on its If-Match) applies only while the user is still at it.
func TestDeleteAndStateOnAStaleRevision(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, _ := newQueue(t, st)
		u, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "ida"})
		if err != nil {
			t.Fatal(err)
		}
		read := u.Revision
		at := func(typ string, rev int64) provider.LifecycleEvent {
			return provider.LifecycleEvent{Type: typ, Source: "scim", Username: "ida", IfRevision: &rev}
		}
		if err := q.ApplyNow(ctx, at(provider.EventUserDisable, read)); err != nil {
			t.Fatalf("disable on the revision read: %v", err)
		}
		for _, typ := range []string{provider.EventUserEnable, provider.EventUserDelete} {
			err := q.ApplyNow(ctx, at(typ, read))
			var le *lifecycle.Error
			if !errors.As(err, &le) || le.Code != lifecycle.CodeChanged {
				t.Fatalf("%s on a stale revision: %v, want %s", typ, err, lifecycle.CodeChanged)
			}
		}
		u, err = m.GetUser(ctx, "ida")
		if err != nil || u.State != lifecycle.StateDisabled {
			t.Fatalf("after the refusals: %+v, %v", u, err)
		}
		if err := q.ApplyNow(ctx, at(provider.EventUserDelete, u.Revision)); err != nil {
			t.Fatalf("delete on the current revision: %v", err)
		}
		if _, err := m.GetUser(ctx, "ida"); err == nil {
			t.Error("the user is still there")
		}
	})
}

// TestConditionalEventsSurviveAKill: a process killed between applying an event made on
// a revision (a SCIM write on the user it read) and recording it. The worker applies it
// again once the lease passes; the user has moved on by then (by that very event), and
// an event whose effect is already the user's is applied, not refused, so it is
// propagated. One whose effect is not, on a revision gone, is still refused.
func TestConditionalEventsSurviveAKill(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		prop := propagating(q)
		u, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "eve"})
		if err != nil {
			t.Fatal(err)
		}
		at := func(ev provider.LifecycleEvent, rev int64) provider.LifecycleEvent {
			ev.Source, ev.Username, ev.IfRevision = "scim", "eve", &rev
			return ev
		}
		update := at(provider.LifecycleEvent{Type: provider.EventUserUpdate, Email: str("eve@example.com"), Phone: str(""),
			DisplayName: str("Eve"), Attributes: map[string]any{"scim.externalId": "e-1"}}, u.Revision)
		disable := at(provider.LifecycleEvent{Type: provider.EventUserDisable}, u.Revision+1)
		killed := &sync.Queue{Store: killedAfterApply{q.Store}, Applier: q.Applier, Now: clk.Now}
		if err := killed.ApplyNow(ctx, update, disable); err == nil {
			t.Fatal("ApplyNow on a dying store: no error")
		}
		clk.Advance(2 * time.Minute)
		if n := drain(t, q); n != 4 {
			t.Fatalf("the worker processed %d events and propagations after the lease passed, want 2 of each", n)
		}
		got, err := m.GetUser(ctx, "eve")
		if err != nil || got.DisplayName != "Eve" || got.Email != "eve@example.com" || got.State != lifecycle.StateDisabled {
			t.Fatalf("eve = %+v, %v", got, err)
		}
		if want := []string{"user.update eve", "user.disable eve"}; !slices.Equal(prop.got, want) {
			t.Errorf("propagated %q, want %q", prop.got, want)
		}
		// Now on a revision gone, with an effect that is not the user's: refused.
		for _, ev := range []provider.LifecycleEvent{
			at(provider.LifecycleEvent{Type: provider.EventUserUpdate, DisplayName: str("Eve 2")}, u.Revision),
			at(provider.LifecycleEvent{Type: provider.EventUserEnable}, u.Revision+1),
			at(provider.LifecycleEvent{Type: provider.EventUserDelete}, u.Revision+1),
		} {
			err := q.ApplyNow(ctx, ev)
			var le *lifecycle.Error
			if !errors.As(err, &le) || le.Code != lifecycle.CodeChanged {
				t.Errorf("%s on a stale revision: %v, want %s", ev.Type, err, lifecycle.CodeChanged)
			}
		}
		// An update whose state is not the user's is not in effect either.
		err = q.ApplyNow(ctx, at(provider.LifecycleEvent{Type: provider.EventUserUpdate, DisplayName: str("Eve"), State: provider.StateActive}, u.Revision))
		if le := (*lifecycle.Error)(nil); !errors.As(err, &le) || le.Code != lifecycle.CodeChanged {
			t.Errorf("an update enabling on a stale revision: %v, want %s", err, lifecycle.CodeChanged)
		}
		// And on a revision gone with its effect the user's already: applied. (The e-mail
		// in another case is the one stored, as an update would normalise it.)
		for _, ev := range []provider.LifecycleEvent{
			at(provider.LifecycleEvent{Type: provider.EventUserUpdate, DisplayName: str("Eve")}, u.Revision),
			at(provider.LifecycleEvent{Type: provider.EventUserUpdate, Email: str("eve@EXAMPLE.com"), State: provider.StateDisabled}, u.Revision),
			at(provider.LifecycleEvent{Type: provider.EventUserDisable}, u.Revision),
		} {
			if err := q.ApplyNow(ctx, ev); err != nil {
				t.Errorf("%s already in effect: %v", ev.Type, err)
			}
		}
	})
}

// TestUpdateWithState: a user.update that says the state changes the profile and the
// state in one commit (the revision moves on by one), and is propagated as it was said.
func TestUpdateWithState(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, _ := newQueue(t, st)
		prop := propagating(q)
		u, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "fay"})
		if err != nil {
			t.Fatal(err)
		}
		ev := provider.LifecycleEvent{Type: provider.EventUserUpdate, Source: "scim", Username: "fay", DisplayName: str("Fay"),
			State: provider.StateDisabled, IfRevision: &u.Revision}
		if err := q.ApplyNow(ctx, ev); err != nil {
			t.Fatal(err)
		}
		got, err := m.GetUser(ctx, "fay")
		if err != nil || got.DisplayName != "Fay" || got.State != lifecycle.StateDisabled || got.Revision != u.Revision+1 {
			t.Fatalf("fay = %+v (revision %d, was %d), %v", got, got.Revision, u.Revision, err)
		}
		bad := provider.LifecycleEvent{Type: provider.EventUserUpdate, Source: "scim", Username: "fay", DisplayName: str("F"), State: "gone"}
		if err := q.ApplyNow(ctx, bad); !errors.As(err, new(*sync.Skipped)) {
			t.Errorf("an unknown state: %v", err)
		}
		if got, _ := m.GetUser(ctx, "fay"); got.DisplayName != "Fay" {
			t.Errorf("after the refused update: %+v", got)
		}
		if n := drain(t, q); n != 1 || !slices.Equal(prop.got, []string{"user.update fay"}) {
			t.Errorf("the worker processed %d, propagated %q", n, prop.got)
		}
	})
}

// TestEventFromANewerVersionWaits: an event queued by a newer replica, with a field, a
// type or a user state this version does not know, is neither applied nor propagated here
// (it would lose what the field says, or refuse the event for good): it waits, as a
// failure does, for a replica that reads it whole.
func TestEventFromANewerVersionWaits(t *testing.T) {
	for _, tc := range []struct{ name, typ, body, note string }{
		{"field", provider.EventUserCreate, `{"ID":"n1","Type":"user.create","Source":"scim","Time":"2026-05-01T08:59:00Z","Username":"hal","Quota":3}`, `unknown field "Quota"`},
		{"type", "user.lock", `{"ID":"n1","Type":"user.lock","Source":"scim","Time":"2026-05-01T08:59:00Z","Username":"hal"}`, `event type "user.lock"`},
		{"state", provider.EventUserUpdate, `{"ID":"n1","Type":"user.update","Source":"scim","Time":"2026-05-01T08:59:00Z","Username":"hal","State":"locked"}`, `user state "locked"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				q, m, clk := newQueue(t, st)
				prop := propagating(q)
				if tc.typ != provider.EventUserCreate {
					if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "hal"}); err != nil {
						t.Fatal(err)
					}
				}
				row := store.QueuedEvent{Source: "scim", EventID: "n1", Key: "user:hal", Type: tc.typ,
					Time: clk.Now().Add(-time.Minute), Body: []byte(tc.body)}
				if n, err := q.Store.EnqueueEvents(ctx, []store.QueuedEvent{row}, clk.Now()); err != nil || n != 1 {
					t.Fatalf("enqueue: %d, %v", n, err)
				}
				if n := drain(t, q); n != 1 {
					t.Fatalf("processed %d events, want 1", n)
				}
				u, err := m.GetUser(ctx, "hal")
				if tc.typ == provider.EventUserCreate && err == nil || tc.typ != provider.EventUserCreate && (err != nil || u.State != lifecycle.StateActive) || len(prop.got) != 0 {
					t.Fatalf("applied or propagated: %+v, %v, %q", u, err, prop.got)
				}
				got := events(t, q, "scim")
				if len(got) != 1 || !strings.HasPrefix(got[0], tc.typ+" hal pending false ") || !strings.Contains(got[0], "newer version") || !strings.Contains(got[0], tc.note) {
					t.Errorf("queued %q, want pending with %s", got, tc.note)
				}
			})
		})
	}
}

// captured records the events propagated, whole.
type captured struct {
	mu  gosync.Mutex
	evs []provider.LifecycleEvent
}

func (c *captured) Propagate(_ context.Context, ev provider.LifecycleEvent) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs = append(c.evs, ev)
	return nil
}

// TestLateEventsOrderedByAspect: sources deliver late and out of order ("order by
// published"). Each aspect of a user (existence, profile, state, each membership) and a
// group's existence is ordered by itself, so a late disable still applies after a newer
// profile update, and what of a late event is older than what was applied since is left
// out of its apply and its propagation.
func TestLateEventsOrderedByAspect(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		prop := &captured{}
		q.Propagators = []provider.LifecyclePropagator{prop}
		t0 := clk.Now().Add(-time.Hour)
		at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
		n := 0
		deliver := func(evs ...provider.LifecycleEvent) {
			t.Helper()
			for i := range evs {
				n++
				evs[i].ID = fmt.Sprint("e", n)
			}
			if _, err := q.Enqueue(ctx, evs); err != nil {
				t.Fatal(err)
			}
			drain(t, q)
		}
		user := func() lifecycle.User {
			t.Helper()
			u, err := m.GetUser(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		create := ev("", provider.EventUserCreate, "alice", at(0))
		create.DisplayName = str("Alice 0")
		upd5 := ev("", provider.EventUserUpdate, "alice", at(5))
		upd5.DisplayName = str("Alice 5")
		deliver(create, upd5)

		// The state is its own: a disable of :03 applies after the profile of :05.
		deliver(ev("", provider.EventUserDisable, "Alice", at(3)))
		if u := user(); u.State != lifecycle.StateDisabled || u.DisplayName != "Alice 5" {
			t.Fatalf("after a late disable: %+v", u)
		}
		// Older than what was applied of it: an enable of :02, a profile of :04.
		enable2 := ev("", provider.EventUserEnable, "alice", at(2))
		upd4 := ev("", provider.EventUserUpdate, "alice", at(4))
		upd4.DisplayName = str("Alice 4")
		deliver(enable2, upd4)
		if u := user(); u.State != lifecycle.StateDisabled || u.DisplayName != "Alice 5" {
			t.Fatalf("after a stale enable and profile: %+v", u)
		}
		// Newer state, older profile (a SCIM-like update of both): only the state applies,
		// and only the state is propagated.
		both := ev("", provider.EventUserUpdate, "alice", at(4))
		both.DisplayName, both.State = str("Alice 4b"), provider.StateActive
		prop.evs = nil
		deliver(both)
		if u := user(); u.State != lifecycle.StateActive || u.DisplayName != "Alice 5" {
			t.Fatalf("after a newer state with an older profile: %+v", u)
		}
		if len(prop.evs) != 1 || prop.evs[0].DisplayName != nil || prop.evs[0].State != provider.StateActive {
			t.Fatalf("propagated %+v, want the state alone", prop.evs)
		}
		got := events(t, q, "okta")
		if last := got[len(got)-1]; !strings.Contains(last, "done true applied without its profile") {
			t.Errorf("note %q", last)
		}
		// A late create of an existing user: its profile is older than the one applied.
		late := ev("", provider.EventUserCreate, "alice", at(1))
		late.DisplayName = str("Alice 1")
		deliver(late)
		if u := user(); u.DisplayName != "Alice 5" {
			t.Fatalf("after a late create: %+v", u)
		}
		// Memberships: a remove of :05, then a late add of :03.
		rm := ev("", provider.EventGroupMemberRemove, "alice", at(5))
		rm.Group = "sms-allowed"
		deliver(rm)
		add := ev("", provider.EventGroupMemberAdd, "alice", at(3))
		add.Group = "sms-allowed"
		deliver(add)
		if u := user(); len(u.Groups) != 0 {
			t.Fatalf("a late add undid a newer remove: %v", u.Groups)
		}
		// Another group's membership is its own.
		other := ev("", provider.EventGroupMemberAdd, "alice", at(3))
		other.Group = "push-allowed"
		deliver(other)
		if u := user(); fmt.Sprint(u.Groups) != "[push-allowed]" {
			t.Fatalf("groups %v", u.Groups)
		}
		// A late group delete strips only memberships older than it: bob's add of :01 goes,
		// alice's of :03 stays.
		deliver(ev("", provider.EventUserCreate, "bob", at(0)))
		bobAdd := ev("", provider.EventGroupMemberAdd, "bob", at(1))
		bobAdd.Group = "push-allowed"
		deliver(bobAdd)
		deliver(provider.LifecycleEvent{Type: provider.EventGroupDelete, Source: "okta", Time: at(2), Group: "push-allowed"})
		if u := user(); fmt.Sprint(u.Groups) != "[push-allowed]" {
			t.Fatalf("a late group delete stripped a newer membership: %v", u.Groups)
		}
		if b, err := m.GetUser(ctx, "bob"); err != nil || len(b.Groups) != 0 {
			t.Fatalf("bob after the group delete: %v %v", b.Groups, err)
		}
		// A group's existence: a create of :06, then a late delete of :04.
		gc := provider.LifecycleEvent{Type: provider.EventGroupCreate, Source: "okta", Time: at(6), Group: "tokens"}
		deliver(gc)
		gd := provider.LifecycleEvent{Type: provider.EventGroupDelete, Source: "okta", Time: at(4), Group: "tokens"}
		deliver(gd)
		if _, err := q.Store.GetGroupByName(ctx, "tokens"); err != nil {
			t.Fatalf("a late delete removed a newer group: %v", err)
		}
		// Existence: after a delete of :10, a late create of :08 does not bring her back.
		deliver(ev("", provider.EventUserDelete, "alice", at(10)))
		back := ev("", provider.EventUserCreate, "alice", at(8))
		deliver(back)
		if _, err := m.GetUser(ctx, "alice"); err == nil {
			t.Fatal("a late create brought back a user deleted since")
		}
	})
}

// TestExclusiveCreateSurvivesAKill: a SCIM POST's create (Exclusive) applied, then its
// process killed before the event was recorded: the worker finds the user holding what it
// says, counts it done and propagates it. One that the user does not hold is refused
// (user_exists), not applied over the user.
func TestExclusiveCreateSurvivesAKill(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		prop := propagating(q)
		create := provider.LifecycleEvent{Type: provider.EventUserCreate, Source: "scim", Username: "kim",
			DisplayName: str("Kim"), Exclusive: true, Disabled: true}
		killed := &sync.Queue{Store: killedAfterApply{q.Store}, Applier: q.Applier, Now: clk.Now}
		if err := killed.ApplyNow(ctx, create); err == nil {
			t.Fatal("ApplyNow on a dying store: no error")
		}
		clk.Advance(2 * time.Minute)
		if n := drain(t, q); n != 2 {
			t.Fatalf("the worker processed %d events and propagations after the lease passed, want 1 of each", n)
		}
		if want := []string{"user.create kim disabled"}; !slices.Equal(prop.got, want) {
			t.Errorf("propagated %q, want %q", prop.got, want)
		}
		other := create
		other.ID, other.DisplayName = "", str("Another Kim")
		err := q.ApplyNow(ctx, other)
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Code != "user_exists" {
			t.Errorf("a second exclusive create: %v, want user_exists", err)
		}
		if u, _ := m.GetUser(ctx, "kim"); u.DisplayName != "Kim" {
			t.Errorf("kim = %+v after a refused create", u)
		}
	})
}

// TestExclusiveGroupCreateSurvivesAKill: the same for a SCIM POST of a group: its replay
// finds the group made under its own id, and another exclusive create of the name is
// refused (group_exists).
func TestExclusiveGroupCreateSurvivesAKill(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		prop := propagating(q)
		create := provider.LifecycleEvent{Type: provider.EventGroupCreate, Source: "scim", Group: "tokens", Exclusive: true}
		killed := &sync.Queue{Store: killedAfterApply{q.Store}, Applier: q.Applier, Now: clk.Now}
		if err := killed.ApplyNow(ctx, create); err == nil {
			t.Fatal("ApplyNow on a dying store: no error")
		}
		clk.Advance(2 * time.Minute)
		if n := drain(t, q); n != 2 || len(prop.got) != 1 {
			t.Fatalf("after the lease: %d processed, propagated %q", n, prop.got)
		}
		err := q.ApplyNow(ctx, create)
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Code != "group_exists" {
			t.Errorf("a second exclusive create: %v, want group_exists", err)
		}
	})
}

// TestEventsWaitForALateCreate: a membership and a suspension of a user emfa does not
// have yet wait, without counting an attempt, for the user's create, delivered late; once
// it comes it is applied first (its date is earlier) and they after it, so the user ends
// disabled and in the group, and the vendor gets all three in order. Before, both were
// skipped at once and the late create left the user active with no groups. An event of a
// user who never comes is skipped once UserWait from its receipt has passed.
func TestEventsWaitForALateCreate(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		prop := propagating(q)
		t0 := clk.Now().Add(-time.Hour)
		add := ev("2", provider.EventGroupMemberAdd, "bob", t0.Add(2*time.Second))
		add.Group = "sms-allowed"
		lost := ev("9", provider.EventUserDisable, "zed", t0.Add(2*time.Second))
		q.Enqueue(ctx, []provider.LifecycleEvent{add, ev("3", provider.EventUserDisable, "bob", t0.Add(3*time.Second)), lost})
		drain(t, q)
		waiting, err := q.Store.ListEvents(ctx, store.QueueFilter{State: store.QueuePending})
		if err != nil || len(waiting) != 3 {
			t.Fatalf("pending %+v, %v; want the three waiting", waiting, err)
		}
		for _, e := range waiting {
			// Each user's first event waits for the create; bob's suspension waits behind
			// his membership, untried.
			held := e.Type == provider.EventGroupMemberAdd || e.Key == "user:zed"
			if e.Attempts != 0 || strings.Contains(e.Note, "waiting until") != held {
				t.Errorf("waiting %s %s: %d attempts, note %q", e.Type, e.Key, e.Attempts, e.Note)
			}
		}
		clk.Advance(2 * time.Minute)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "bob", t0.Add(time.Second))})
		drain(t, q)
		clk.Advance(30 * time.Second)
		drain(t, q)
		u, err := m.GetUser(ctx, "bob")
		if err != nil || u.State != lifecycle.StateDisabled || !slices.Equal(u.Groups, []string{"sms-allowed"}) {
			t.Fatalf("bob (created, added to sms-allowed, suspended; the create delivered last): %+v, %v", u, err)
		}
		if got, want := prop.got, []string{"user.create bob", "group.member.add bob", "user.disable bob"}; !slices.Equal(got, want) {
			t.Errorf("the vendor got %q, want %q", got, want)
		}
		// zed never comes: skipped once UserWait has passed since its receipt.
		for range 10 {
			clk.Advance(30 * time.Second)
			drain(t, q)
		}
		left, err := q.Store.ListEvents(ctx, store.QueueFilter{Key: "user:zed"})
		if err != nil || len(left) != 1 || left[0].State != store.QueueDone || !strings.Contains(left[0].Note, "no user") {
			t.Errorf("zed's suspension after %s: %+v, %v; want done, skipped", sync.UserWait, left, err)
		}
	})
}

// TestLateDeleteBeforeARecreate: a directory deletes rob and creates a new rob, and the
// deletion is delivered after the create. Before, the create found the old rob and only
// updated him, and the deletion was skipped as older than it: the new rob kept the old
// one's factors and groups, and the vendor never dropped the old account. Now the
// deletion applies as of its time: the factors enrolled and the memberships last changed
// before it go, what came after the create stays, and the vendor is sent the deletion,
// then rob as emfa has him, with his groups.
func TestLateDeleteBeforeARecreate(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		prop := propagating(q)
		t0 := clk.Now().Add(-10 * time.Second) // each event received soon after its time
		member := func(id, group string, at time.Time) provider.LifecycleEvent {
			e := ev(id, provider.EventGroupMemberAdd, "rob", at)
			e.Group = group
			return e
		}
		factor := func(id string, at time.Time) {
			u, err := m.GetUser(ctx, "rob")
			if err != nil {
				t.Fatal(err)
			}
			if err := st.CreateFactor(ctx, store.Factor{ID: id, UserID: u.ID, Type: "totp", State: store.FactorActive,
				Counter: -1, CreatedAt: at, UpdatedAt: at}); err != nil {
				t.Fatal(err)
			}
		}
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "rob", t0), member("2", "admins", t0.Add(10*time.Second))})
		drain(t, q)
		factor("old-phone", t0.Add(20*time.Second))
		clk.Advance(3 * time.Minute)
		again := ev("4", provider.EventUserCreate, "rob", t0.Add(2*time.Minute))
		again.Email = str("rob.new@example.com")
		q.Enqueue(ctx, []provider.LifecycleEvent{again, member("5", "staff", t0.Add(3*time.Minute))})
		drain(t, q)
		clk.Advance(time.Minute)
		factor("new-phone", t0.Add(4*time.Minute))
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("3", provider.EventUserDelete, "rob", t0.Add(time.Minute))}) // late
		drain(t, q)

		u, err := m.GetUser(ctx, "rob")
		if err != nil || !slices.Equal(u.Groups, []string{"staff"}) || u.Email != "rob.new@example.com" {
			t.Fatalf("rob after the late deletion: %+v, %v; want the new rob, in staff alone", u, err)
		}
		fs, err := st.ListFactors(ctx, u.ID)
		if err != nil || len(fs) != 1 || fs[0].ID != "new-phone" {
			t.Errorf("rob's factors: %+v, %v; want new-phone alone", fs, err)
		}
		want := []string{"user.create rob", "group.member.add rob", "user.create rob", "group.member.add rob",
			"user.delete rob", "user.create rob", "group.member.add rob"}
		if !slices.Equal(prop.got, want) {
			t.Errorf("the vendor got %q, want %q", prop.got, want)
		}
		// A deletion of a user deleted since is skipped, as before.
		clk.Advance(2 * time.Minute)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("6", provider.EventUserDelete, "rob", t0.Add(5*time.Minute))})
		drain(t, q)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("7", provider.EventUserDelete, "rob", t0.Add(4*time.Minute))})
		drain(t, q)
		if got := prop.got[len(want):]; !slices.Equal(got, []string{"user.delete rob"}) {
			t.Errorf("after two more deletions the vendor got %q, want the newer one's alone", got)
		}
	})
}
