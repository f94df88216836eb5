package storetest

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// groupTests are the cases of the groups SCIM manages (store.SyncQueue), for a store
// that keeps them.
var groupTests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"GroupChange", testGroupChange},
	{"GroupChangeAllOrNothing", testGroupChangeAllOrNothing},
	{"GroupChangeMarks", testGroupChangeMarks},
	{"GroupChangeManyEvents", testGroupChangeManyEvents},
	{"GroupChangeMemberIDs", testGroupChangeMemberIDs},
	{"ConcurrentGroupChange", testConcurrentGroupChange},
	{"GroupChangeDelete", testGroupChangeDelete},
	{"GroupChangeCreate", testGroupChangeCreate},
	{"GroupChangeCreateAllOrNothing", testGroupChangeCreateAllOrNothing},
	{"ConcurrentGroupChangeCreate", testConcurrentGroupChangeCreate},
	{"GroupRevisionMembers", testGroupRevisionMembers},
	{"GroupsByName", testGroupsByName},
	{"GroupPage", testGroupPage},
	{"GroupMembers", testGroupMembers},
	{"UserNamesByID", testUserNamesByID},
	{"GroupWriteWithUserBatch", func(t *testing.T, s store.Store) { GroupWriteWithUserBatch(t, s, 10) }},
}

func syncQueue(t testing.TB, s store.Store) store.SyncQueue {
	t.Helper()
	sq, ok := s.(store.SyncQueue)
	if !ok {
		t.Skip("the store keeps no groups")
	}
	return sq
}

func mustGroup(t *testing.T, sq store.SyncQueue, id string) store.Group {
	t.Helper()
	g, err := sq.GetGroup(t.Context(), id)
	if err != nil {
		t.Fatalf("GetGroup(%q): %v", id, err)
	}
	return g
}

// memberChange makes a user's groups groups, on the revision rev.
func memberChange(name string, groups []string, rev int64) store.UserChange {
	return store.UserChange{Name: name, Profile: &store.Profile{Groups: groups}, IfRevision: &rev, Now: at(time.Minute)}
}

func testGroupChange(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	must(t, "create group", sq.CreateGroup(ctx, store.Group{ID: "g1", Name: "eng", CreatedAt: at(0), UpdatedAt: at(0)}))
	must(t, "create other group", sq.CreateGroup(ctx, store.Group{ID: "g2", Name: "ops", CreatedAt: at(0), UpdatedAt: at(0)}))
	mustApply(t, s, create("u1", &store.Profile{}))
	if g := mustGroup(t, sq, "g1"); g.Revision != 0 {
		t.Fatalf("revision of a new group: %d, want 0", g.Revision)
	}

	// A rename with a member added, on the revision read: both, and one more revision.
	zero := int64(0)
	must(t, "change on revision 0", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "engineering", ExternalID: "x1",
		UpdatedAt: at(time.Minute), IfRevision: &zero, Users: []store.UserChange{memberChange("name-u1", []string{"engineering"}, 1)}}))
	g := mustGroup(t, sq, "g1")
	if g.Name != "engineering" || g.ExternalID != "x1" || g.Revision != 1 || !g.UpdatedAt.Equal(at(time.Minute)) {
		t.Errorf("after the change: %+v; want engineering, x1, revision 1", g)
	}
	if r, err := s.GetUserRecord(ctx, "name-u1"); err != nil || len(r.Profile.Groups) != 1 || r.Profile.Groups[0] != "engineering" {
		t.Errorf("the member after the change: %+v, %v", r.Profile, err)
	}

	// On the revision gone: stale, and nothing of it is done.
	wantErr(t, "a change on a stale revision", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "stale", UpdatedAt: at(time.Hour),
		IfRevision: &zero, Users: []store.UserChange{memberChange("name-u1", nil, 2)}}), store.ErrStale)
	if g := mustGroup(t, sq, "g1"); g.Name != "engineering" || g.Revision != 1 {
		t.Errorf("after the stale change: %+v", g)
	}
	if r := revision(t, s, "name-u1"); r != 2 {
		t.Errorf("the member's revision after the stale change: %d, want 2", r)
	}

	// Unconditional, it applies whatever the revision; UpdateGroup counts too.
	must(t, "unconditional change", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng", UpdatedAt: at(time.Hour)}))
	must(t, "update", sq.UpdateGroup(ctx, store.Group{ID: "g1", Name: "eng", ExternalID: "x2", UpdatedAt: at(time.Hour)}))
	if g := mustGroup(t, sq, "g1"); g.Revision != 3 || g.ExternalID != "x2" {
		t.Errorf("after an unconditional change and an update: %+v, want revision 3", g)
	}
	three := int64(3)
	wantErr(t, "a change of a missing group", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "nope", Name: "x", IfRevision: &three}), store.ErrNotFound)
	wantErr(t, "an unconditional change of a missing group", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "nope", Name: "x"}), store.ErrNotFound)
	wantErr(t, "a rename to a name taken", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "ops", IfRevision: &three}), store.ErrExists)
	if g := mustGroup(t, sq, "g1"); g.Name != "eng" || g.Revision != 3 {
		t.Errorf("after the refused rename: %+v", g)
	}

	// The write's queued events, leased to it, are recorded applied in its commit; one
	// leased to another fails the write (ErrConflict), and nothing of it is done.
	seqs, err := sq.EnqueueLeased(ctx, []store.QueuedEvent{
		{Source: "scim", EventID: "w1", Key: "group:eng", Type: "group.rename", Time: at(time.Hour), Body: []byte(`{}`)},
		{Source: "scim", EventID: "w2", Key: "user:u1", Type: "group.member.add", Time: at(time.Hour), Body: []byte(`{}`)}},
		"writer", at(2*time.Hour), at(time.Hour))
	must(t, "enqueue leased", err)
	wantErr(t, "a change whose events another holds", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng3", UpdatedAt: at(time.Hour),
		IfRevision: &three, Events: seqs, Owner: "another"}), store.ErrConflict)
	if g := mustGroup(t, sq, "g1"); g.Name != "eng" || g.Revision != 3 {
		t.Errorf("after the change whose events another holds: %+v", g)
	}
	must(t, "change with its events", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng3", UpdatedAt: at(time.Hour),
		IfRevision: &three, Events: seqs, Owner: "writer"}))
	evs, err := sq.ListEvents(ctx, store.QueueFilter{Source: "scim"})
	must(t, "list events", err)
	for _, e := range evs {
		if !e.Applied {
			t.Errorf("event %d of the committed write not recorded applied: %+v", e.Seq, e)
		}
	}
	if len(evs) != 2 {
		t.Errorf("events: %+v, want the write's 2", evs)
	}
}

