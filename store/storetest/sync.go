package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/store"
)

// syncTests are the cases of the sync queue (store.SyncQueue): what the worker that
// applies events and the workers that propagate them to vendors claim.
var syncTests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"SyncPauseHoldsOnlyDeletions", testSyncPauseHoldsOnlyDeletions},
	{"SyncHoldEvent", testSyncHoldEvent},
	{"SyncFinishApplied", testSyncFinishApplied},
	{"SyncFinishAppliedEvents", testSyncFinishAppliedEvents},
	{"SyncFinishAppliedEventsMany", testSyncFinishAppliedEventsMany},
	{"SyncEnqueueLeasedMany", testSyncEnqueueLeasedMany},
	{"SyncKeyMarks", testSyncKeyMarks},
	{"SyncCountApplied", testSyncCountApplied},
	{"SyncUserChangeQueue", testSyncUserChangeQueue},
	{"SyncUserChangeMarks", testSyncUserChangeMarks},
	{"SyncDropDead", testSyncDropDead},
	{"SyncDropPending", testSyncDropPending},
	{"SyncDropPendingBatches", testSyncDropPendingBatches},
	{"SyncStats", testSyncStats},
	{"SyncListEventsPages", testSyncListEventsPages},
	{"SyncListEventsGroups", testSyncListEventsGroups},
	{"DeleteMarks", testDeleteMarks},
	{"AllowApplying", testAllowApplying},
	{"ClaimAheadWriter", testClaimAheadWriter},
	{"GivenBackByAheadWorker", testGivenBackByAheadWorker},
	{"SyncQueuedAt", testSyncQueuedAt},
}

// testSyncListEventsGroups: ListEvents with Groups lists those that name one of them, by
// either of their names, under the other terms (source, state, paging).
func testSyncListEventsGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	ev := func(source, id string, groups ...string) store.QueuedEvent {
		e := queuedEvent(source, "group.rename", id, at(0))
		e.Groups = groups
		return e
	}
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{ev("p", "a", "Eng"), ev("p", "b", "Eng", "Platform"),
		ev("p", "c", "Ops"), ev("p", "d"), ev("q", "e", "Platform"), ev("p", "f", "Ops", "Eng")}, at(0)); err != nil {
		t.Fatal(err)
	}
	list := func(f store.QueueFilter) []string {
		t.Helper()
		evs, err := sq.ListEvents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return claimed(evs)
	}
	for _, c := range []struct {
		f    store.QueueFilter
		want []string
	}{
		{store.QueueFilter{State: store.QueuePending, Source: "p", Groups: []string{"Platform"}}, []string{"p group.rename user:b"}},
		{store.QueueFilter{Source: "p", Groups: []string{"Eng"}}, []string{"p group.rename user:a", "p group.rename user:b", "p group.rename user:f"}},
		{store.QueueFilter{Groups: []string{"Platform", "Ops"}}, []string{"p group.rename user:b", "p group.rename user:c", "q group.rename user:e", "p group.rename user:f"}},
		{store.QueueFilter{State: store.QueueDone, Source: "p", Groups: []string{"Eng"}}, nil},
		{store.QueueFilter{Source: "p", Groups: []string{"Eng"}, Limit: 1}, []string{"p group.rename user:a"}},
	} {
		if got := list(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%+v: %q, want %q", c.f, got, c.want)
		}
	}
	first, err := sq.ListEvents(ctx, store.QueueFilter{Source: "p", Groups: []string{"Eng"}, Limit: 1})
	if err != nil || len(first) != 1 {
		t.Fatal(first, err)
	}
	if got, want := list(store.QueueFilter{Source: "p", Groups: []string{"Eng"}, AfterSeq: first[0].Seq}), []string{"p group.rename user:b", "p group.rename user:f"}; !slices.Equal(got, want) {
		t.Errorf("the page after a: %q, want %q", got, want)
	}
}

