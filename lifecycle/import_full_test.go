package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestFullImportKeepsUnreadableRows: a full import never deletes a user whose row is in
// the file, read or not. A refused row whose user name can be read keeps that user; a row
// whose name cannot be read (or a file whose structure broke) may be any user's, so the
// import deletes nobody and says why, in a dry run as in a real one, and applies the rest.
// Before, each of these rows was refused without its name and its user deleted as
// "absent from a full import".
func TestFullImportKeepsUnreadableRows(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		for _, c := range []struct {
			name, format, text string
			// refusedAs is the user name the refused row is reported under; "" when the
			// row's name cannot be read, and then nobody is deleted (deletionRefused
			// says so, naming the line).
			refusedAs  string
			refusal    string // in the refusal's message
			noRefusals bool
		}{
			{name: "CSV row with a field too many", format: lifecycle.FormatCSV,
				text:    "username,phone\nkeep1,+15550001111\nkeep2,+15550001112,extra\n",
				refusal: `3 fields, the header has 2 (its username column holds "keep2")`},
			{name: "CSV row with a field too few", format: lifecycle.FormatCSV,
				text:    "phone,username\n+15550001111,keep1\nkeep2\n",
				refusal: "1 fields, the header has 2"},
			{name: "CSV quote left open to the end", format: lifecycle.FormatCSV,
				text:    "username,displayName\nkeep1,Keep\nkeep2,\"Smith, J\nk3,K\nk4,K\n",
				refusal: "runs to line 5"},
			{name: "CSV quoted field over several lines", format: lifecycle.FormatCSV,
				text:    "username,displayName\nkeep1,\"Smith, J\nkeep2,Bob\nk3,\"\n",
				refusal: "lines 2 to 4"},
			{name: "CSV bare quote", format: lifecycle.FormatCSV,
				text:    "username,displayName\nkeep1,Keep\nkeep2,Sm\"ith\n",
				refusal: `bare "`},
			{name: "CSV row without a user name", format: lifecycle.FormatCSV,
				text:    "username,phone\nkeep1,+15550001111\n,+15550001112\n",
				refusal: "is required"},
			{name: "JSON line of the wrong type", format: lifecycle.FormatJSONL,
				text:      `{"username":"keep1"}` + "\n" + `{"username":"keep2","phone":15550001112}`,
				refusedAs: "keep2", refusal: "must be a string"},
			{name: "JSON line with a misspelt key", format: lifecycle.FormatJSONL,
				text:      `{"username":"keep1"}` + "\n" + `{"username":"keep2","emial":"keep2@example.com"}`,
				refusedAs: "keep2", refusal: `not one of username`},
			{name: "JSON line naming another key twice", format: lifecycle.FormatJSONL,
				text:      `{"username":"keep1"}` + "\n" + `{"username":"keep2","phone":"+15550001112","Phone":"+15550001113"}`,
				refusedAs: "keep2", refusal: `duplicate key "Phone"`},
			{name: "JSON line with spaces around the name", format: lifecycle.FormatJSONL,
				text:      `{"username":"keep1"}` + "\n" + `{"username":" keep2"}`,
				refusedAs: " keep2", refusal: "spaces"},
			{name: "JSON line naming the user twice", format: lifecycle.FormatJSONL,
				text:    `{"username":"keep1"}` + "\n" + `{"username":"keep2","USERNAME":"keep9"}`,
				refusal: `duplicate key "USERNAME"`},
			// jsonkeys.Check names the first key named twice: the user's name twice after
			// it still leaves the row's user unclear.
			{name: "JSON line naming another key twice, then the user twice", format: lifecycle.FormatJSONL,
				text:    `{"username":"keep1"}` + "\n" + `{"email":"a@example.com","EMAIL":"b@example.com","username":"keep2","USERNAME":"keep9"}`,
				refusal: `duplicate key "EMAIL", and username too`},
			{name: "JSON line naming another key twice, then the user twice alike", format: lifecycle.FormatJSONL,
				text:    `{"username":"keep1"}` + "\n" + `{"phone":"+15550001112","phone":"+15550001113","username":"keep9","username":"keep2"}`,
				refusal: `duplicate key "phone", and username too`},
			{name: "JSON line that is not JSON", format: lifecycle.FormatJSONL,
				text:    `{"username":"keep1"}` + "\n" + `{"username":"keep2"`,
				refusal: "not one JSON object"},
			{name: "JSON line whose name is not a string", format: lifecycle.FormatJSONL,
				text:    `{"username":"keep1"}` + "\n" + `{"username":["keep2"]}`,
				refusal: "must be a string"},
			{name: "CSV rows of empty cells, as spreadsheets write them", format: lifecycle.FormatCSV,
				text: "username,phone\nkeep1,\nkeep2,\n,\n , \n", noRefusals: true},
		} {
			t.Run(c.name, func(t *testing.T) {
				for _, name := range []string{"keep1", "keep2", "gone"} {
					if _, err := m.GetUser(ctx, name); err == nil {
						continue
					}
					if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: name}); err != nil {
						t.Fatal(err)
					}
				}
				rows, bad := parse(t, c.format, c.text)
				for _, dry := range []bool{true, false} {
					rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{DryRun: dry, Full: true, MaxDeletes: 10})
					if err != nil {
						t.Fatal(err)
					}
					var refusals []lifecycle.RowResult
					var deleted []string
					for _, r := range rep.Rows {
						switch r.Action {
						case lifecycle.ActionRefused:
							refusals = append(refusals, r)
						case lifecycle.ActionDeleted:
							deleted = append(deleted, r.Username)
						}
					}
					if c.noRefusals {
						if len(refusals) != 0 || !slices.Equal(deleted, []string{"gone"}) || rep.DeletionRefused != "" {
							t.Fatalf("dry run %v: %s %+v, deletion refused %q", dry, summary(rep), rep.Rows, rep.DeletionRefused)
						}
						continue
					}
					if len(refusals) != 1 || refusals[0].Username != c.refusedAs || !strings.Contains(refusals[0].Error.Msg, c.refusal) ||
						strings.Contains(refusals[0].Error.Msg, "Go ") {
						t.Fatalf("dry run %v: refusals %+v (%v), want one of %q saying %q", dry, refusals, refusalMessages(refusals), c.refusedAs, c.refusal)
					}
					switch {
					case c.refusedAs != "" && (!slices.Equal(deleted, []string{"gone"}) || rep.DeletionRefused != ""):
						t.Errorf("dry run %v: a refused row with its name: deleted %q, deletion refused %q; want gone deleted", dry, deleted, rep.DeletionRefused)
					case c.refusedAs == "" && (len(deleted) != 0 || !strings.Contains(rep.DeletionRefused, "nobody was deleted") ||
						!strings.Contains(rep.DeletionRefused, "line ")):
						t.Errorf("dry run %v: a row without a name: deleted %q, deletion refused %q; want nobody deleted, and why", dry, deleted, rep.DeletionRefused)
					}
				}
				for _, name := range []string{"keep1", "keep2"} {
					if _, err := m.GetUser(ctx, name); err != nil {
						t.Errorf("%s, whose row is in the file: %v", name, err)
					}
				}
				if _, err := m.GetUser(ctx, "gone"); (err == nil) != (c.refusedAs == "" && !c.noRefusals) {
					t.Errorf("gone, absent from the file: %v", err)
				}
				if _, err := m.GetUser(ctx, "keep9"); err == nil {
					t.Error("a JSON line naming its user twice created the second")
				}
			})
		}

		// A file without rows, a header alone or an empty JSON Lines file, deleted every
		// user under --max-deletes: a truncated export emptied a small directory.
		for _, empty := range []struct {
			format string
			text   string
		}{{lifecycle.FormatCSV, "username,phone\n"}, {lifecycle.FormatJSONL, ""}, {lifecycle.FormatJSONL, "\n\n"}} {
			for _, dry := range []bool{true, false} {
				rows, bad := parse(t, empty.format, empty.text)
				rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{DryRun: dry, Full: true, MaxDeletes: 1000})
				if err != nil || rep.Deleted != 0 || !strings.Contains(rep.DeletionRefused, "the file has no user rows") || !strings.Contains(rep.DeletionRefused, "nobody was deleted") {
					t.Errorf("%s %q, dry run %v: %s, %q, %v; want nobody deleted, and why", empty.format, empty.text, dry, summary(rep), rep.DeletionRefused, err)
				}
			}
		}
		if _, err := m.GetUser(ctx, "keep1"); err != nil {
			t.Errorf("after empty full imports: %v", err)
		}

		// Several rows without a name: the report says how many, and where the first are.
		rows, bad := parse(t, lifecycle.FormatCSV, "username,phone\nkeep1,\n,+15550000001\nkeep2,\n,+15550000002\n,+15550000003\n,+15550000004\n")
		rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{DryRun: true, Full: true, MaxDeletes: 10})
		want := "4 rows (lines 3, 5, 6, …) were refused without a user name that could be read: nobody was deleted, " +
			"as a full import deletes nobody while a row may be any user's (correct the file and import again)"
		if err != nil || rep.Deleted != 0 || rep.DeletionRefused != want {
			t.Errorf("four rows without a name: %s, %q, %v\nwant %q", summary(rep), rep.DeletionRefused, err, want)
		}
	})
}