// testGroupChangeMarks: a group write moves its events' ordering marks in its commit, as
// MarkKeys does (each to its time, never back, a key named twice to the later); a write
// that fails moves none.
func testGroupChangeMarks(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	must(t, "create group", sq.CreateGroup(ctx, store.Group{ID: "g1", Name: "eng", CreatedAt: at(0), UpdatedAt: at(0)}))
	must(t, "mark ahead", sq.MarkKeys(ctx, at(time.Hour), "user:ahead/group:eng"))
	mark := func(key string) time.Time {
		t.Helper()
		m, err := sq.KeyMark(ctx, key)
		must(t, "key mark "+key, err)
		return m
	}

	zero, five := int64(0), int64(5)
	wantErr(t, "a change on a stale revision", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng", UpdatedAt: at(time.Minute),
		IfRevision: &five, Marks: []store.Mark{{Key: "user:a/group:eng", Time: at(time.Minute)}}}), store.ErrStale)
	if m := mark("user:a/group:eng"); !m.IsZero() {
		t.Errorf("a change that failed moved its mark to %v", m)
	}

	must(t, "change with marks", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng", UpdatedAt: at(time.Minute), IfRevision: &zero,
		Marks: []store.Mark{
			{Key: "user:a/group:eng", Time: at(time.Minute)},
			{Key: "user:b/group:eng", Time: at(2 * time.Minute)},
			{Key: "user:b/group:eng", Time: at(time.Minute)},
			{Key: "user:ahead/group:eng", Time: at(time.Minute)},
		}}))
	for key, want := range map[string]time.Time{
		"user:a/group:eng":     at(time.Minute),
		"user:b/group:eng":     at(2 * time.Minute),
		"user:ahead/group:eng": at(time.Hour),
	} {
		if m := mark(key); !m.Equal(want) {
			t.Errorf("mark %s after the change: %v, want %v", key, m, want)
		}
	}
}