// testSyncListEventsPages: ListEvents lists by seq, AfterSeq the page after a seq, UpTo
// those of event time at or before a time, Keys those of one of some keys.
func testSyncListEventsPages(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	for i, u := range []string{"u0", "u1", "u2", "u3", "u4"} {
		if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{queuedEvent("okta", "user.create", u, at(time.Duration(4-i)*time.Second))}, at(0)); err != nil {
			t.Fatal(err)
		}
	}
	list := func(f store.QueueFilter) []string {
		t.Helper()
		evs, err := sq.ListEvents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return claimed(evs)
	}
	first := list(store.QueueFilter{Source: "okta", Limit: 2})
	if want := []string{"okta user.create user:u0", "okta user.create user:u1"}; !slices.Equal(first, want) {
		t.Fatalf("first page %q, want %q", first, want)
	}
	evs, err := sq.ListEvents(ctx, store.QueueFilter{Source: "okta", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	next := list(store.QueueFilter{Source: "okta", AfterSeq: evs[1].Seq, Limit: 2})
	if want := []string{"okta user.create user:u2", "okta user.create user:u3"}; !slices.Equal(next, want) {
		t.Errorf("the page after it %q, want %q", next, want)
	}
	upTo := list(store.QueueFilter{Source: "okta", UpTo: at(2 * time.Second)})
	if want := []string{"okta user.create user:u2", "okta user.create user:u3", "okta user.create user:u4"}; !slices.Equal(upTo, want) {
		t.Errorf("those up to 2 s %q, want %q", upTo, want)
	}
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{queuedEvent("scim", "user.delete", "u3", at(0)), queuedEvent("scim", "user.delete", "u9", at(0))}, at(0)); err != nil {
		t.Fatal(err)
	}
	keys := list(store.QueueFilter{Keys: []string{"user:u1", "user:u3", "user:u7"}})
	if want := []string{"okta user.create user:u1", "okta user.create user:u3", "scim user.delete user:u3"}; !slices.Equal(keys, want) {
		t.Errorf("those of u1, u3 and u7 %q, want %q", keys, want)
	}
	keys = list(store.QueueFilter{Keys: []string{"user:u1", "user:u3"}, Types: []string{"user.delete"}, UpTo: at(0)})
	if want := []string{"scim user.delete user:u3"}; !slices.Equal(keys, want) {
		t.Errorf("the deletions of u1 and u3 %q, want %q", keys, want)
	}
}

// queuedEvent is an event of source for user at t (its id: source, type and user).
func queuedEvent(source, typ, user string, t time.Time) store.QueuedEvent {
	return store.QueuedEvent{Source: source, EventID: typ + " " + user, Key: "user:" + user, Type: typ, Time: t, Body: []byte(`{}`)}
}

// claimed lists evs as "source type key".
func claimed(evs []store.QueuedEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Source+" "+e.Type+" "+e.Key)
	}
	return out
}

