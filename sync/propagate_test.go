package sync_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// vendor is a fake vendor's admin API as a propagator sees it: the users it knows and
// their state; a disable or delete of a user it does not know is skipped, as the DUO
// configuration does. It fails (as a 500 would) the event types in fail, and records
// every call it answers, as "type user".
type vendor struct {
	mu    gosync.Mutex
	name  string
	users map[string]string // name → active, disabled
	fail  map[string]bool
	calls []string
	evs   []provider.LifecycleEvent // what it was given, whole
}

func newVendor(name string) *vendor {
	return &vendor{name: name, users: map[string]string{}, fail: map[string]bool{}}
}

func (v *vendor) PropagationTarget() string { return v.name }

func (v *vendor) Propagate(_ context.Context, ev provider.LifecycleEvent) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.fail[ev.Type] {
		return errors.New("vendor answered 500")
	}
	got := ev.Type + " " + ev.Username
	if ev.Disabled {
		got += " disabled"
	}
	v.calls = append(v.calls, got)
	v.evs = append(v.evs, ev)
	_, known := v.users[ev.Username]
	switch ev.Type {
	case provider.EventUserCreate:
		if !known { // an account of the name is taken as it is
			v.users[ev.Username] = "active"
		}
		if ev.Disabled {
			v.users[ev.Username] = "disabled"
		}
	case provider.EventUserDisable, provider.EventUserEnable:
		if known {
			v.users[ev.Username] = map[string]string{provider.EventUserDisable: "disabled", provider.EventUserEnable: "active"}[ev.Type]
		}
	case provider.EventUserDelete:
		delete(v.users, ev.Username)
	}
	return nil
}

// given is every event the vendor was given, whole.
func (v *vendor) given() []provider.LifecycleEvent {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.evs)
}

func (v *vendor) state(user string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.users[user]; ok {
		return s
	}
	return "unknown"
}

func (v *vendor) failing(typ string, fail bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.fail[typ] = fail
}

func (v *vendor) got() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.calls)
}

func userState(t *testing.T, m *lifecycle.Manager, name string) string {
	t.Helper()
	u, err := m.GetUser(context.Background(), name)
	if err != nil {
		return "unknown"
	}
	return u.State
}

// TestVendorFailureHoldsNoApply: a vendor that fails a user's event does not hold back
// that user's later events in emfa: a disable applies at once, and cuts the user off,
// while the vendor's failure waits for its retry.
func TestVendorFailureHoldsNoApply(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		duo.failing(provider.EventUserCreate, true)
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "alice", clk.Now().Add(-time.Minute))}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("2", provider.EventUserDisable, "alice", clk.Now().Add(-time.Second))}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		if s := userState(t, m, "alice"); s != lifecycle.StateDisabled {
			t.Fatalf("alice is %s in emfa while the vendor fails her create; want disabled at once", s)
		}
		// The vendor recovers: it gets her events in order.
		duo.failing(provider.EventUserCreate, false)
		clk.Advance(time.Hour)
		drain(t, q)
		if got, want := duo.got(), []string{"user.create alice disabled", "user.disable alice"}; !slices.Equal(got, want) {
			t.Errorf("the vendor got %q, want %q", got, want)
		}
		if s := duo.state("alice"); s != "disabled" {
			t.Errorf("alice is %s at the vendor", s)
		}
	})
}

// TestApplyCallsNoVendor: the worker that applies events calls no vendor, so one that
// hangs delays no apply; each vendor's propagations are its own, so one that fails
// holds back none of another's.
func TestApplyCallsNoVendor(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		duo, okta := newVendor("duo"), newVendor("okta")
		q.Propagators = []provider.LifecyclePropagator{duo, okta}
		duo.failing(provider.EventUserCreate, true)
		var evs []provider.LifecycleEvent
		for i := range 6 {
			evs = append(evs, ev(fmt.Sprint(i), provider.EventUserCreate, fmt.Sprint("u", i), clk.Now().Add(-time.Minute)))
		}
		evs = append(evs, ev("d", provider.EventUserDisable, "u0", clk.Now().Add(-time.Second)))
		if _, err := q.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
		for {
			n, err := q.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		if s := userState(t, m, "u0"); s != lifecycle.StateDisabled {
			t.Fatalf("u0 is %s after the apply", s)
		}
		if len(duo.got())+len(okta.got()) != 0 {
			t.Fatalf("applying called the vendors: %q %q", duo.got(), okta.got())
		}
		drain(t, q)
		if got := okta.got(); len(got) != 7 || got[len(got)-1] != "user.disable u0" {
			t.Errorf("okta got %q while duo failed", got)
		}
		if got := duo.got(); len(got) != 0 {
			t.Errorf("duo got %q", got)
		}
		s, err := q.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c := s.Counts[store.PropagationSource("duo")]; c[store.QueuePending] != 7 {
			t.Errorf("propagations to duo: %v, want 7 pending", c)
		}
	})
}