// testGroupChangeAllOrNothing: a user change that fails (its user changed since it was
// read, or is gone) fails the group's change, and nothing of it is done, neither the
// group's record nor the members changed before it.
func testGroupChangeAllOrNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	must(t, "create group", sq.CreateGroup(ctx, store.Group{ID: "g1", Name: "eng", CreatedAt: at(0), UpdatedAt: at(0)}))
	mustApply(t, s, create("u1", &store.Profile{}), create("u2", &store.Profile{}))
	zero := int64(0)
	for _, bad := range []store.UserChange{memberChange("name-u2", []string{"eng2"}, 7), memberChange("name-gone", []string{"eng2"}, 1)} {
		err := sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng2", ExternalID: "x", UpdatedAt: at(time.Hour), IfRevision: &zero,
			Users: []store.UserChange{memberChange("name-u1", []string{"eng2"}, 1), bad}})
		if err == nil {
			t.Fatalf("a group change with a failing user change (%s): no error", bad.Name)
		}
		if g := mustGroup(t, sq, "g1"); g.Name != "eng" || g.ExternalID != "" || g.Revision != 0 {
			t.Errorf("the group after its failed change: %+v", g)
		}
		if r, err := s.GetUserRecord(ctx, "name-u1"); err != nil || len(r.Profile.Groups) != 0 || r.Profile.Revision != 1 {
			t.Errorf("the member changed before the failure: %+v, %v", r.Profile, err)
		}
	}
}

// testConcurrentGroupChange: of writers that all read the same revision, exactly one
// applies its change; the others are stale.
func testConcurrentGroupChange(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	must(t, "create group", sq.CreateGroup(ctx, store.Group{ID: "g1", Name: "eng", CreatedAt: at(0), UpdatedAt: at(0)}))
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			zero := int64(0)
			errs[i] = sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng", ExternalID: string(rune('a' + i)), UpdatedAt: at(time.Minute), IfRevision: &zero})
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("writers %d and %d both applied on revision 0", won, i)
		case err == nil:
			won = i
		default:
			wantErr(t, "a losing writer", err, store.ErrStale)
		}
	}
	if won < 0 {
		t.Fatal("no writer applied")
	}
	if g := mustGroup(t, sq, "g1"); g.Revision != 1 || g.ExternalID != string(rune('a'+won)) {
		t.Errorf("after the writers: %+v; want revision 1 and the winner's external id", g)
	}
}

// testGroupChangeDelete: a change that deletes the group does so on its revision, with
// its members' changes, or does nothing.
func testGroupChangeDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	must(t, "create group", sq.CreateGroup(ctx, store.Group{ID: "g1", Name: "eng", CreatedAt: at(0), UpdatedAt: at(0)}))
	mustApply(t, s, create("u1", &store.Profile{Groups: []string{"eng"}}))
	must(t, "update", sq.UpdateGroup(ctx, store.Group{ID: "g1", Name: "eng", UpdatedAt: at(time.Minute)}))
	one, two := int64(1), int64(2) // its member's creation, then the update
	wantErr(t, "a delete on a stale revision", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Delete: true, IfRevision: &one,
		Users: []store.UserChange{memberChange("name-u1", nil, 1)}}), store.ErrStale)
	if r, err := s.GetUserRecord(ctx, "name-u1"); err != nil || len(r.Profile.Groups) != 1 || r.Profile.Revision != 1 {
		t.Errorf("the member after the stale delete: %+v, %v", r.Profile, err)
	}
	mustGroup(t, sq, "g1")
	must(t, "delete on the revision", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Delete: true, IfRevision: &two,
		Users: []store.UserChange{memberChange("name-u1", nil, 1)}}))
	_, err := sq.GetGroup(ctx, "g1")
	wantErr(t, "the deleted group", err, store.ErrNotFound)
	if r, err := s.GetUserRecord(ctx, "name-u1"); err != nil || len(r.Profile.Groups) != 0 {
		t.Errorf("the member after the delete: %+v, %v", r.Profile, err)
	}
	wantErr(t, "a delete of a deleted group", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Delete: true, IfRevision: &two}), store.ErrNotFound)
}