// testSyncPauseHoldsOnlyDeletions: a paused source's deletions wait; its other events,
// and other sources' deletions, are claimed.
func testSyncPauseHoldsOnlyDeletions(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	evs := []store.QueuedEvent{
		queuedEvent("okta", "user.delete", "u1", at(0)),
		queuedEvent("okta", "user.disable", "u2", at(time.Millisecond)),
		queuedEvent("scim", "user.delete", "u3", at(2*time.Millisecond)),
	}
	if _, err := sq.EnqueueEvents(ctx, evs, at(0)); err != nil {
		t.Fatal(err)
	}
	pause := store.AuditEvent{Time: at(0), Resource: "admin.sync.pause", Outcome: "SUCCESS", Actor: "sync:okta"}
	must(t, "pause", sq.PauseSource(ctx, store.SourcePause{Source: "okta", Reason: "test", CreatedAt: at(0)}, pause))
	got, err := sq.ClaimEvents(ctx, "w", 10, at(time.Second), at(time.Minute), at(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"okta user.disable user:u2", "scim user.delete user:u3"}; !slices.Equal(claimed(got), want) {
		t.Errorf("claimed %q while okta is paused, want %q", claimed(got), want)
	}

	// The resumption records the last event queued then, of any source: the deletions it
	// approves are those up to it, in the order the store took them.
	if seq, err := sq.ResumedAfter(ctx, "okta"); err != nil || seq != 0 {
		t.Errorf("ResumedAfter before any resumption = %d, %v; want 0", seq, err)
	}
	resume := store.AuditEvent{Time: at(0), Resource: "admin.sync.resume", Outcome: "SUCCESS", Actor: "ops"}
	must(t, "resume", sq.ResumeSource(ctx, "okta", resume))
	var last int64
	for _, e := range got {
		last = max(last, e.Seq)
	}
	if seq, err := sq.ResumedAfter(ctx, "okta"); err != nil || seq != last {
		t.Errorf("ResumedAfter = %d, %v; want %d, the last event queued", seq, err, last)
	}
	if seq, err := sq.ResumedAfter(ctx, "scim"); err != nil || seq != 0 {
		t.Errorf("ResumedAfter of a source never resumed = %d, %v; want 0", seq, err)
	}
}

// testSyncHoldEvent: a held event is pending again at the time given, with its note and
// without an attempt counted; its key's later events wait behind it, an earlier one that
// comes meanwhile is claimed first; a lost lease holds nothing.
func testSyncHoldEvent(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{
		queuedEvent("okta", "user.disable", "u1", at(2*time.Millisecond)),
		queuedEvent("okta", "user.enable", "u1", at(3*time.Millisecond)),
	}, at(0)); err != nil {
		t.Fatal(err)
	}
	got, err := sq.ClaimEvents(ctx, "w", 10, at(time.Second), at(time.Minute), at(time.Second))
	if err != nil || len(got) != 1 || got[0].Type != "user.disable" {
		t.Fatalf("claimed %q, %v", claimed(got), err)
	}
	if err := sq.HoldEvent(ctx, got[0].Seq, "another", "x", at(time.Hour), at(time.Second)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("hold by another owner: %v, want ErrConflict", err)
	}
	must(t, "hold", sq.HoldEvent(ctx, got[0].Seq, "w", "waiting for the user's create", at(time.Minute), at(time.Second)))
	if got, _ := sq.ClaimEvents(ctx, "w", 10, at(2*time.Second), at(time.Minute), at(2*time.Second)); len(got) != 0 {
		t.Errorf("while held: claimed %q", claimed(got))
	}
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{queuedEvent("okta", "user.create", "u1", at(time.Millisecond))}, at(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err = sq.ClaimEvents(ctx, "w", 10, at(4*time.Second), at(time.Minute), at(4*time.Second))
	if err != nil || len(got) != 1 || got[0].Type != "user.create" {
		t.Fatalf("claimed %q, %v; want the earlier create", claimed(got), err)
	}
	must(t, "finish the create", sq.FinishEvent(ctx, got[0].Seq, "w", store.QueueDone, "", true, time.Time{}, at(4*time.Second)))
	got, err = sq.ClaimEvents(ctx, "w", 10, at(time.Minute), at(2*time.Minute), at(time.Minute))
	if err != nil || len(got) != 1 || got[0].Type != "user.disable" || got[0].Attempts != 0 || got[0].Note != "waiting for the user's create" {
		t.Fatalf("after the hold: %+v, %v; want the disable, no attempt counted, its note", got, err)
	}
}

// testSyncKeyMarks: the marks of many keys are read at once, those with none left out.
func testSyncKeyMarks(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	var keys []string
	want := map[string]time.Time{}
	for i := range 1200 { // more than one query's worth
		key := fmt.Sprintf("user:u%04d/group:eng", i)
		keys = append(keys, key)
		if i%3 == 0 {
			want[key] = at(time.Duration(i) * time.Millisecond)
			must(t, "mark", sq.MarkKeys(ctx, want[key], key))
		}
	}
	keys = append(keys, keys[0]) // named twice
	got, err := sq.KeyMarks(ctx, keys)
	must(t, "key marks", err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("KeyMarks (-want +got):\n%s", diff)
	}
	if got, err := sq.KeyMarks(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("KeyMarks of no keys: %v, %v", got, err)
	}
}

// testSyncFinishAppliedEvents: the events one owner applied at once are finished in one
// commit, each as FinishApplied finishes it, all or none: one whose lease the owner lost
// finishes none of them and queues none of their propagations; finished, none is finished
// again.
func testSyncFinishAppliedEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	now := at(time.Second)
	seqs, err := sq.EnqueueLeased(ctx, []store.QueuedEvent{
		queuedEvent("scim", "group.member.add", "u1", at(0)),
		queuedEvent("scim", "group.member.add", "u2", at(0)),
		queuedEvent("scim", "group.member.add", "u3", at(0)),
	}, "w", now.Add(time.Minute), now)
	must(t, "enqueue leased", err)
	other, err := sq.EnqueueLeased(ctx, []store.QueuedEvent{queuedEvent("scim", "group.member.add", "u4", at(0))}, "other", now.Add(time.Minute), now)
	must(t, "enqueue leased to another", err)
	applied := func(seqs ...int64) []store.AppliedEvent {
		var out []store.AppliedEvent
		for _, seq := range seqs {
			out = append(out, store.AppliedEvent{Seq: seq, Note: fmt.Sprintf("note %d", seq), Props: []store.QueuedEvent{{
				Source: store.PropagationSource("duo"), EventID: fmt.Sprintf("scim:%d", seq), Key: store.PropagationKey("duo", "user:u"),
				Type: "group.member.add", Time: at(0), Body: []byte(`{}`), Applied: true}}})
		}
		return out
	}
	props := func() int {
		t.Helper()
		evs, err := sq.ListEvents(ctx, store.QueueFilter{Source: store.PropagationSource("duo")})
		must(t, "list propagations", err)
		return len(evs)
	}

	wantErr(t, "a finish with an event another holds", sq.FinishAppliedEvents(ctx, "w", applied(seqs[0], seqs[1], other[0]), now), store.ErrConflict)
	evs, err := sq.ListEvents(ctx, store.QueueFilter{Source: "scim", State: store.QueuePending})
	must(t, "list pending", err)
	if len(evs) != 4 || props() != 0 {
		t.Fatalf("after a finish that failed: %d pending (want 4), %d propagations (want 0)", len(evs), props())
	}

	must(t, "finish applied events", sq.FinishAppliedEvents(ctx, "w", applied(seqs...), now))
	evs, err = sq.ListEvents(ctx, store.QueueFilter{Source: "scim"})
	must(t, "list events", err)
	for _, e := range evs {
		if e.Seq == other[0] {
			if e.State != store.QueuePending {
				t.Errorf("another's event: %+v, want pending", e)
			}
			continue
		}
		if e.State != store.QueueDone || !e.Applied || e.Note != fmt.Sprintf("note %d", e.Seq) {
			t.Errorf("event %d after its finish: state %s, applied %v, note %q", e.Seq, e.State, e.Applied, e.Note)
		}
	}
	if n := props(); n != 3 {
		t.Errorf("propagations queued: %d, want 3", n)
	}
	wantErr(t, "a finish again", sq.FinishAppliedEvents(ctx, "w", applied(seqs[2]), now), store.ErrConflict)
	must(t, "a finish of none", sq.FinishAppliedEvents(ctx, "w", nil, now))
	if n := props(); n != 3 {
		t.Errorf("propagations after a finish again: %d, want 3", n)
	}
}

