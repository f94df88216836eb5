package lifecycle_test

import (
	"context"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestFullImportOfAUserDeletedMeanwhile: a full import that finds, when it
// writes, that a user absent from its file was deleted meanwhile (by SCIM, the admin API)
// has what the file asks: the user is gone. It reported the user refused not_found "user
// not found" (emfa import exits 1: a nightly job failed on a directory that agreed with
// it). It now reports the user unchanged, and records no deletion it did not make. A row
// of the file whose user was deleted meanwhile is still refused: the file wants the user.
func TestFullImportOfAUserDeletedMeanwhile(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &testdb.BeforeUserChanges{Store: st}
		m, _ := newManager(t, hooked)
		other, _ := newManager(t, st)
		for _, n := range []string{"alice", "bob", "carol", "dave"} {
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: n}); err != nil {
				t.Fatal(err)
			}
		}
		hooked.Before = func() {
			for _, n := range []string{"alice", "dave"} {
				if err := other.DeleteUser(ctx, "sync:scim", n); err != nil {
					t.Error(err)
				}
			}
		}
		rows, unreadable := parse(t, lifecycle.FormatCSV, "username,displayName\nbob,\ndave,Dave\n")
		rep, err := m.Import(ctx, "test", rows, unreadable, lifecycle.ImportOptions{Full: true, MaxDeletes: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := summary(rep), "0 created, 0 updated, 2 unchanged, 1 deleted, 1 refused"; got != want {
			t.Errorf("report %s, want %s: %+v", got, want, rep.Rows)
		}
		for _, r := range rep.Rows {
			if r.Username == "alice" && (r.Action != lifecycle.ActionUnchanged || r.Error != nil) {
				t.Errorf("alice, deleted meanwhile: %+v, want unchanged", r)
			}
			if r.Username == "dave" && (r.Action != lifecycle.ActionRefused || r.Error == nil || r.Error.Code != "not_found") {
				t.Errorf("dave's row, the user deleted meanwhile: %+v, want refused not_found (the file wants dave, who is gone)", r)
			}
		}
		if _, err := m.GetUser(ctx, "carol"); err == nil {
			t.Error("carol, absent from the file, was not deleted")
		}
		page, err := m.QueryAudit(ctx, lifecycle.AuditQuery{Action: "admin." + lifecycle.ActionImportDelete, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 1 || page.Events[0].User != "carol" {
			t.Errorf("the import's deletion records: %+v, want carol's alone", page.Events)
		}
	})
}

// TestImportRowRefusedMeanwhileSaysSo: a row refused when written because another
// change (SCIM, the admin API) came between the import's read and its write says which
// change (the user changed, deleted or created meanwhile) and that the same file again
// applies it. It said "the user changed since it was read; read it again and retry",
// "user not found", "user exists already": an import has nothing to read again, and its
// author was not told that the row's user was not the one the file was read against.
func TestImportRowRefusedMeanwhileSaysSo(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &testdb.BeforeUserChanges{Store: st}
		m, _ := newManager(t, hooked)
		other, _ := newManager(t, st)
		for _, n := range []string{"changed", "deleted", "absent"} {
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: n}); err != nil {
				t.Fatal(err)
			}
		}
		hooked.Before = func() {
			for _, n := range []string{"changed", "absent"} {
				if _, err := other.UpdateUser(ctx, "sync:scim", n, lifecycle.UserInput{DisplayName: ptr("X")}); err != nil {
					t.Error(err)
				}
			}
			if err := other.DeleteUser(ctx, "sync:scim", "deleted"); err != nil {
				t.Error(err)
			}
			if _, err := other.CreateUser(ctx, "sync:scim", lifecycle.UserInput{Name: "created"}); err != nil {
				t.Error(err)
			}
		}
		rows, unreadable := parse(t, lifecycle.FormatCSV, "username,email\nchanged,c@example.com\ndeleted,d@example.com\ncreated,n@example.com\n")
		rep, err := m.Import(ctx, "test", rows, unreadable, lifecycle.ImportOptions{Full: true, MaxDeletes: 10})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]struct{ code, what string }{
			"changed": {lifecycle.CodeChanged, "changed"}, "deleted": {"not_found", "deleted"},
			"created": {"exists", "created"}, "absent": {lifecycle.CodeChanged, "changed"},
		}
		for _, r := range rep.Rows {
			w := want[r.Username]
			if r.Action != lifecycle.ActionRefused || r.Error == nil || r.Error.Code != w.code ||
				!strings.Contains(r.Error.Msg, `"`+r.Username+`" was `+w.what+" while the import ran, by another change") ||
				!strings.Contains(r.Error.Msg, "the same file again") {
				t.Errorf("%s: %+v %v; want refused %s, saying it was %s while the import ran and that the same file again applies it", r.Username, r, r.Error, w.code, w.what)
			}
		}
		if len(rep.Rows) != len(want) {
			t.Errorf("%d rows, want %d: %+v", len(rep.Rows), len(want), rep.Rows)
		}
	})
}