// testGroupChangeCreate: a change that creates the group (a SCIM POST) makes it, its
// external id and its members' changes in one commit, with its queued events recorded
// applied there; a name or id taken is ErrExists, and nothing of it is done.
func testGroupChangeCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	mustApply(t, s, create("u1", &store.Profile{}))
	seqs, err := sq.EnqueueLeased(ctx, []store.QueuedEvent{
		{Source: "scim", EventID: "c1", Key: "group:eng", Type: "group.create", Time: at(time.Hour), Body: []byte(`{}`)},
		{Source: "scim", EventID: "c2", Key: "user:u1", Type: "group.member.add", Time: at(time.Hour), Body: []byte(`{}`)}},
		"writer", at(2*time.Hour), at(time.Hour))
	must(t, "enqueue leased", err)
	must(t, "create", sq.ApplyGroupChange(ctx, store.GroupChange{Create: true, ID: "g1", Name: "eng", ExternalID: "x1", UpdatedAt: at(time.Minute),
		Users: []store.UserChange{memberChange("name-u1", []string{"eng"}, 1)}, Events: seqs, Owner: "writer"}))
	g := mustGroup(t, sq, "g1")
	if g.Name != "eng" || g.ExternalID != "x1" || g.Revision != 0 || !g.CreatedAt.Equal(at(time.Minute)) || !g.UpdatedAt.Equal(at(time.Minute)) {
		t.Errorf("the created group: %+v; want eng, x1, revision 0, created and updated at the change's time", g)
	}
	if r, err := s.GetUserRecord(ctx, "name-u1"); err != nil || len(r.Profile.Groups) != 1 || r.Profile.Groups[0] != "eng" {
		t.Errorf("the member after the create: %+v, %v", r.Profile, err)
	}
	evs, err := sq.ListEvents(ctx, store.QueueFilter{Source: "scim"})
	must(t, "list events", err)
	for _, e := range evs {
		if !e.Applied {
			t.Errorf("event %d of the committed create not recorded applied: %+v", e.Seq, e)
		}
	}
	if len(evs) != 2 {
		t.Errorf("events: %+v, want the create's 2", evs)
	}

	// Its name taken, or its id: ErrExists, and its member's change is not made.
	mustApply(t, s, create("u2", &store.Profile{}))
	for _, c := range []store.GroupChange{{ID: "g2", Name: "eng"}, {ID: "g1", Name: "ops"}} {
		c.Create, c.UpdatedAt, c.Users = true, at(time.Hour), []store.UserChange{memberChange("name-u2", []string{c.Name}, 1)}
		wantErr(t, "a create of a name or id taken ("+c.ID+", "+c.Name+")", sq.ApplyGroupChange(ctx, c), store.ErrExists)
		if r := revision(t, s, "name-u2"); r != 1 {
			t.Errorf("the member of the refused create %+v changed: revision %d, want 1", c, r)
		}
	}
	if gs, err := sq.ListGroups(ctx); err != nil || len(gs) != 1 {
		t.Errorf("groups after the refused creates: %+v, %v; want g1 alone", gs, err)
	}
	// A create has no revision: on one, or as a delete, it is refused.
	zero := int64(0)
	if err := sq.ApplyGroupChange(ctx, store.GroupChange{Create: true, ID: "g3", Name: "ops", IfRevision: &zero}); err == nil {
		t.Error("a create on a revision: no error")
	}
	if err := sq.ApplyGroupChange(ctx, store.GroupChange{Create: true, Delete: true, ID: "g3", Name: "ops"}); err == nil {
		t.Error("a create that deletes: no error")
	}
	if _, err := sq.GetGroup(ctx, "g3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the group of a refused create: %v, want ErrNotFound", err)
	}
}

// testGroupChangeCreateAllOrNothing: a create whose member change fails (its user changed
// since it was read, or is gone), or whose events another holds, creates no group and
// changes no member; the same create made again then succeeds.
func testGroupChangeCreateAllOrNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	mustApply(t, s, create("u1", &store.Profile{}), create("u2", &store.Profile{}))
	seqs, err := sq.EnqueueLeased(ctx, []store.QueuedEvent{
		{Source: "scim", EventID: "c1", Key: "group:eng", Type: "group.create", Time: at(time.Hour), Body: []byte(`{}`)}},
		"writer", at(2*time.Hour), at(time.Hour))
	must(t, "enqueue leased", err)
	ok := memberChange("name-u1", []string{"eng"}, 1)
	for what, c := range map[string]store.GroupChange{
		"a member changed since": {Users: []store.UserChange{ok, memberChange("name-u2", []string{"eng"}, 7)}},
		"a member gone":          {Users: []store.UserChange{ok, memberChange("name-gone", []string{"eng"}, 1)}},
		"its events another's":   {Users: []store.UserChange{ok}, Events: seqs, Owner: "another"},
	} {
		c.Create, c.ID, c.Name, c.ExternalID, c.UpdatedAt = true, "g1", "eng", "x", at(time.Minute)
		if err := sq.ApplyGroupChange(ctx, c); err == nil {
			t.Fatalf("a create with %s: no error", what)
		}
		if _, err := sq.GetGroup(ctx, "g1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a create with %s left its group: %v", what, err)
		}
		if _, err := sq.GetGroupByName(ctx, "eng"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a create with %s left its group's name: %v", what, err)
		}
		if r, err := s.GetUserRecord(ctx, "name-u1"); err != nil || len(r.Profile.Groups) != 0 || r.Profile.Revision != 1 {
			t.Errorf("a create with %s changed the member before the failure: %+v, %v", what, r.Profile, err)
		}
	}
	if evs, err := sq.ListEvents(ctx, store.QueueFilter{Source: "scim"}); err != nil || len(evs) != 1 || evs[0].Applied {
		t.Errorf("the events of the failed creates: %+v, %v; want one, not applied", evs, err)
	}
	must(t, "the create made again", sq.ApplyGroupChange(ctx, store.GroupChange{Create: true, ID: "g1", Name: "eng", UpdatedAt: at(time.Minute),
		Users: []store.UserChange{ok}, Events: seqs, Owner: "writer"}))
	if r, err := s.GetUserRecord(ctx, "name-u1"); err != nil || len(r.Profile.Groups) != 1 {
		t.Errorf("the member after the create made again: %+v, %v", r.Profile, err)
	}
}

