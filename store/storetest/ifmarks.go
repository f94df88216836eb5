package storetest

import (
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// testApplyUserChangesIfMarks: a change made on marks (IfMarks) is stale, and does
// nothing, when one of them is later than its MarksAt (Now without it); one no later, or
// never moved, is no bar. In a batch, the stale change fails alone.
func testApplyUserChangesIfMarks(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	mustApply(t, s, create("u1", &store.Profile{Email: "a@example.com"}), create("u2", &store.Profile{Email: "a@example.com"}))
	must(t, "mark", sq.MarkKeys(ctx, at(2*time.Hour), "group:eng"))
	change := func(name, email string, marksAt, now time.Time) store.UserChange {
		return store.UserChange{Name: name, Profile: &store.Profile{Email: email, Groups: []string{"eng"}},
			IfMarks: []string{"user:" + name, "group:eng"}, Marks: []string{"user:" + name + "/group:eng"}, MarksAt: marksAt, Now: now}
	}
	wantErr(t, "a change on a mark later than it", apply(t, s, change("name-u1", "b@example.com", at(time.Hour), at(3*time.Hour)))[0], store.ErrStale)
	wantErr(t, "a change without MarksAt on a mark later than its Now", apply(t, s, change("name-u1", "b@example.com", time.Time{}, at(time.Hour)))[0], store.ErrStale)
	got, err := s.GetUserRecord(ctx, "name-u1")
	if err != nil || got.Profile.Email != "a@example.com" || len(got.Profile.Groups) != 0 || got.Profile.Revision != 1 {
		t.Errorf("after the stale changes: %+v, %v; want a@example.com, no group, revision 1", got, err)
	}
	if m, err := sq.KeyMark(ctx, "user:name-u1/group:eng"); err != nil || !m.IsZero() {
		t.Errorf("the stale changes' mark: %v, %v; want none", m, err)
	}

	errs := apply(t, s, change("name-u1", "c@example.com", at(2*time.Hour), at(0)), change("name-u2", "c@example.com", at(time.Hour), at(0)))
	wantErr(t, "a change on a mark of its time", errs[0], nil)
	wantErr(t, "the stale change of the batch", errs[1], store.ErrStale)
	if got, _ := s.GetUserRecord(ctx, "name-u1"); got.Profile.Email != "c@example.com" || got.Profile.Revision != 2 {
		t.Errorf("after the batch: %+v", got)
	}
	if got, _ := s.GetUserRecord(ctx, "name-u2"); got.Profile.Email != "a@example.com" || got.Profile.Revision != 1 {
		t.Errorf("after the batch, its stale change: %+v", got)
	}
	if m, err := sq.KeyMark(ctx, "user:name-u1/group:eng"); err != nil || !m.Equal(at(2*time.Hour)) {
		t.Errorf("the change's mark: %v, %v; want %v", m, err, at(2*time.Hour))
	}
}
