package storetest

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// adminTests are the cases of the Directory half of the store (store/admin.go).
var adminTests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"ApplyUserChanges", testApplyUserChanges},
	{"ApplyUserChangesAtomic", testApplyUserChangesAtomic},
	{"ApplyUserChangesFactors", testApplyUserChangesFactors},
	{"ApplyUserChangesIfRevision", testApplyUserChangesIfRevision},
	{"ApplyUserChangesIfMarks", testApplyUserChangesIfMarks},
	{"ApplyUserChangesConcurrentEdits", testApplyUserChangesConcurrentEdits},
	{"ListUserRecords", testListUserRecords},
	{"GetUserRecords", testGetUserRecords},
	{"UserRecordsByPosition", testUserRecordsByPosition},
	{"UserRecordsByExternalID", testUserRecordsByExternalID},
	{"UserRecordsByFoldedProfile", testUserRecordsByFoldedProfile},
	{"LastUsed", testLastUsed},
	{"ListPendingFactors", testListPendingFactors},
	{"ExpireFactor", testExpireFactor},
	{"AdminTokens", testAdminTokens},
	{"CapabilitySwitches", testCapabilitySwitches},
	{"QueryAudit", testQueryAudit},
	{"KeysNoRowHolds", testKeysNoRowHolds},
	{"UserNameCase", testUserNameCase},
}

func apply(t *testing.T, s store.Store, changes ...store.UserChange) []error {
	t.Helper()
	return s.ApplyUserChanges(t.Context(), changes)
}

func mustApply(t *testing.T, s store.Store, changes ...store.UserChange) {
	t.Helper()
	for i, err := range apply(t, s, changes...) {
		if err != nil {
			t.Fatalf("ApplyUserChanges[%d]: %v", i, err)
		}
	}
}

func create(id string, p *store.Profile) store.UserChange {
	u := newUser(id)
	return store.UserChange{Name: u.Name, Create: &u, Profile: p, Now: at(time.Second)}
}

func testApplyUserChanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := &store.Profile{Email: "a@example.com", Phone: "+15550100", Country: "GB", DisplayName: "Alice",
		Groups: []string{"sales", "eng", "sales"}, Attributes: map[string]string{"dept": "7"}}
	c := create("u1", p)
	c.CreateFactors = []store.Factor{newFactor("f1", "ignored", at(0))}
	c.Audit = []store.AuditEvent{{Time: at(0), Username: "name-u1", Resource: "users.create", Outcome: "SUCCESS", Actor: "ops"}}
	mustApply(t, s, c)

	got, err := s.GetUserRecord(ctx, "name-u1")
	if err != nil {
		t.Fatalf("GetUserRecord: %v", err)
	}
	want := store.UserRecord{User: newUser("u1"), Profile: store.Profile{Email: "a@example.com", Phone: "+15550100", Country: "GB",
		DisplayName: "Alice", Groups: []string{"eng", "sales"}, Attributes: map[string]string{"dept": "7"}, UpdatedAt: at(time.Second), Revision: 1}}
	diff(t, "record", want, got)
	if f := mustGetFactor(t, s, "f1"); f.UserID != "u1" {
		t.Errorf("factor created for user %q, want u1", f.UserID)
	}
	ev, err := s.QueryAudit(ctx, store.AuditQuery{})
	if err != nil || len(ev) != 1 || ev[0].Actor != "ops" {
		t.Errorf("QueryAudit = %+v, %v; want the change's one event by ops", ev, err)
	}

	// A plain user has the zero profile.
	mustCreateUser(t, s, newUser("u2"))
	got, err = s.GetUserRecord(ctx, "name-u2")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "plain record", store.UserRecord{User: newUser("u2")}, got)
	_, err = s.GetUserRecord(ctx, "nobody")
	wantErr(t, "GetUserRecord(nobody)", err, store.ErrNotFound)

	// Replacing the profile replaces the groups; disabling sets the state.
	yes := true
	mustApply(t, s, store.UserChange{Name: "name-u1", Profile: &store.Profile{Groups: []string{"ops"}}, Disabled: &yes, Now: at(time.Minute)})
	got, _ = s.GetUserRecord(ctx, "name-u1")
	if !got.Disabled || len(got.Profile.Groups) != 1 || got.Profile.Groups[0] != "ops" || got.Profile.Email != "" || got.Profile.Country != "" || !got.Profile.UpdatedAt.Equal(at(time.Minute)) {
		t.Errorf("after update: %+v", got)
	}

	// One change fails (duplicate, unknown user), the others are applied.
	errs := apply(t, s, create("u3", nil), create("u1", nil), store.UserChange{Name: "nobody", Now: at(0)}, create("u4", nil))
	wantErr(t, "change 0", errs[0], nil)
	wantErr(t, "duplicate", errs[1], store.ErrExists)
	wantErr(t, "unknown user", errs[2], store.ErrNotFound)
	wantErr(t, "change 3", errs[3], nil)
	for _, name := range []string{"name-u3", "name-u4"} {
		if _, err := s.GetUser(ctx, name); err != nil {
			t.Errorf("GetUser(%s): %v", name, err)
		}
	}

	// A batch of new users alone (PostgreSQL sends it whole, then change by change when a
	// change fails): a name that exists, or that the batch takes twice, fails alone.
	batch := []store.UserChange{create("u5", &store.Profile{Groups: []string{"g5"}}), create("u3", nil), create("u6", nil), create("u6", nil)}
	batch[3].Create = &store.User{ID: "u7", Name: "name-u6", CreatedAt: at(0)}
	batch[2].Audit = []store.AuditEvent{{Time: at(0), Username: "name-u6", Resource: "users.create", Outcome: "SUCCESS", Actor: "batch"}}
	errs = apply(t, s, batch...)
	wantErr(t, "new user", errs[0], nil)
	wantErr(t, "existing name", errs[1], store.ErrExists)
	wantErr(t, "new user", errs[2], nil)
	wantErr(t, "name taken twice", errs[3], store.ErrExists)
	if got, err := s.GetUserRecord(ctx, "name-u5"); err != nil || len(got.Profile.Groups) != 1 {
		t.Errorf("GetUserRecord(name-u5) = %+v, %v", got, err)
	}
	if u, err := s.GetUser(ctx, "name-u6"); err != nil || u.ID != "u6" {
		t.Errorf("GetUser(name-u6) = %+v, %v; want the first u6", u, err)
	}
	if ev, _ := s.QueryAudit(ctx, store.AuditQuery{Username: "name-u6"}); len(ev) != 1 || ev[0].Actor != "batch" {
		t.Errorf("audit of the batch: %+v, want its one event", ev)
	}

	// Delete takes the factors, profile and groups along.
	mustApply(t, s, store.UserChange{Name: "name-u1", Delete: true, Now: at(0)})
	_, err = s.GetFactor(ctx, "f1")
	wantErr(t, "factor of deleted user", err, store.ErrNotFound)
	recs, err := s.ListUserRecords(ctx, store.UserQuery{Group: "ops"})
	if err != nil || len(recs) != 0 {
		t.Errorf("group of a deleted user: %+v, %v", recs, err)
	}
}

func testApplyUserChangesAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u0"))
	mustCreateFactor(t, s, newFactor("taken", "u0", at(0)))
	// The user would be created, then its factor collides: nothing of the change remains,
	// its audit event included.
	c := create("u1", &store.Profile{Groups: []string{"g"}})
	c.CreateFactors = []store.Factor{newFactor("taken", "", at(0))}
	c.Audit = []store.AuditEvent{{Time: at(0), Resource: "users.create"}}
	errs := apply(t, s, c)
	wantErr(t, "colliding factor", errs[0], store.ErrExists)
	_, err := s.GetUser(ctx, "name-u1")
	wantErr(t, "half-created user", err, store.ErrNotFound)
	if ev, _ := s.QueryAudit(ctx, store.AuditQuery{}); len(ev) != 0 {
		t.Errorf("audit of a change undone: %+v", ev)
	}
}

func revision(t *testing.T, s store.Store, name string) int64 {
	t.Helper()
	r, err := s.GetUserRecord(t.Context(), name)
	if err != nil {
		t.Fatalf("GetUserRecord(%s): %v", name, err)
	}
	return r.Profile.Revision
}

func testApplyUserChangesIfRevision(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustApply(t, s, create("u1", &store.Profile{Email: "a@example.com"}))
	if r := revision(t, s, "name-u1"); r != 1 {
		t.Fatalf("revision after the create: %d, want 1", r)
	}
	one, yes := int64(1), true
	mustApply(t, s, store.UserChange{Name: "name-u1", Profile: &store.Profile{Email: "b@example.com"}, IfRevision: &one, Now: at(time.Minute)})

	// Conditional on the revision read before that change: nothing of it is done.
	stale := store.UserChange{Name: "name-u1", Profile: &store.Profile{Email: "c@example.com"}, Disabled: &yes, IfRevision: &one,
		CreateFactors: []store.Factor{newFactor("f1", "", at(0))}, Audit: []store.AuditEvent{{Time: at(0), Resource: "users.update"}}, Now: at(time.Hour)}
	wantErr(t, "a change on a stale revision", apply(t, s, stale)[0], store.ErrStale)
	got, err := s.GetUserRecord(ctx, "name-u1")
	if err != nil || got.Profile.Email != "b@example.com" || got.Disabled || got.Profile.Revision != 2 || !got.Profile.UpdatedAt.Equal(at(time.Minute)) {
		t.Errorf("after the stale change: %+v, %v; want b@example.com, active, revision 2", got, err)
	}
	_, err = s.GetFactor(ctx, "f1")
	wantErr(t, "the stale change's factor", err, store.ErrNotFound)
	if ev, _ := s.QueryAudit(ctx, store.AuditQuery{}); len(ev) != 0 {
		t.Errorf("audit of a stale change: %+v", ev)
	}

	// Every change counts, conditional or not, a profile or only a stamp.
	mustApply(t, s, store.UserChange{Name: "name-u1", Disabled: &yes, Now: at(2 * time.Hour)})
	if r := revision(t, s, "name-u1"); r != 3 {
		t.Errorf("revision after a change of state: %d, want 3", r)
	}

	// A user no change has touched is at revision 0: a change on any other revision
	// (one it never had, or -1, never held) is stale and changes nothing.
	mustCreateUser(t, s, newUser("u2"))
	for _, rev := range []int64{5, -1} {
		wantErr(t, fmt.Sprintf("a change on revision %d of a user at 0", rev),
			apply(t, s, store.UserChange{Name: "name-u2", Profile: &store.Profile{DisplayName: "Mallory"}, IfRevision: &rev, Now: at(0)})[0], store.ErrStale)
		wantErr(t, fmt.Sprintf("a delete on revision %d of a user at 0", rev),
			apply(t, s, store.UserChange{Name: "name-u2", Delete: true, IfRevision: &rev, Now: at(0)})[0], store.ErrStale)
	}
	if r := revision(t, s, "name-u2"); r != 0 {
		t.Errorf("revision after stale changes: %d, want 0", r)
	}
	zero := int64(0)
	mustApply(t, s, store.UserChange{Name: "name-u2", Profile: &store.Profile{Phone: "+15550100"}, IfRevision: &zero, Now: at(0)})
	wantErr(t, "a second change on revision 0", apply(t, s, store.UserChange{Name: "name-u2", Profile: &store.Profile{}, IfRevision: &zero, Now: at(0)})[0], store.ErrStale)

	// In a batch, the stale change fails alone.
	two, three := int64(2), int64(3)
	errs := apply(t, s,
		store.UserChange{Name: "name-u1", Profile: &store.Profile{Email: "d@example.com", Country: "DE"}, IfRevision: &three, Now: at(3 * time.Hour)},
		store.UserChange{Name: "name-u2", Profile: &store.Profile{Email: "e@example.com"}, IfRevision: &two, Now: at(3 * time.Hour)})
	wantErr(t, "the current change of the batch", errs[0], nil)
	wantErr(t, "the stale change of the batch", errs[1], store.ErrStale)
	if got, _ := s.GetUserRecord(ctx, "name-u1"); got.Profile.Email != "d@example.com" || got.Profile.Country != "DE" || got.Profile.Revision != 4 {
		t.Errorf("after the batch: %+v", got)
	}
	if got, _ := s.GetUserRecord(ctx, "name-u2"); got.Profile.Phone != "+15550100" || got.Profile.Revision != 1 {
		t.Errorf("after the batch, its stale change: %+v", got)
	}
}