// testConcurrentGroupChangeCreate: of creates of one name at once, each with its own id
// and member, exactly one applies; the others are ErrExists and change no member.
func testConcurrentGroupChangeCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	const writers = 8
	for i := range writers {
		mustApply(t, s, create(fmt.Sprintf("u%d", i), &store.Profile{}))
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			errs[i] = sq.ApplyGroupChange(ctx, store.GroupChange{Create: true, ID: fmt.Sprintf("g%d", i), Name: "eng", UpdatedAt: at(time.Minute),
				Users: []store.UserChange{memberChange(fmt.Sprintf("name-u%d", i), []string{"eng"}, 1)}})
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("writers %d and %d both created eng", won, i)
		case err == nil:
			won = i
		default:
			wantErr(t, "a losing writer", err, store.ErrExists)
		}
	}
	if won < 0 {
		t.Fatal("no writer created the group")
	}
	if g, err := sq.GetGroupByName(ctx, "eng"); err != nil || g.ID != fmt.Sprintf("g%d", won) {
		t.Errorf("the group: %+v, %v; want the winner's, g%d", g, err, won)
	}
	for i := range writers {
		if r, want := revision(t, s, fmt.Sprintf("name-u%d", i)), int64(1); i == won {
			if r != 2 {
				t.Errorf("the winner's member: revision %d, want 2", r)
			}
		} else if r != want {
			t.Errorf("writer %d's member changed by its refused create: revision %d", i, r)
		}
	}
}

// testGroupRevisionMembers: a group's revision moves with its members, whichever way they
// change (the admin API, an import, a directory's events: ApplyUserChanges), so that a
// write on the revision its caller read (GroupChange.IfRevision, a SCIM If-Match) is
// stale once a member came or went. A change that leaves a group's members as they were
// leaves its revision; a write of the group itself moves it by one, its members' changes
// included.
func testGroupRevisionMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	must(t, "create group", sq.CreateGroup(ctx, store.Group{ID: "g1", Name: "eng", CreatedAt: at(0), UpdatedAt: at(0)}))
	must(t, "create other group", sq.CreateGroup(ctx, store.Group{ID: "g2", Name: "ops", CreatedAt: at(0), UpdatedAt: at(0)}))
	revs := func(what string, eng, ops int64) {
		t.Helper()
		if g1, g2 := mustGroup(t, sq, "g1"), mustGroup(t, sq, "g2"); g1.Revision != eng || g2.Revision != ops {
			t.Errorf("%s: revisions eng %d, ops %d; want %d, %d", what, g1.Revision, g2.Revision, eng, ops)
		}
	}
	mustApply(t, s, create("u1", &store.Profile{Groups: []string{"eng", "admins"}}), create("u2", &store.Profile{}))
	revs("a member created in eng", 1, 0)
	if g := mustGroup(t, sq, "g1"); !g.UpdatedAt.Equal(at(time.Second)) {
		t.Errorf("eng updated at %v after its member came, want the change's time %v", g.UpdatedAt, at(time.Second))
	}
	mustApply(t, s, store.UserChange{Name: "name-u1", Profile: &store.Profile{Email: "u1@example.com", Groups: []string{"admins", "eng"}}, Now: at(time.Minute)})
	revs("its email changed, its groups not", 1, 0)
	mustApply(t, s, memberChange("name-u1", []string{"ops"}, 2))
	revs("moved from eng to ops", 2, 1)
	mustApply(t, s, memberChange("name-u2", []string{"eng", "ops"}, 1))
	revs("another added to both", 3, 2)
	two, three := int64(2), int64(3)
	wantErr(t, "a group write on the revision before its members changed", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng",
		UpdatedAt: at(time.Hour), IfRevision: &two}), store.ErrStale)
	must(t, "a group write with a member", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng", UpdatedAt: at(time.Hour), IfRevision: &three,
		Users: []store.UserChange{memberChange("name-u1", []string{"eng", "ops"}, 3)}}))
	revs("the group's own write, with its member", 4, 2)
	mustApply(t, s, store.UserChange{Name: "name-u2", Delete: true, Now: at(2 * time.Hour)})
	revs("a member of both deleted", 5, 3)
}