// testSyncFinishApplied: an applied event's propagations are queued in the commit that
// finishes it, once; each target's are claimed apart from the events and from each
// other's, one at a time per key.
func testSyncFinishApplied(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{
		queuedEvent("okta", "user.create", "u1", at(0)),
		queuedEvent("okta", "user.disable", "u1", at(time.Millisecond)),
	}, at(0)); err != nil {
		t.Fatal(err)
	}
	props := func(e store.QueuedEvent) []store.QueuedEvent {
		var out []store.QueuedEvent
		for _, target := range []string{"duo", "okta"} {
			p := e
			p.Source, p.EventID, p.Key, p.Applied = store.PropagationSource(target), e.Source+":"+e.EventID, store.PropagationKey(target, e.Key), true
			out = append(out, p)
		}
		return out
	}
	for i := range 2 {
		now := at(time.Duration(i+1) * time.Second)
		got, err := sq.ClaimEvents(ctx, "w", 10, now, now.Add(time.Minute), now)
		if err != nil || len(got) != 1 {
			t.Fatalf("claim %d: %q, %v; want the user's next event alone", i, claimed(got), err)
		}
		must(t, "finish applied", sq.FinishApplied(ctx, got[0].Seq, "w", "", props(got[0]), now))
		if err := sq.FinishApplied(ctx, got[0].Seq, "w", "", props(got[0]), now); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("finish applied again: %v, want ErrConflict", err)
		}
	}
	now := at(3 * time.Second)
	if got, err := sq.ClaimEvents(ctx, "w", 10, now, now.Add(time.Minute), now); err != nil || len(got) != 0 {
		t.Fatalf("events claimed after both applied: %q, %v", claimed(got), err)
	}
	for _, target := range []string{"duo", "okta"} {
		var got []string
		for i := range 3 {
			now := at(time.Duration(4+i) * time.Second)
			evs, err := sq.ClaimPropagations(ctx, target, "p", 10, now, now.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) > 1 {
				t.Fatalf("claimed %q of one user at once", claimed(evs))
			}
			for _, e := range evs {
				if !e.Applied || string(e.Body) != `{}` {
					t.Errorf("propagation %+v", e)
				}
				got = append(got, claimed(evs)...)
				must(t, "finish propagation", sq.FinishEvent(ctx, e.Seq, "p", store.QueueDone, "", false, time.Time{}, now))
			}
		}
		src, key := store.PropagationSource(target), store.PropagationKey(target, "user:u1")
		if want := []string{src + " user.create " + key, src + " user.disable " + key}; !slices.Equal(got, want) {
			t.Errorf("propagations to %s: %q, want %q", target, got, want)
		}
	}
	all, err := sq.ListEvents(ctx, store.QueueFilter{Key: store.PropagationKey("duo", "user:u1")})
	if err != nil || len(all) != 2 {
		t.Errorf("propagations to duo listed by key: %q, %v", claimed(all), err)
	}
	c, err := sq.CountEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(c); got != "map[okta:map[done:2] propagate:duo:map[done:2] propagate:okta:map[done:2]]" {
		t.Errorf("counts %s", got)
	}
}

// testSyncCountApplied: the deletion guard's count, of the events applied since a time
// and queued after another event (by seq).
func testSyncCountApplied(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	for i, user := range []string{"u1", "u2", "u3"} {
		queued := at(time.Duration(i) * time.Minute)
		if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{queuedEvent("okta", "user.delete", user, queued)}, queued); err != nil {
			t.Fatal(err)
		}
	}
	now := at(time.Hour)
	got, err := sq.ClaimEvents(ctx, "w", 10, now, now.Add(time.Minute), now)
	if err != nil || len(got) != 3 {
		t.Fatalf("claimed %q, %v", claimed(got), err)
	}
	for _, e := range got {
		must(t, "finish", sq.FinishApplied(ctx, e.Seq, "w", "", nil, now))
	}
	for _, tc := range []struct {
		since    time.Time
		afterSeq int64
		want     int
	}{
		{at(0), 0, 3},
		{now.Add(time.Millisecond), 0, 0},
		{at(0), got[0].Seq, 2},
		{at(0), got[2].Seq, 0},
	} {
		if n, err := sq.CountApplied(ctx, "okta", "user.delete", tc.since, tc.afterSeq); err != nil || n != tc.want {
			t.Errorf("CountApplied(since %v, queued after seq %d) = %d, %v; want %d", tc.since, tc.afterSeq, n, err, tc.want)
		}
	}
}

