package lifecycle_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestImportAbsentColumnsKept: the header may name any of the columns, and a field whose
// column the file does not have (a JSON line without the key) is left as it is; an empty
// cell in a column the file has (a key given as "" or []) still clears it. Before, a file
// of username,email,phone cleared every existing user's displayName and groups.
func TestImportAbsentColumnsKept(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		run := func(format, text string, o lifecycle.ImportOptions) lifecycle.ImportReport {
			t.Helper()
			rows, bad := parse(t, format, text)
			rep, err := m.Import(ctx, "test", rows, bad, o)
			if err != nil {
				t.Fatal(err)
			}
			return rep
		}
		profile := func(name string) store.Profile {
			t.Helper()
			recs, err := st.ListUserRecords(ctx, store.UserQuery{Prefix: name})
			if err != nil || len(recs) != 1 {
				t.Fatalf("user %s: %v %v", name, recs, err)
			}
			return recs[0].Profile
		}
		want := func(name, email, phone, display string, groups ...string) {
			t.Helper()
			p := profile(name)
			if p.Email != email || p.Phone != phone || p.DisplayName != display || !slices.Equal(p.Groups, groups) {
				t.Errorf("%s: %q %q %q %q, want %q %q %q %q", name, p.Email, p.Phone, p.DisplayName, p.Groups, email, phone, display, groups)
			}
		}
		run(lifecycle.FormatCSV, "username,email,phone,displayName,groups\n"+
			"carol,carol@example.com,+15550000003,Carol,staff\n"+
			"dan,dan@example.com,+15550000004,Dan,staff;ops\n", lifecycle.ImportOptions{})

		// The README's case: no displayName or groups column.
		rep := run(lifecycle.FormatCSV, "username,email,phone\ncarol,carol@example.org,+15550000003\n", lifecycle.ImportOptions{DryRun: true})
		if got := rep.Rows[0].Changes; !slices.Equal(got, []string{`email: "carol@example.com" → "carol@example.org"`}) {
			t.Errorf("dry run of a file without displayName and groups: %q", got)
		}
		run(lifecycle.FormatCSV, "username,email,phone\ncarol,carol@example.org,+15550000003\n", lifecycle.ImportOptions{})
		want("carol", "carol@example.org", "+15550000003", "Carol", "staff")

		// Only a username: nothing to change, even with --full (which deletes absent users,
		// not absent columns).
		rep = run(lifecycle.FormatCSV, "username\ncarol\ndan\n", lifecycle.ImportOptions{Full: true, MaxDeletes: 10})
		if got := summary(rep); got != "0 created, 0 updated, 2 unchanged, 0 deleted, 0 refused" {
			t.Errorf("a username-only full import: %s %+v", got, rep.Rows)
		}
		want("dan", "dan@example.com", "+15550000004", "Dan", "ops", "staff")

		// An empty cell in a column the file has clears the field, as before.
		run(lifecycle.FormatCSV, "username,displayName,groups\ncarol,,\n", lifecycle.ImportOptions{})
		want("carol", "carol@example.org", "+15550000003", "")

		// JSON lines: a key absent keeps the field, a key present and empty clears it.
		rep = run(lifecycle.FormatJSONL, `{"username":"dan","displayName":"Daniel"}
{"username":"carol","phone":"","groups":[]}`, lifecycle.ImportOptions{})
		if got := summary(rep); got != "0 created, 2 updated, 0 unchanged, 0 deleted, 0 refused" {
			t.Errorf("JSON lines: %s %+v", got, rep.Rows)
		}
		want("dan", "dan@example.com", "+15550000004", "Daniel", "ops", "staff")
		want("carol", "carol@example.org", "", "")

		// A factor without a phone column is pre-provisioned to the phone the user has.
		rep = run(lifecycle.FormatCSV, "username,factors\ndan,smsotp\n", lifecycle.ImportOptions{})
		if got := rep.Rows[0].Changes; !slices.Equal(got, []string{"factor smsotp pre-provisioned"}) {
			t.Errorf("factor from the kept phone: %+v", rep.Rows)
		}
		want("dan", "dan@example.com", "+15550000004", "Daniel", "ops", "staff")
		// One of a type no provider exposes is pre-provisioned too, and its note says
		// Verify will not be offered it yet.
		rep = run(lifecycle.FormatCSV, "username,factors\ndan,voicecall\n", lifecycle.ImportOptions{})
		if got := rep.Rows[0].Changes; len(got) != 1 || !strings.HasPrefix(got[0], "factor voicecall pre-provisioned (no builtin provider exposes voicecall") {
			t.Errorf("factor of a type not exposed: %+v", rep.Rows)
		}

		// A new user starts with what the row gives, the rest empty.
		run(lifecycle.FormatCSV, "username,groups\nerin,ops\n", lifecycle.ImportOptions{})
		want("erin", "", "", "", "ops")
	})
}