// testGroupsByName: the groups of the names given that exist, by name, each once.
func testGroupsByName(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	for _, g := range []store.Group{{ID: "g1", Name: "eng"}, {ID: "g2", Name: "ops"}, {ID: "g3", Name: "Sales"}} {
		g.CreatedAt, g.UpdatedAt = at(0), at(0)
		must(t, "create group "+g.Name, sq.CreateGroup(ctx, g))
	}
	gs, err := sq.GetGroupsByName(ctx, []string{"ops", "nope", "eng", "ops", "sales"})
	must(t, "GetGroupsByName", err)
	var got []string
	for _, g := range gs {
		got = append(got, g.ID+":"+g.Name)
	}
	diff(t, "the groups of ops, nope, eng, ops, sales", []string{"g1:eng", "g2:ops"}, got)
	gs, err = sq.GetGroupsByName(ctx, nil)
	if err != nil || len(gs) != 0 {
		t.Errorf("GetGroupsByName(nil): %+v, %v; want none", gs, err)
	}
}

// testGroupMembers: the members of several groups in one read, each group's in the
// order of ListUserRecords (name regardless of ASCII case).
func testGroupMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	for _, c := range []store.UserChange{
		create("b", &store.Profile{Groups: []string{"eng", "ops"}}),
		create("A", &store.Profile{Groups: []string{"eng"}}),
		create("c", &store.Profile{Groups: []string{"Eng"}}),
		create("d", &store.Profile{}),
	} {
		mustApply(t, s, c)
	}
	got, err := sq.GroupMembers(ctx, []string{"ops", "eng", "none", "eng"})
	must(t, "GroupMembers", err)
	names := map[string][]string{}
	for g, us := range got {
		for _, u := range us {
			names[g] = append(names[g], u.ID+":"+u.Name)
		}
	}
	diff(t, "the members of ops, eng, none", map[string][]string{"eng": {"A:name-A", "b:name-b"}, "ops": {"b:name-b"}}, names)
	if got, err := sq.GroupMembers(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("GroupMembers(nil): %+v, %v; want none", got, err)
	}
}

// testUserNamesByID: the names of many users by their ids in one call (a group's members),
// across the store's chunks of ids; an id that names no user (another case of one, empty,
// one no row could hold) is left out, and one given twice is read once.
func testUserNamesByID(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	mustApply(t, s, create("id-0000", nil), create("id-0600", nil), create("id-1100", nil), create("other", nil))
	ids := []string{"id-0600", "ID-0600", "", "id-\x00", "id-1100"}
	for i := range 1200 {
		ids = append(ids, fmt.Sprintf("id-%04d", i))
	}
	got, err := sq.UserNamesByID(ctx, ids)
	must(t, "UserNamesByID", err)
	diff(t, "the names of 1,200 ids, three of them users'", map[string]string{
		"id-0000": "name-id-0000", "id-0600": "name-id-0600", "id-1100": "name-id-1100"}, got)
	if got, err := sq.UserNamesByID(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("UserNamesByID(nil): %+v, %v; want none", got, err)
	}
}