// testApplyUserChangesConcurrentEdits: writers that each read the profile, add an
// attribute of their own and write it back on the revision they read, again when it is
// stale, lose none of one another's attributes.
func testApplyUserChangesConcurrentEdits(t *testing.T, s store.Store) {
	mustApply(t, s, create("u1", &store.Profile{}))
	const writers, edits = 4, 5
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for e := range edits {
				for try := 0; ; try++ {
					if try == 1000 {
						errc <- fmt.Errorf("edit %d of writer %d: stale a thousand times", e, w)
						return
					}
					r, err := s.GetUserRecord(t.Context(), "name-u1")
					if err != nil {
						errc <- err
						return
					}
					p := r.Profile
					p.Attributes = maps.Clone(p.Attributes)
					if p.Attributes == nil {
						p.Attributes = map[string]string{}
					}
					p.Attributes[fmt.Sprintf("w%d-%d", w, e)] = "x"
					err = s.ApplyUserChanges(t.Context(), []store.UserChange{{Name: "name-u1", Profile: &p, IfRevision: &r.Profile.Revision, Now: at(0)}})[0]
					if err == nil {
						break
					}
					if !errors.Is(err, store.ErrStale) {
						errc <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("an edit: %v", err)
	}
	got, err := s.GetUserRecord(t.Context(), "name-u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Profile.Attributes) != writers*edits || got.Profile.Revision != 1+writers*edits {
		t.Errorf("after %d edits: %d attributes, revision %d; want every edit's attribute and revision %d",
			writers*edits, len(got.Profile.Attributes), got.Profile.Revision, 1+writers*edits)
	}
}

func testApplyUserChangesFactors(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1"))
	mustCreateUser(t, s, newUser("u2"))
	for _, id := range []string{"a", "b", "c"} {
		mustCreateFactor(t, s, newFactor(id, "u1", at(0)))
	}
	mustCreateFactor(t, s, newFactor("other", "u2", at(0)))
	mustApply(t, s, store.UserChange{Name: "name-u1", Now: at(time.Hour),
		UpdateFactors: []store.FactorUpdate{{ID: "a", Label: "new", Params: map[string]string{"k": "v"}}},
		StateChanges:  []store.FactorStateChange{{ID: "b", State: store.FactorDisabled}},
		DeleteFactors: []string{"c"},
	})
	a := mustGetFactor(t, s, "a")
	if a.Label != "new" || a.Params["k"] != "v" || !a.UpdatedAt.Equal(at(time.Hour)) {
		t.Errorf("updated factor: %+v", a)
	}
	if b := mustGetFactor(t, s, "b"); b.State != store.FactorDisabled {
		t.Errorf("factor b state %s", b.State)
	}
	_, err := s.GetFactor(ctx, "c")
	wantErr(t, "deleted factor", err, store.ErrNotFound)
	// LabelOnly renames, and leaves the params as stored: not the ones given.
	mustApply(t, s, store.UserChange{Name: "name-u1", Now: at(2 * time.Hour),
		UpdateFactors: []store.FactorUpdate{{ID: "a", Label: "renamed", LabelOnly: true, Params: map[string]string{"k": "stale"}}}})
	if a := mustGetFactor(t, s, "a"); a.Label != "renamed" || len(a.Params) != 1 || a.Params["k"] != "v" || !a.UpdatedAt.Equal(at(2*time.Hour)) {
		t.Errorf("factor renamed alone: %+v", a)
	}
	// IfPending updates a pending factor only: ErrStale for another, or one gone.
	pending := newFactor("p", "u1", at(0))
	pending.State = store.FactorPending
	mustCreateFactor(t, s, pending)
	mustApply(t, s, store.UserChange{Name: "name-u1", Now: at(2 * time.Hour),
		UpdateFactors: []store.FactorUpdate{{ID: "p", Label: "p", Params: map[string]string{"to": "new"}, IfPending: true}}})
	if p := mustGetFactor(t, s, "p"); p.Params["to"] != "new" {
		t.Errorf("pending factor updated IfPending: %+v", p)
	}
	for _, id := range []string{"a", "c"} {
		errs := apply(t, s, store.UserChange{Name: "name-u1", Now: at(3 * time.Hour),
			UpdateFactors: []store.FactorUpdate{{ID: id, Label: "x", Params: map[string]string{"to": "x"}, IfPending: true}}})
		wantErr(t, "IfPending of factor "+id, errs[0], store.ErrStale)
	}
	if a := mustGetFactor(t, s, "a"); a.Label != "renamed" || a.Params["to"] != "" {
		t.Errorf("active factor updated IfPending: %+v", a)
	}
	// Another user's factor is not this user's to change.
	for _, c := range []store.UserChange{
		{Name: "name-u1", DeleteFactors: []string{"other"}},
		{Name: "name-u1", StateChanges: []store.FactorStateChange{{ID: "other", State: store.FactorDisabled}}},
		{Name: "name-u1", UpdateFactors: []store.FactorUpdate{{ID: "other", Label: "x"}}},
	} {
		wantErr(t, "other user's factor", apply(t, s, c)[0], store.ErrNotFound)
	}
	// A reset skips a factor that is gone, and applies the rest.
	mustCreateFactor(t, s, newFactor("r", "u2", at(0)))
	mustApply(t, s, store.UserChange{Name: "name-u2", Now: at(4 * time.Hour), Reset: &store.FactorReset{},
		StateChanges:  []store.FactorStateChange{{ID: "gone", State: store.FactorDisabled}, {ID: "r", State: store.FactorDisabled}},
		DeleteFactors: []string{"gone"}})
	if r := mustGetFactor(t, s, "r"); r.State != store.FactorDisabled {
		t.Errorf("reset beside a factor gone: %+v", r)
	}
	mustApply(t, s, store.UserChange{Name: "name-u2", Now: at(4 * time.Hour), Reset: &store.FactorReset{}, DeleteFactors: []string{"gone", "r"}})
	_, err = s.GetFactor(ctx, "r")
	wantErr(t, "factor deleted by a reset beside one gone", err, store.ErrNotFound)
	// A reset's DeletePending deletes a factor still pending, and moves one active since
	// (an activation between the reset's read and its commit) to the state, as the others.
	still, since := newFactor("p1", "u2", at(0)), newFactor("p2", "u2", at(0))
	still.State, since.State = store.FactorPending, store.FactorPending
	mustCreateFactor(t, s, still)
	mustCreateFactor(t, s, since)
	if err := s.ActivateFactor(ctx, "p2", since.Params, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, store.UserChange{Name: "name-u2", Now: at(4 * time.Hour), Reset: &store.FactorReset{},
		StateChanges: []store.FactorStateChange{{ID: "p1", State: store.FactorDisabled, DeletePending: true}, {ID: "p2", State: store.FactorDisabled, DeletePending: true}}})
	_, err = s.GetFactor(ctx, "p1")
	wantErr(t, "a pending factor reset with DeletePending", err, store.ErrNotFound)
	if p2 := mustGetFactor(t, s, "p2"); p2.State != store.FactorDisabled {
		t.Errorf("a factor activated before a reset with DeletePending: %+v, want disabled", p2)
	}
	mustApply(t, s, store.UserChange{Name: "name-u2", Now: at(4 * time.Hour), Reset: &store.FactorReset{}, DeleteFactors: []string{"p2"}})
	byUser, err := s.ListFactorsOf(ctx, []string{"u1", "u2", "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byUser["u1"]) != 3 || len(byUser["u2"]) != 1 || len(byUser["nobody"]) != 0 {
		t.Errorf("ListFactorsOf: %d, %d, %d factors", len(byUser["u1"]), len(byUser["u2"]), len(byUser["nobody"]))
	}
}

func testListUserRecords(t *testing.T, s store.Store) {
	ctx := t.Context()
	var changes []store.UserChange
	for i, name := range []string{"bob", "alice", "Alex", "al", "Zed", "éva", "ÉVA", "carol"} {
		u := store.User{ID: fmt.Sprint("u", i), Name: name, CreatedAt: at(0), Disabled: name == "Alex"}
		groups := []string{"all"}
		if store.FoldName(name)[0] == 'a' {
			groups = append(groups, "a-team")
		}
		changes = append(changes, store.UserChange{Name: name, Create: &u, Profile: &store.Profile{Groups: groups}, Now: at(0)})
	}
	mustApply(t, s, changes...)
	no, yes := false, true
	for _, tc := range []struct {
		name string
		q    store.UserQuery
		want []string
	}{
		// The bytes of the folded names, whatever the database's collation: "Zed" among
		// the z's, "ÉVA" (folded "Éva") after them and before "éva".
		{"all, folded byte order", store.UserQuery{}, []string{"al", "Alex", "alice", "bob", "carol", "Zed", "ÉVA", "éva"}},
		{"prefix", store.UserQuery{Prefix: "al"}, []string{"al", "Alex", "alice"}},
		{"prefix in another case", store.UserQuery{Prefix: "AL"}, []string{"al", "Alex", "alice"}},
		{"prefix mixed", store.UserQuery{Prefix: "aLi"}, []string{"alice"}},
		{"prefix non-ascii", store.UserQuery{Prefix: "é"}, []string{"éva"}},
		{"prefix non-ascii keeps its case", store.UserQuery{Prefix: "É"}, []string{"ÉVA"}},
		{"prefix z", store.UserQuery{Prefix: "z"}, []string{"Zed"}},
		{"group", store.UserQuery{Group: "a-team"}, []string{"al", "Alex", "alice"}},
		{"disabled", store.UserQuery{Disabled: &yes}, []string{"Alex"}},
		{"enabled in group", store.UserQuery{Disabled: &no, Group: "a-team"}, []string{"al", "alice"}},
		{"page", store.UserQuery{After: "al", Limit: 2}, []string{"Alex", "alice"}},
		{"page after a name in another case", store.UserQuery{After: "ALEX", Limit: 2}, []string{"alice", "bob"}},
		{"page after a prefix", store.UserQuery{Prefix: "A", After: "Alex"}, []string{"alice"}},
		{"none", store.UserQuery{Prefix: "x"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := s.ListUserRecords(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.Name)
				if len(r.Profile.Groups) == 0 {
					t.Errorf("%s listed without its groups", r.Name)
				}
			}
			diff(t, "names", tc.want, got)
		})
	}
}

func testLastUsed(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1"))
	for _, id := range []string{"f1", "f2", "f3"} {
		mustCreateFactor(t, s, newFactor(id, "u1", at(0)))
	}
	for _, e := range []store.AuditEvent{
		{Time: at(1 * time.Second), FactorID: "f1", Resource: "validate", Outcome: "SUCCESS"},
		{Time: at(3 * time.Second), FactorID: "f1", Resource: "result", Outcome: "SUCCESS"},
		{Time: at(5 * time.Second), FactorID: "f1", Resource: "validate", Outcome: "FAILED"},
		{Time: at(6 * time.Second), FactorID: "f1", Resource: "initiate", Outcome: "PENDING"},
		{Time: at(2 * time.Second), FactorID: "f2", Resource: "validate", Outcome: "SUCCESS"},
		// Out of order (two replicas' clocks): the later use stays.
		{Time: at(1 * time.Second), FactorID: "f2", Resource: "validate", Outcome: "SUCCESS"},
		// A factor that is not (or no longer) there: its audit row stays, nothing else.
		{Time: at(4 * time.Second), FactorID: "gone", Resource: "validate", Outcome: "SUCCESS"},
		// A sign-in on the self-service page uses its factor too; a failed one does not.
		{Time: at(7 * time.Second), FactorID: "f3", Resource: "admin.selfservice.signin", Outcome: "SUCCESS"},
		{Time: at(8 * time.Second), FactorID: "f3", Resource: "admin.selfservice.signin", Outcome: "FAILED"},
	} {
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.LastUsed(ctx, []string{"f1", "f2", "f3", "gone"})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "last used", map[string]time.Time{"f1": at(3 * time.Second), "f2": at(2 * time.Second), "f3": at(7 * time.Second)}, got)
	// Changing a factor (its counter, its state, its secret) keeps its last use.
	if err := s.AdvanceCounter(ctx, "f1", 7, at(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFactorState(ctx, "f1", store.FactorDisabled, at(11*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateFactorSecret(ctx, "f1", []byte("new"), "k2", at(12*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LastUsed(ctx, []string{"f1"}); err != nil || !got["f1"].Equal(at(3*time.Second)) {
		t.Errorf("after an update: %v %v", got, err)
	}
	// A challenge's right answer (a texted code): its failures cleared, then its use
	// recorded, in one unit, which PostgreSQL folds into one write of the row. The use
	// is the factor's own: another factor's, after, is not folded into it; an earlier use
	// than the one stored, or a failure, leaves it.
	for _, c := range []struct {
		cleared string
		e       store.AuditEvent
	}{
		{"f2", store.AuditEvent{Time: at(20 * time.Second), FactorID: "f2", Resource: "validate", Outcome: "SUCCESS"}},
		{"f3", store.AuditEvent{Time: at(21 * time.Second), FactorID: "f2", Resource: "validate", Outcome: "SUCCESS"}},
		{"f3", store.AuditEvent{Time: at(5 * time.Second), FactorID: "f3", Resource: "validate", Outcome: "SUCCESS"}},
		{"f3", store.AuditEvent{Time: at(30 * time.Second), FactorID: "f3", Resource: "validate", Outcome: "FAILED"}},
	} {
		if err := s.Update(ctx, func(w store.Writer) error {
			if err := w.ClearFailuresUnlocked(ctx, c.cleared, at(40*time.Second)); err != nil {
				return err
			}
			return w.AppendAudit(ctx, c.e)
		}); err != nil {
			t.Fatal(err)
		}
	}
	got, err = s.LastUsed(ctx, []string{"f2", "f3"})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "last used after cleared failures", map[string]time.Time{"f2": at(21 * time.Second), "f3": at(7 * time.Second)}, got)
}

func testListPendingFactors(t *testing.T, s store.Store) {
	mustCreateUser(t, s, newUser("u1"))
	for i, st := range []store.FactorState{store.FactorPending, store.FactorActive, store.FactorPending, store.FactorPending} {
		f := newFactor(fmt.Sprint("f", i), "u1", at(time.Duration(i)*time.Hour))
		f.State = st
		mustCreateFactor(t, s, f)
	}
	got, err := s.ListPendingFactors(t.Context(), at(3*time.Hour), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range got {
		ids = append(ids, f.ID)
	}
	diff(t, "pending before 3h", []string{"f0", "f2"}, ids)
	if got, _ := s.ListPendingFactors(t.Context(), at(4*time.Hour), "", 1); len(got) != 1 || got[0].ID != "f0" {
		t.Errorf("limit 1: %+v", got)
	}
	if got, _ := s.ListPendingFactors(t.Context(), at(4*time.Hour), "f0", 1); len(got) != 1 || got[0].ID != "f2" {
		t.Errorf("after f0: %+v", got)
	}
	_, err = s.ListPendingFactors(t.Context(), at(0), "", 0)
	if err == nil {
		t.Error("limit 0: no error")
	}
}

// ExpireFactor deletes a factor only while it is pending and older than the bound, and in
// a unit only with the unit.
func testExpireFactor(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1"))
	for i, st := range []store.FactorState{store.FactorPending, store.FactorActive, store.FactorPending, store.FactorPending} {
		f := newFactor(fmt.Sprint("f", i), "u1", at(time.Duration(i)*time.Hour))
		f.State = st
		mustCreateFactor(t, s, f)
	}
	wantErr(t, "an active factor", s.ExpireFactor(ctx, "f1", at(3*time.Hour)), store.ErrNotFound)
	wantErr(t, "a pending factor created since", s.ExpireFactor(ctx, "f2", at(2*time.Hour)), store.ErrNotFound)
	wantErr(t, "a missing factor", s.ExpireFactor(ctx, "nope", at(3*time.Hour)), store.ErrNotFound)
	boom := errors.New("boom")
	err := s.Update(ctx, func(w store.Writer) error {
		if err := w.ExpireFactor(ctx, "f0", at(3*time.Hour)); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "a failing unit", err, boom)
	mustGetFactor(t, s, "f0")
	wantErr(t, "a pending factor created before", s.ExpireFactor(ctx, "f0", at(3*time.Hour)), nil)
	wantErr(t, "expired already", s.ExpireFactor(ctx, "f0", at(3*time.Hour)), store.ErrNotFound)
	for _, id := range []string{"f1", "f2", "f3"} {
		mustGetFactor(t, s, id)
	}
}

func testAdminTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	record := func(action, name string) store.AuditEvent { return credentialRecord("tokens", action, name) }
	a := store.AdminToken{Name: "provisioning", Scope: "write", Hash: "h1", CreatedAt: at(0)}
	b := store.AdminToken{Name: "auditor", Scope: "read", Hash: "h2", CreatedAt: at(time.Second)}
	for _, tok := range []store.AdminToken{a, b} {
		if err := s.CreateAdminToken(ctx, tok, record("create", tok.Name)); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "same name", s.CreateAdminToken(ctx, store.AdminToken{Name: "auditor", Scope: "read", Hash: "h3"}, record("create", "auditor")), store.ErrExists)
	wantErr(t, "same hash", s.CreateAdminToken(ctx, store.AdminToken{Name: "x", Scope: "read", Hash: "h1"}, record("create", "x")), store.ErrExists)
	got, err := s.GetAdminToken(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "token", a, got)
	_, err = s.GetAdminToken(ctx, "nope")
	wantErr(t, "unknown hash", err, store.ErrNotFound)

	wantErr(t, "revoke", s.RevokeAdminToken(ctx, "provisioning", at(time.Minute), record("revoke", "provisioning")), nil)
	wantErr(t, "revoke again", s.RevokeAdminToken(ctx, "provisioning", at(time.Hour), record("revoke", "provisioning")), store.ErrConflict)
	wantErr(t, "revoke unknown", s.RevokeAdminToken(ctx, "nobody", at(time.Hour), record("revoke", "nobody")), store.ErrNotFound)
	a.RevokedAt = at(time.Minute)
	list, err := s.ListAdminTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "tokens", []store.AdminToken{b, a}, list)
	wantRecords(t, s, map[string][]string{"provisioning": {"admin.tokens.create", "admin.tokens.revoke"},
		"auditor": {"admin.tokens.create"}, "x": nil, "nobody": nil})
}

// credentialRecord is the record of a change to a credential (kind tokens or clients)
// named id, which stands in the factor's place so that auditOf finds it.
func credentialRecord(kind, action, id string) store.AuditEvent {
	return store.AuditEvent{Time: at(0), Resource: "admin." + kind + "." + action, FactorID: id, Outcome: "SUCCESS", Actor: "test"}
}

// wantRecords checks the records of each id, oldest first: each change made has its one
// record, each refused none.
func wantRecords(t *testing.T, s store.Store, want map[string][]string) {
	t.Helper()
	for id, w := range want {
		var got []string
		for _, ev := range auditOf(t, s, id) {
			got = append(got, ev.Resource)
		}
		diff(t, "records of "+id, w, got)
	}
}

func testCapabilitySwitches(t *testing.T, s store.Store) {
	ctx := t.Context()
	sw := store.CapabilitySwitch{Provider: "emfa", Capability: "smsotp", Disabled: true, Reason: "fraud", Actor: "ops", UpdatedAt: at(0)}
	ev := store.AuditEvent{Time: at(0), Resource: "switches.disable", Outcome: "SUCCESS", Actor: "ops"}
	if err := s.SetCapabilitySwitch(ctx, sw, ev); err != nil {
		t.Fatal(err)
	}
	other := store.CapabilitySwitch{Provider: "emfa", Capability: "emailotp", Disabled: true, Reason: "x", Actor: "ops", UpdatedAt: at(0)}
	if err := s.SetCapabilitySwitch(ctx, other, ev); err != nil {
		t.Fatal(err)
	}
	sw.Disabled, sw.Reason, sw.UpdatedAt = false, "over", at(time.Minute)
	if err := s.SetCapabilitySwitch(ctx, sw, ev); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListCapabilitySwitches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "switches", []store.CapabilitySwitch{other, sw}, got)
	if evs, _ := s.QueryAudit(ctx, store.AuditQuery{Resource: "switches.disable"}); len(evs) != 3 {
		t.Errorf("%d audit events for 3 switches", len(evs))
	}
}

func testQueryAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	var events []store.AuditEvent
	for i := range 10 {
		e := store.AuditEvent{Time: at(time.Duration(i/2) * time.Second), Username: []string{"alice", "bob"}[i%2],
			Resource: []string{"validate", "users.create"}[i%3%2], Outcome: []string{"SUCCESS", "FAILED"}[i%2], Reason: fmt.Sprint(i),
			Actor: []string{"", "helpdesk", "cli"}[i%3], RequestID: fmt.Sprintf("req-%d", i/3)}
		events = append(events, e)
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	reasons := func(q store.AuditQuery) []string {
		t.Helper()
		got, err := s.QueryAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range got {
			out = append(out, e.Reason)
		}
		return out
	}
	diff(t, "all", []string{"9", "8", "7", "6", "5", "4", "3", "2", "1", "0"}, reasons(store.AuditQuery{}))
	diff(t, "alice", []string{"8", "6", "4", "2", "0"}, reasons(store.AuditQuery{Username: "alice"}))
	diff(t, "failed", []string{"9", "7", "5", "3", "1"}, reasons(store.AuditQuery{Outcome: "FAILED"}))
	diff(t, "action", []string{"7", "4", "1"}, reasons(store.AuditQuery{Resource: "users.create"}))
	diff(t, "time range", []string{"5", "4", "3", "2"}, reasons(store.AuditQuery{Since: at(time.Second), Until: at(3 * time.Second)}))
	diff(t, "actor", []string{"7", "4", "1"}, reasons(store.AuditQuery{Actor: "helpdesk"}))
	diff(t, "actor is exact", []string(nil), reasons(store.AuditQuery{Actor: "HelpDesk"}))
	diff(t, "request id", []string{"5", "4", "3"}, reasons(store.AuditQuery{RequestID: "req-1"}))
	diff(t, "request id and actor", []string{"5"}, reasons(store.AuditQuery{RequestID: "req-1", Actor: "cli"}))
	diff(t, "forms ignored without a user", []string{"9", "8", "7", "6", "5", "4", "3", "2", "1", "0"}, reasons(store.AuditQuery{UsernameForms: []string{"alice"}}))

	// Paging by cursor, through events sharing a millisecond, sees each event once.
	var paged []string
	q := store.AuditQuery{Limit: 3}
	for {
		page, err := s.QueryAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			paged = append(paged, e.Reason)
		}
		if len(page) < q.Limit {
			break
		}
		last := page[len(page)-1]
		q.Before = &store.AuditCursor{Time: last.Time, Seq: last.Seq}
	}
	diff(t, "paged", []string{"9", "8", "7", "6", "5", "4", "3", "2", "1", "0"}, paged)

	// A name in more than one writing: a row of any of them, in any case; one that no row
	// could hold (a NUL) takes nothing away from the others.
	for i, name := range []string{"carol\u200b", `carol\u200b`, "carol"} {
		if err := s.AppendAudit(ctx, store.AuditEvent{Time: at(time.Minute), Username: name, Resource: "validate", Reason: fmt.Sprint("c", i)}); err != nil {
			t.Fatal(err)
		}
	}
	diff(t, "forms", []string{"c1", "c0", "9", "7", "5", "3", "1"},
		reasons(store.AuditQuery{Username: `CAROL\u200b`, UsernameForms: []string{"carol\u200b", "bob", "carol\x00", "carol\u200b"}}))
	diff(t, "forms no row holds", []string(nil), reasons(store.AuditQuery{Username: "carol\x00", UsernameForms: []string{"\x00"}}))
}

// testGetUserRecords: the records of many users by folded name in one call (a group
// write's members), across the store's chunks of names, each as GetUserRecord reads it,
// its profile and groups too, keyed by folded name; a folded name finds its user stored
// in any case, and one that names no user (or that no row could hold) is left out. The
// names are folded and distinct, as the contract asks (lifecycle folds them once).
func testGetUserRecords(t *testing.T, s store.Store) {
	ctx := t.Context()
	var changes []store.UserChange
	var names []string
	for i := range 1200 {
		var p *store.Profile
		if i%300 == 0 {
			p = &store.Profile{Email: fmt.Sprintf("r%d@example.com", i), Groups: []string{"ops", fmt.Sprintf("g%d", i)}}
		}
		c := create(fmt.Sprintf("R%04d", i), p)
		changes = append(changes, c)
		names = append(names, c.Name)
	}
	mustApply(t, s, changes...)
	ask := []string{"nobody", "", "name-\x00"}
	for _, n := range names {
		ask = append(ask, store.FoldName(n))
	}
	got, err := s.GetUserRecords(ctx, ask)
	must(t, "GetUserRecords", err)
	if len(got) != len(names) {
		t.Errorf("GetUserRecords of %d names, %d of them users: %d records", len(ask), len(names), len(got))
	}
	for _, name := range names {
		want, err := s.GetUserRecord(ctx, name)
		must(t, "GetUserRecord", err)
		diff(t, "the record of "+name, want, got[store.FoldName(name)])
	}
	if r := got["name-r0300"]; len(r.Profile.Groups) != 2 || r.Profile.Email != "r300@example.com" {
		t.Errorf("name-R0300's profile: %+v", r.Profile)
	}
	if got, err := s.GetUserRecords(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("GetUserRecords(nil): %+v, %v; want none", got, err)
	}
}