// TestPropagatedAsApplied: a directory's event reaches the vendor with the e-mail
// address and phone number as emfa applied them (E.164, a national number read as the
// default country's; the domain in lower case), not as the directory wrote them.
func TestPropagatedAsApplied(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		if err := m.SetDefaultCountry("GB"); err != nil {
			t.Fatal(err)
		}
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		e := ev("1", provider.EventUserCreate, "ann", clk.Now().Add(-time.Minute))
		e.Phone, e.Email = str("020 7946 0958"), str("Ann@EXAMPLE.com")
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{e}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		u, err := m.GetUser(ctx, "ann")
		if err != nil || u.Phone != "+442079460958" || u.Email != "Ann@example.com" {
			t.Fatalf("applied: %+v %v", u, err)
		}
		got := duo.given()
		if len(got) != 1 || got[0].Phone == nil || *got[0].Phone != u.Phone || got[0].Email == nil || *got[0].Email != u.Email {
			t.Errorf("the vendor was given %+v, want the phone %s and address %s", got, u.Phone, u.Email)
		}
	})
}

// finishKilled is a queue store whose process dies as it records an event applied: the
// event is in emfa's store, the commit that would finish it and queue its propagations
// never happens.
type finishKilled struct {
	store.SyncQueue
}

func (finishKilled) FinishApplied(context.Context, int64, string, string, []store.QueuedEvent, time.Time) error {
	return errors.New("killed")
}

// TestPropagationSurvivesAKill: a process killed between applying an event and queueing
// its propagations loses none: a worker applies it again once its lease passes (which
// changes nothing) and queues them; and queued propagations are carried out by the
// workers of a process started afterwards.
func TestPropagationSurvivesAKill(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		duo := newVendor("duo")
		killed := &sync.Queue{Store: finishKilled{q.Store}, Applier: q.Applier, Now: clk.Now, Propagators: []provider.LifecyclePropagator{duo}}
		if _, err := killed.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "carol", clk.Now().Add(-time.Minute))}); err != nil {
			t.Fatal(err)
		}
		if _, err := killed.Drain(ctx); err == nil {
			t.Fatal("a dying store: no error")
		}
		if s := userState(t, m, "carol"); s != lifecycle.StateActive {
			t.Fatalf("carol is %s after the apply", s)
		}
		clk.Advance(2 * time.Minute)
		// The process restarted with a vendor: the event is applied again, propagated once.
		q.Propagators = []provider.LifecyclePropagator{duo}
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("2", provider.EventUserDisable, "carol", clk.Now().Add(-time.Second))}); err != nil {
			t.Fatal(err)
		}
		for {
			n, err := q.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		restarted := &sync.Queue{Store: q.Store, Applier: q.Applier, Now: clk.Now, Propagators: []provider.LifecyclePropagator{duo}}
		if _, err := restarted.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := duo.got(), []string{"user.create carol disabled", "user.disable carol"}; !slices.Equal(got, want) {
			t.Errorf("the vendor got %q, want %q", got, want)
		}
	})
}

// TestPausedSourceHoldsOnlyDeletions: the deletion guard holds a paused source's
// deletions; its disables keep applying.
func TestPausedSourceHoldsOnlyDeletions(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		q.MaxDeletesPerHour = 1
		for _, name := range []string{"d0", "d1", "carol"} {
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: name}); err != nil {
				t.Fatal(err)
			}
		}
		q.Enqueue(ctx, []provider.LifecycleEvent{
			ev("1", provider.EventUserDelete, "d0", clk.Now().Add(-time.Minute)),
			ev("2", provider.EventUserDelete, "d1", clk.Now().Add(-time.Minute)),
		})
		drain(t, q)
		if s, _ := q.Status(ctx); len(s.Paused) != 1 {
			t.Fatalf("status %+v, want okta paused", s)
		}
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("3", provider.EventUserDisable, "carol", clk.Now().Add(-time.Second))})
		drain(t, q)
		if s := userState(t, m, "carol"); s != lifecycle.StateDisabled {
			t.Errorf("carol is %s while okta is paused; want disabled", s)
		}
		if s := userState(t, m, "d1"); s == "unknown" {
			t.Error("d1 deleted while okta is paused")
		}
	})
}