// deadLetters claims every due event and finishes those of the keys in dead as dead
// letters (note "boom"); it releases the others, which stay pending.
func deadLetters(t *testing.T, sq store.SyncQueue, now time.Time, dead ...string) []store.QueuedEvent {
	t.Helper()
	ctx := t.Context()
	got, err := sq.ClaimEvents(ctx, "w", 100, now, now.Add(time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.QueuedEvent
	for _, e := range got {
		if slices.Contains(dead, e.Key) {
			must(t, "dead-letter", sq.FinishEvent(ctx, e.Seq, "w", store.QueueDead, "boom", false, time.Time{}, now))
			out = append(out, e)
		} else {
			must(t, "release", sq.ReleaseEvent(ctx, e.Seq, "w", false))
		}
	}
	return out
}

// testSyncDropDead: an operator gives up a dead letter: it is done, not applied, its note
// saying so before its last error, with the record of the drop in the same commit; a seq
// that is pending, done or no event is refused (ErrNotFound) and records nothing.
func testSyncDropDead(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{
		queuedEvent("okta", "user.delete", "u1", at(0)),
		queuedEvent("okta", "user.create", "u2", at(time.Millisecond)),
	}, at(0)); err != nil {
		t.Fatal(err)
	}
	dead := deadLetters(t, sq, at(time.Second), "user:u1")
	if len(dead) != 1 {
		t.Fatalf("dead letters %q", claimed(dead))
	}
	pending, err := sq.ListEvents(ctx, store.QueueFilter{State: store.QueuePending})
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending %q, %v", claimed(pending), err)
	}
	ev := func(what string) store.AuditEvent {
		return store.AuditEvent{Time: at(2 * time.Second), Resource: "admin.sync.drop", Outcome: "SUCCESS", Actor: "cli", Reason: what}
	}
	for _, seq := range []int64{pending[0].Seq, dead[0].Seq + 1000, 0, -1} {
		if _, err := sq.DropDead(ctx, seq, "dropped: ", at(2*time.Second), ev(fmt.Sprint(seq))); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("drop of %d, not a dead letter: %v, want ErrNotFound", seq, err)
		}
	}
	got, err := sq.DropDead(ctx, dead[0].Seq, "dropped by cli: ", at(2*time.Second), ev("dead letter"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != dead[0].Seq || got.State != store.QueueDone || got.Applied || got.Note != "dropped by cli: boom" ||
		got.EventID != "user.delete u1" || !got.UpdatedAt.Equal(at(2*time.Second)) {
		t.Errorf("dropped %+v", got)
	}
	if _, err := sq.DropDead(ctx, dead[0].Seq, "dropped: ", at(3*time.Second), ev("again")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("drop of a dropped dead letter: %v, want ErrNotFound", err)
	}
	if left, err := sq.ListEvents(ctx, store.QueueFilter{State: store.QueueDead}); err != nil || len(left) != 0 {
		t.Errorf("dead letters after the drop: %q, %v", claimed(left), err)
	}
	audit, err := s.QueryAudit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 || audit[0].Resource != "admin.sync.drop" || audit[0].Reason != "dead letter" || audit[0].Actor != "cli" {
		t.Errorf("audit %+v, want the one drop", audit)
	}
	// A long error is cut, not refused.
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{queuedEvent("okta", "user.delete", "u3", at(0))}, at(0)); err != nil {
		t.Fatal(err)
	}
	long, err := sq.ClaimEvents(ctx, "w", 100, at(4*time.Second), at(time.Minute), at(4*time.Second))
	if err != nil || len(long) != 2 {
		t.Fatalf("claimed %q, %v", claimed(long), err)
	}
	for _, e := range long {
		must(t, "dead-letter", sq.FinishEvent(ctx, e.Seq, "w", store.QueueDead, strings.Repeat("x", 500), false, time.Time{}, at(4*time.Second)))
	}
	if got, err := sq.DropDead(ctx, long[0].Seq, "dropped by cli: ", at(5*time.Second), ev("long")); err != nil || len(got.Note) != 500 ||
		!strings.HasPrefix(got.Note, "dropped by cli: xxx") {
		t.Errorf("drop of a dead letter with a long error: note %d bytes %.30q, %v", len(got.Note), got.Note, err)
	}
}