// GroupWriteWithUserBatch runs, rounds times, a SCIM group write that adds and removes
// members (ApplyGroupChange, its members in the order the directory listed them) at once
// with a batch of an import that changes the same users (ApplyUserChanges, in the file's
// order, another), and the groups of each: both must apply, every round. Each locks the
// same users' rows and the group's; taken in orders that cross, PostgreSQL aborts one of
// them as deadlocked (40P01). A store's own test may count what it aborted meanwhile.
func GroupWriteWithUserBatch(t *testing.T, s store.Store, rounds int) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	must(t, "create group", sq.CreateGroup(ctx, store.Group{ID: "g1", Name: "eng", CreatedAt: at(0), UpdatedAt: at(0)}))
	const users = 24
	var initial []store.UserChange
	for i := range users {
		initial = append(initial, create(fmt.Sprintf("u%02d", i), &store.Profile{}))
	}
	mustApply(t, s, initial...)
	name := func(i int) string { return fmt.Sprintf("name-u%02d", i) }
	for round := range rounds {
		// The group write: every other user joins (or, a round later, leaves) eng, listed
		// last first. The batch: every user's display name, and "all" for the other half,
		// first to last; eng is kept as the user has it.
		joins := round%2 == 0
		var members []store.UserChange
		for i := users - 1; i >= 0; i -= 2 {
			var groups []string
			if joins {
				groups = []string{"eng"}
			}
			members = append(members, store.UserChange{Name: name(i), Profile: &store.Profile{Groups: groups}, Now: at(time.Duration(round) * time.Minute)})
		}
		var batch []store.UserChange
		for i := range users {
			groups := []string{"all"}
			if i%2 == 1 && !joins { // what it had after the last round's group write
				groups = append(groups, "eng")
			}
			batch = append(batch, store.UserChange{Name: name(i), Profile: &store.Profile{DisplayName: fmt.Sprint(round), Groups: groups},
				Now: at(time.Duration(round) * time.Minute)})
		}
		errs := concurrently(2, func(i int) error {
			if i == 0 {
				return sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng", UpdatedAt: at(time.Duration(round) * time.Minute), Users: members})
			}
			return errors.Join(s.ApplyUserChanges(ctx, batch)...)
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: the %s: %v", round, []string{"group write", "user batch"}[i], err)
			}
		}
	}
}

// MigrationGroupRevision checks migration 13 on db, a schema at version 12: a group
// written before it is at revision 0, and a write on that revision changes it once.
func MigrationGroupRevision(t *testing.T, db *sql.DB, migrate func() error) {
	t.Helper()
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `INSERT INTO sync_groups (id, name, external_id, created_at, updated_at) VALUES ('g1', 'eng', 'x', 1000, 2000)`); err != nil {
		t.Fatal(err)
	}
	if err := migrate(); err != nil {
		t.Fatal(err)
	}
	var name string
	var rev int64
	if err := db.QueryRowContext(ctx, `SELECT name, revision FROM sync_groups WHERE id = 'g1'`).Scan(&name, &rev); err != nil || name != "eng" || rev != 0 {
		t.Fatalf("the group after the migration: %q at %d, %v; want eng at 0", name, rev, err)
	}
	for i, want := range []int64{1, 0} {
		res, err := db.ExecContext(ctx, `UPDATE sync_groups SET name = 'ops', revision = revision + 1 WHERE id = 'g1' AND revision = 0`)
		n, _ := affected(res, err)
		if err != nil || int64(n) != want {
			t.Fatalf("write %d on revision 0: %d rows, %v; want %d", i+1, n, err, want)
		}
	}
}