// TestDeadCreateRetriedAfterDisable: a create the vendor failed until it was a dead
// letter, then a disable (the vendor skips it: it does not know the user), then the dead
// letter retried: the vendor gets the user as emfa has it now, disabled.
func TestDeadCreateRetriedAfterDisable(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		q.MaxAttempts = 2
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		duo.failing(provider.EventUserCreate, true)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "dan", clk.Now().Add(-time.Minute))})
		for range 2 {
			drain(t, q)
			clk.Advance(time.Hour)
		}
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("2", provider.EventUserDisable, "dan", clk.Now().Add(-time.Second))})
		drain(t, q)
		duo.failing(provider.EventUserCreate, false)
		if n, err := q.RetryDead(ctx, "ops", 0); n != 1 || err != nil {
			t.Fatalf("retry = %d, %v", n, err)
		}
		drain(t, q)
		if s, v := userState(t, m, "dan"), duo.state("dan"); s != lifecycle.StateDisabled || v != "disabled" {
			t.Errorf("dan is %s in emfa, %s at the vendor; want disabled in both (calls %q)", s, v, duo.got())
		}
	})
}

// TestRehireAfterDeadDelete: a user's deletion the vendor failed until it was a dead
// letter, then the name created again: the new user's create is not given the old
// account (with its phone); it is a dead letter that says so, and retrying both deletes
// the old account, then creates the new one.
func TestRehireAfterDeadDelete(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		duo := newVendor("duo")
		q, m, clk := onceQueue(t, st, duo)
		t0 := clk.Now().Add(-time.Hour)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "rob", t0)})
		drain(t, q)
		duo.failing(provider.EventUserDelete, true)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("2", provider.EventUserDelete, "rob", t0.Add(time.Minute))})
		drain(t, q)
		duo.failing(provider.EventUserDelete, false)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("3", provider.EventUserCreate, "rob", t0.Add(2*time.Minute))})
		drain(t, q)
		if s := userState(t, m, "rob"); s != lifecycle.StateActive {
			t.Fatalf("rob is %s in emfa", s)
		}
		dead, err := q.Store.ListEvents(ctx, store.QueueFilter{State: store.QueueDead})
		if err != nil || len(dead) != 2 || dead[1].Type != provider.EventUserCreate || !strings.Contains(dead[1].Note, fmt.Sprintf("dead letter %d", dead[0].Seq)) {
			t.Fatalf("dead letters %q, %v; want the delete, and the create naming it", claimedNotes(dead), err)
		}
		if got := duo.got(); len(got) != 1 {
			t.Fatalf("the vendor got %q, want the first create alone", got)
		}
		if n, err := q.RetryDead(ctx, "ops", 0); n != 2 || err != nil {
			t.Fatalf("retry = %d, %v", n, err)
		}
		drain(t, q)
		if got, want := duo.got(), []string{"user.create rob", "user.delete rob", "user.create rob"}; !slices.Equal(got, want) {
			t.Errorf("the vendor got %q, want %q", got, want)
		}
	})
}

// TestFutureDatedEvent: an event dated well after it was received (a wrong clock, a
// wrong date) is ordered at its receipt, so it does not make the user's real changes
// until its date "older than an event already applied".
func TestFutureDatedEvent(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		var logs bytes.Buffer
		q.Log = slog.New(slog.NewTextHandler(&logs, nil))
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "fred"}); err != nil {
			t.Fatal(err)
		}
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserEnable, "fred", time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC))})
		drain(t, q)
		clk.Advance(time.Second)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("2", provider.EventUserDisable, "fred", clk.Now())})
		clk.Advance(time.Minute)
		drain(t, q)
		if s := userState(t, m, "fred"); s != lifecycle.StateDisabled {
			t.Errorf("fred is %s; the suspend after a future-dated unsuspend was skipped", s)
		}
		// A disable skipped as older than what was applied since is logged at WARN, for an
		// operator to see that a user was not cut off by it.
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("3", provider.EventUserDisable, "fred", clk.Now().Add(-time.Hour))})
		drain(t, q)
		for _, want := range []string{`level=WARN msg="sync event dated in the future`, `level=WARN msg="sync event skipped" source=okta event_id=3 type=user.disable`} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("the log does not say %q:\n%s", want, logs.String())
			}
		}
	})
}

// claimedNotes lists evs as "seq type state note".
func claimedNotes(evs []store.QueuedEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%d %s %s %s", e.Seq, e.Type, e.State, e.Note))
	}
	return out
}