// testSyncDropPending: an operator gives up what is queued for a source (a vendor
// removed): its pending events no worker holds are done, their notes saying so, their
// applied flag kept, with the record of the drop, naming how many, in the same commit;
// an event leased to a live worker, other sources' events, its done and dead ones are
// left as they were, and a source with nothing to drop records nothing. Its later events
// are claimed as if the dropped ones had never been queued.
func testSyncDropPending(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	duo := store.PropagationSource("duo")
	prop := func(user string, t time.Time) store.QueuedEvent {
		e := queuedEvent(duo, "user.create", user, t)
		e.Key, e.Applied = store.PropagationKey("duo", e.Key), true
		return e
	}
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{
		prop("u1", at(0)), prop("u2", at(0)), prop("u3", at(0)), prop("u4", at(0)),
		queuedEvent("okta", "user.create", "u1", at(0)),
	}, at(0)); err != nil {
		t.Fatal(err)
	}
	// u1's propagation is a dead letter; u2's was tried once and waits its backoff; u3's
	// is leased to a live worker; u4's was leased to a worker whose lease has passed.
	got, err := sq.ClaimPropagations(ctx, "duo", "w", 100, at(time.Second), at(time.Minute))
	if err != nil || len(got) != 4 {
		t.Fatalf("claimed %q, %v", claimed(got), err)
	}
	for _, e := range got {
		switch e.Key {
		case store.PropagationKey("duo", "user:u1"):
			must(t, "dead-letter", sq.FinishEvent(ctx, e.Seq, "w", store.QueueDead, "boom", false, time.Time{}, at(time.Second)))
		case store.PropagationKey("duo", "user:u2"):
			must(t, "retry", sq.FinishEvent(ctx, e.Seq, "w", store.QueuePending, "503", false, at(time.Hour), at(time.Second)))
		}
	}
	// u3 is given back, and claimed by a live worker after u4's lease has passed.
	must(t, "release u3", sq.ReleaseEvent(ctx, seqOf(t, got, store.PropagationKey("duo", "user:u3")), "w", false))
	if again, err := sq.ClaimPropagations(ctx, "duo", "live", 1, at(2*time.Minute), at(10*time.Minute)); err != nil || len(again) != 1 {
		t.Fatalf("claimed again %q, %v", claimed(again), err)
	}
	var records []int
	record := func(n int) store.AuditEvent {
		records = append(records, n)
		return store.AuditEvent{Time: at(3 * time.Minute), Resource: "admin.sync.drop", Outcome: "SUCCESS", Actor: "cli", Reason: fmt.Sprintf("%d pending of %s", n, duo)}
	}
	if n, err := sq.DropPending(ctx, "verify", "dropped: ", at(3*time.Minute), record); err != nil || n != 0 {
		t.Errorf("drop of a source with nothing pending: %d, %v", n, err)
	}
	if len(records) != 0 {
		t.Errorf("a drop of nothing asked for its record (%v)", records)
	}
	n, err := sq.DropPending(ctx, duo, "dropped by cli: ", at(3*time.Minute), record)
	if err != nil || n != 2 {
		t.Fatalf("dropped %d, %v; want u2's and u4's", n, err)
	}
	all, err := sq.ListEvents(ctx, store.QueueFilter{})
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]string{}
	for _, e := range all {
		state[e.Source+" "+e.Key] = fmt.Sprintf("%s applied=%v %q", e.State, e.Applied, e.Note)
	}
	want := map[string]string{
		duo + " " + store.PropagationKey("duo", "user:u1"): `dead applied=true "boom"`,
		duo + " " + store.PropagationKey("duo", "user:u2"): `done applied=true "dropped by cli: 503"`,
		duo + " " + store.PropagationKey("duo", "user:u3"): `pending applied=true ""`,
		duo + " " + store.PropagationKey("duo", "user:u4"): `done applied=true "dropped by cli: "`,
		"okta user:u1": `pending applied=false ""`,
	}
	if diff := cmp.Diff(want, state); diff != "" {
		t.Errorf("events after the drop (-want +got):\n%s", diff)
	}
	audit, err := s.QueryAudit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 || audit[0].Resource != "admin.sync.drop" || audit[0].Reason != "2 pending of "+duo || audit[0].Actor != "cli" {
		t.Errorf("audit %+v, want the one drop, of 2", audit)
	}
	// A later propagation of a dropped key is claimed: nothing of the drop holds it.
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{func() store.QueuedEvent {
		e := prop("u2", at(time.Second))
		e.EventID, e.Type = "user.disable u2", "user.disable"
		return e
	}()}, at(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err := sq.ClaimPropagations(ctx, "duo", "w", 10, at(5*time.Minute), at(6*time.Minute)); err != nil ||
		!slices.Equal(claimed(got), []string{duo + " user.disable " + store.PropagationKey("duo", "user:u2")}) {
		t.Errorf("claimed after the drop %q, %v; want u2's disable alone", claimed(got), err)
	}
}