func refusalMessages(rs []lifecycle.RowResult) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Error.Error())
	}
	return out
}

// TestImportJSONLinesRefusals: a JSON line is refused in words about the file — the field
// and what it must be, the key named twice — never encoding/json's about Go types, and the
// field is in the refusal's field slot. A key named twice, in any letter case, is refused
// as the contract and the device API refuse it: before, the last one won.
func TestImportJSONLinesRefusals(t *testing.T) {
	for _, c := range []struct {
		line, code, field, msg string
	}{
		{`{"username":"j1","groups":"staff"}`, "invalid_field", "groups", "must be a list of strings"},
		{`{"username":"j1","groups":[1]}`, "invalid_field", "groups", "must be a list of strings"},
		{`{"username":"j1","factors":{"smsotp":true}}`, "invalid_field", "factors", "must be a list of strings"},
		{`{"username":"j1","phone":15550001112}`, "invalid_field", "phone", "must be a string"},
		{`{"username":"j1","displayname":false}`, "invalid_field", "displayName", "must be a string"},
		{`{"username":"j1","emial":"j1@example.com"}`, "unknown_field", "emial", "not one of username, email, phone, country, displayName, groups, factors, state"},
		{`{"username":"j6","username":"j7"}`, "duplicate_key", "", `duplicate key "username"`},
		{`{"username":"j6","UserName":"j7"}`, "duplicate_key", "", `duplicate key "UserName"`},
		{`{"username":"j1","groups":["a"],"groups":["b"]}`, "duplicate_key", "", `duplicate key "groups"`},
		{`["j1"]`, "invalid_row", "", "not one JSON object"},
		{`{"username":"j1"} {"username":"j2"}`, "invalid_row", "", "not one JSON object"},
		{`{"username":"j1"`, "invalid_row", "", "not one JSON object"},
	} {
		t.Run(c.line, func(t *testing.T) {
			rows, bad := parse(t, lifecycle.FormatJSONL, c.line)
			if len(rows) != 0 || len(bad) != 1 {
				t.Fatalf("rows %+v, refused %+v", rows, bad)
			}
			e := bad[0].Error
			if e.Code != c.code || e.Field != c.field || !strings.Contains(e.Msg, c.msg) || strings.Contains(e.Msg, "Go ") || strings.Contains(e.Msg, "ImportRow") {
				t.Errorf("%s/%s %q, want %s/%s saying %q", e.Code, e.Field, e.Msg, c.code, c.field, c.msg)
			}
		})
	}
	// What encoding/json took is still taken: keys in any case, null for empty.
	rows, bad := parse(t, lifecycle.FormatJSONL, `{"UserName":"j1","EMAIL":null,"groups":null,"Factors":["smsotp"],"phone":"+15550001111"}`)
	if len(bad) != 0 || len(rows) != 1 || rows[0].Username != "j1" || rows[0].Email != "" || rows[0].Groups != nil ||
		!slices.Equal(rows[0].Factors, []string{"smsotp"}) || !slices.Equal(rows[0].Absent, []string{"country", "displayName"}) {
		t.Errorf("rows %+v, refused %+v", rows, bad)
	}
	var le *lifecycle.Error
	if _, _, err := lifecycle.ParseImport(strings.NewReader(""), "xml"); !errors.As(err, &le) {
		t.Errorf("format xml: %v", err)
	}
}