func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// testGroupChangeManyEvents: a group write of more events and marks than one statement
// of a store carries records them all in its commit; one event no longer its own,
// however far in, fails the write, named, and nothing of it is done.
func testGroupChangeManyEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	must(t, "create group", sq.CreateGroup(ctx, store.Group{ID: "g1", Name: "eng", CreatedAt: at(0), UpdatedAt: at(0)}))
	evs := make([]store.QueuedEvent, 1300)
	marks := make([]store.Mark, 0, 2*len(evs))
	for i := range evs {
		user := fmt.Sprintf("u%04d", i)
		evs[i] = store.QueuedEvent{Source: "scim", EventID: "add " + user, Key: "user:" + user + "/group:eng", Type: "group.member.add",
			Time: at(time.Minute), Body: []byte(`{}`)}
		// Each key twice, the later time second for some, first for others.
		first, second := at(time.Duration(i)*time.Millisecond), at(time.Hour+time.Duration(i)*time.Millisecond)
		if i%2 == 1 {
			first, second = second, first
		}
		marks = append(marks, store.Mark{Key: evs[i].Key, Time: first}, store.Mark{Key: evs[i].Key, Time: second})
	}
	seqs, err := sq.EnqueueLeased(ctx, evs, "writer", at(2*time.Hour), at(time.Minute))
	must(t, "enqueue leased", err)
	other, err := sq.EnqueueLeased(ctx, []store.QueuedEvent{{Source: "scim", EventID: "other", Key: "user:x", Type: "group.member.add",
		Time: at(time.Minute), Body: []byte(`{}`)}}, "another", at(2*time.Hour), at(time.Minute))
	must(t, "enqueue leased to another", err)

	zero := int64(0)
	err = sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng2", UpdatedAt: at(time.Minute), IfRevision: &zero,
		Events: append(slices.Clone(seqs), other[0]), Owner: "writer", Marks: marks})
	wantErr(t, "a write with an event another holds", err, store.ErrConflict)
	if named := fmt.Sprintf("sync event %d ", other[0]); !strings.Contains(err.Error(), named) {
		t.Errorf("a write with an event another holds: %v, which does not name it (%q)", err, named)
	}
	if g := mustGroup(t, sq, "g1"); g.Name != "eng" || g.Revision != 0 {
		t.Errorf("the group after a write that failed: %+v", g)
	}
	keys := make([]string, len(evs))
	for i, e := range evs {
		keys[i] = e.Key
	}
	if got, err := sq.KeyMarks(ctx, keys); err != nil || len(got) != 0 {
		t.Errorf("marks after a write that failed: %d, %v", len(got), err)
	}

	must(t, "a write of its events", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng2", UpdatedAt: at(time.Minute), IfRevision: &zero,
		Events: seqs, Owner: "writer", Marks: marks}))
	queued, err := sq.ListEvents(ctx, store.QueueFilter{Source: "scim", Limit: 3000})
	must(t, "list events", err)
	for _, e := range queued {
		if e.Applied != (e.Seq != other[0]) {
			t.Errorf("event %d (%s) after the write: applied %v", e.Seq, e.EventID, e.Applied)
		}
	}
	got, err := sq.KeyMarks(ctx, keys)
	must(t, "key marks", err)
	for i, key := range keys {
		if want := at(time.Hour + time.Duration(i)*time.Millisecond); !got[key].Equal(want) {
			t.Fatalf("mark %s after the write: %v, want %v (the later of its two)", key, got[key], want)
		}
	}
}

// testGroupChangeMemberIDs: a member's change finds its user by name as it stands when
// the change is made (a user deleted earlier in the write is gone for a later change of
// its name), and one for another user of the name (IfUser) is stale; either fails the
// write, and nothing of it is done.
func testGroupChangeMemberIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	must(t, "create group", sq.CreateGroup(ctx, store.Group{ID: "g1", Name: "eng", CreatedAt: at(0), UpdatedAt: at(0)}))
	mustApply(t, s, create("u1", &store.Profile{}), create("u2", &store.Profile{}))
	zero := int64(0)
	u1 := memberChange("name-u1", []string{"eng"}, 1)
	otherU2 := memberChange("name-u2", []string{"eng"}, 1)
	otherU2.IfUser = "u2-before"
	for what, tc := range map[string]struct {
		users []store.UserChange
		want  error
	}{
		"a change of a user deleted before it": {[]store.UserChange{u1, {Name: "name-u2", Delete: true, Now: at(time.Minute)},
			memberChange("name-u2", []string{"eng"}, 1)}, store.ErrNotFound},
		"a change for another user of the name": {[]store.UserChange{u1, otherU2}, store.ErrStale},
	} {
		err := sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng", UpdatedAt: at(time.Hour), IfRevision: &zero, Users: tc.users})
		wantErr(t, what, err, tc.want)
		if g := mustGroup(t, sq, "g1"); g.Revision != 0 {
			t.Errorf("the group after %s: %+v", what, g)
		}
		for _, name := range []string{"name-u1", "name-u2"} {
			if r, err := s.GetUserRecord(ctx, name); err != nil || len(r.Profile.Groups) != 0 || r.Profile.Revision != 1 {
				t.Errorf("%s after %s: %+v, %v", name, what, r.Profile, err)
			}
		}
	}
	u2 := memberChange("name-u2", []string{"eng"}, 1)
	u2.IfUser = "u2"
	must(t, "a change of both", sq.ApplyGroupChange(ctx, store.GroupChange{ID: "g1", Name: "eng", UpdatedAt: at(time.Hour), IfRevision: &zero,
		Users: []store.UserChange{u1, u2}}))
	for _, name := range []string{"name-u1", "name-u2"} {
		if r, err := s.GetUserRecord(ctx, name); err != nil || !slices.Equal(r.Profile.Groups, []string{"eng"}) {
			t.Errorf("%s after the change: %+v, %v", name, r.Profile, err)
		}
	}
}