// testSyncDropPendingBatches: a backlog longer than DropPendingBatch is dropped a batch to
// a commit, oldest first, each commit with the record of its own: none of them holds the
// writer for the whole backlog, and every event dropped is in a record.
func testSyncDropPendingBatches(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	const n = store.DropPendingBatch*2 + 3
	evs := make([]store.QueuedEvent, n)
	for i := range evs {
		evs[i] = queuedEvent("okta", "user.create", fmt.Sprintf("u%04d", i), at(0))
	}
	if _, err := sq.EnqueueEvents(ctx, evs, at(0)); err != nil {
		t.Fatal(err)
	}
	var records []int
	got, err := sq.DropPending(ctx, "okta", "dropped: ", at(time.Minute), func(k int) store.AuditEvent {
		records = append(records, k)
		return store.AuditEvent{Time: at(time.Minute), Resource: "admin.sync.drop", Outcome: "SUCCESS", Actor: "cli", Reason: fmt.Sprintf("%d pending of okta", k)}
	})
	if err != nil || got != n {
		t.Fatalf("dropped %d, %v; want %d", got, err, n)
	}
	if want := []int{store.DropPendingBatch, store.DropPendingBatch, 3}; !slices.Equal(records, want) {
		t.Errorf("records of %v, want %v", records, want)
	}
	audit, err := s.QueryAudit(ctx, store.AuditQuery{})
	if err != nil || len(audit) != 3 {
		t.Errorf("audit: %d rows, %v; want a record for each commit", len(audit), err)
	}
	if left, err := sq.ListEvents(ctx, store.QueueFilter{State: store.QueuePending}); err != nil || len(left) != 0 {
		t.Errorf("%d left pending, %v", len(left), err)
	}
}

// seqOf is the seq of the event of key in evs.
func seqOf(t *testing.T, evs []store.QueuedEvent, key string) int64 {
	t.Helper()
	for _, e := range evs {
		if e.Key == key {
			return e.Seq
		}
	}
	t.Fatalf("no event of %s in %q", key, claimed(evs))
	return 0
}

// testSyncStats: the metrics' read: pending and dead events by source, the oldest pending
// one's enqueue time, and the paused sources, with or without events; done events are not
// counted.
func testSyncStats(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	if st, err := sq.SyncStats(ctx); err != nil || len(st) != 0 {
		t.Fatalf("stats of an empty queue: %+v, %v", st, err)
	}
	for i, ev := range []store.QueuedEvent{
		queuedEvent("okta", "user.delete", "u1", at(0)),
		queuedEvent("okta", "user.create", "u2", at(0)),
		queuedEvent("okta", "user.create", "u3", at(0)),
		queuedEvent("scim", "user.create", "u4", at(0)),
		queuedEvent(store.PropagationSource("duo"), "user.create", "u5", at(0)),
	} {
		if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{ev}, at(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	deadLetters(t, sq, at(time.Minute), "user:u1")
	// scim's event is done.
	got, err := sq.ClaimEvents(ctx, "w", 100, at(time.Minute), at(2*time.Minute), at(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		if e.Source == "scim" {
			must(t, "finish", sq.FinishApplied(ctx, e.Seq, "w", "", nil, at(time.Minute)))
		} else {
			must(t, "release", sq.ReleaseEvent(ctx, e.Seq, "w", false))
		}
	}
	pause := store.AuditEvent{Time: at(0), Resource: "admin.sync.pause", Outcome: "SUCCESS", Actor: "sync"}
	must(t, "pause", sq.PauseSource(ctx, store.SourcePause{Source: "okta", Reason: "test", CreatedAt: at(0)}, pause))
	must(t, "pause", sq.PauseSource(ctx, store.SourcePause{Source: "verify", Reason: "test", CreatedAt: at(0)}, pause))
	st, err := sq.SyncStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.SourceStats{
		{Source: "okta", Pending: 2, Dead: 1, OldestPending: at(time.Second), Paused: true},
		{Source: store.PropagationSource("duo"), Pending: 1, OldestPending: at(4 * time.Second)},
		{Source: "verify", Paused: true},
	}
	if diff := cmp.Diff(want, st, cmpOpts...); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// manyEvents are n events of source, each of its own user and id ("<prefix>-<i>").
func manyEvents(source, prefix string, n int) []store.QueuedEvent {
	evs := make([]store.QueuedEvent, n)
	for i := range evs {
		evs[i] = queuedEvent(source, "group.member.add", fmt.Sprintf("%s-%04d", prefix, i), at(0))
	}
	return evs
}

// testSyncEnqueueLeasedMany: more events than one statement of a store carries are
// leased at once, their seqs returned in their order; one queued already, or twice among
// them, fails them all with its name, however far in.
func testSyncEnqueueLeasedMany(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	now := at(time.Second)
	evs := manyEvents("scim", "u", 1300)
	seqs, err := sq.EnqueueLeased(ctx, evs, "w", now.Add(time.Minute), now)
	must(t, "enqueue leased", err)
	queued, err := sq.ListEvents(ctx, store.QueueFilter{Source: "scim", Limit: 2000})
	must(t, "list events", err)
	idOf := make(map[int64]string, len(queued))
	for _, e := range queued {
		idOf[e.Seq] = e.EventID
	}
	if len(seqs) != len(evs) || len(queued) != len(evs) {
		t.Fatalf("%d events leased: %d seqs, %d queued", len(evs), len(seqs), len(queued))
	}
	for i, seq := range seqs {
		if idOf[seq] != evs[i].EventID {
			t.Fatalf("seq %d (the %d-th returned) is event %q, want %q", seq, i, idOf[seq], evs[i].EventID)
		}
	}

	inOne := manyEvents("scim", "w", 512) // one statement's worth, on either store
	inOne[300] = inOne[100]
	for what, bad := range map[string][]store.QueuedEvent{
		"queued already":         append(manyEvents("scim", "v", 1100), evs[7]),
		"twice":                  append(manyEvents("scim", "v", 1100), manyEvents("scim", "v", 1100)[1050]),
		"twice in one statement": inOne,
	} {
		dup := bad[len(bad)-1]
		if what == "twice in one statement" {
			dup = inOne[100]
		}
		_, err := sq.EnqueueLeased(ctx, bad, "w", now.Add(time.Minute), now)
		wantErr(t, "an event "+what, err, store.ErrExists)
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", dup.EventID)) {
			t.Errorf("an event %s: %v, which does not name %q", what, err, dup.EventID)
		}
		after, err := sq.ListEvents(ctx, store.QueueFilter{Source: "scim", Limit: 3000})
		must(t, "list events", err)
		if len(after) != len(evs) {
			t.Errorf("an enqueue with an event %s queued %d events", what, len(after)-len(evs))
		}
	}
}

// testSyncFinishAppliedEventsMany: more applied events than one statement of a store
// carries, of several notes, are finished at once with their propagations; one leased
// to another, or named twice, however far in, finishes none, and is named.
func testSyncFinishAppliedEventsMany(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	now := at(time.Second)
	seqs, err := sq.EnqueueLeased(ctx, manyEvents("scim", "u", 1300), "w", now.Add(time.Minute), now)
	must(t, "enqueue leased", err)
	other, err := sq.EnqueueLeased(ctx, manyEvents("scim", "o", 1), "other", now.Add(time.Minute), now)
	must(t, "enqueue leased to another", err)
	applied := func(seqs ...int64) []store.AppliedEvent {
		out := make([]store.AppliedEvent, len(seqs))
		for i, seq := range seqs {
			out[i] = store.AppliedEvent{Seq: seq, Note: fmt.Sprintf("note %d", i%3), Props: []store.QueuedEvent{{
				Source: store.PropagationSource("duo"), EventID: fmt.Sprintf("scim:%d", seq), Key: store.PropagationKey("duo", "user:u"),
				Type: "group.member.add", Time: at(0), Body: []byte(`{}`), Applied: true}}}
		}
		return out
	}
	count := func(f store.QueueFilter) int {
		t.Helper()
		f.Limit = 3000
		evs, err := sq.ListEvents(ctx, f)
		must(t, "list events", err)
		return len(evs)
	}

	for what, bad := range map[string][]int64{
		"another's": append(slices.Clone(seqs), other[0]),
		"twice":     append(slices.Clone(seqs), seqs[1100]),
	} {
		err := sq.FinishAppliedEvents(ctx, "w", applied(bad...), now)
		wantErr(t, "a finish with an event "+what, err, store.ErrConflict)
		if named := fmt.Sprintf("sync event %d:", bad[len(bad)-1]); !strings.Contains(err.Error(), named) {
			t.Errorf("a finish with an event %s: %v, which does not name it (%q)", what, err, named)
		}
		if n, p := count(store.QueueFilter{Source: "scim", State: store.QueuePending}), count(store.QueueFilter{Source: store.PropagationSource("duo")}); n != 1301 || p != 0 {
			t.Fatalf("after a finish with an event %s: %d pending (want 1301), %d propagations (want 0)", what, n, p)
		}
	}

	must(t, "finish applied events", sq.FinishAppliedEvents(ctx, "w", applied(seqs...), now))
	evs, err := sq.ListEvents(ctx, store.QueueFilter{Source: "scim", State: store.QueueDone, Limit: 3000})
	must(t, "list done", err)
	noteOf := make(map[int64]string, len(evs))
	for _, e := range evs {
		if !e.Applied {
			t.Errorf("event %d finished, not applied", e.Seq)
		}
		noteOf[e.Seq] = e.Note
	}
	for i, seq := range seqs {
		if want := fmt.Sprintf("note %d", i%3); noteOf[seq] != want {
			t.Fatalf("event %d after its finish: note %q, want %q", seq, noteOf[seq], want)
		}
	}
	if p := count(store.QueueFilter{Source: store.PropagationSource("duo")}); p != len(seqs) {
		t.Errorf("propagations queued: %d, want %d", p, len(seqs))
	}
}
