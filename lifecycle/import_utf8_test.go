package lifecycle_test

import (
	"context"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestImportNotUTF8: a file saved in Latin-1 or Windows-1252 (as spreadsheets save
// "CSV") gives "josé" as the bytes "jos\xe9". Such a row names no user that can be read:
// it is refused without a name, so that a full import deletes nobody, and it creates no
// user under a name mangled into "jos\uFFFD". Before, the CSV row was refused under the
// raw bytes, which name no user, and the JSON line was read as "jos\uFFFD" and created:
// either way the full import deleted josé as absent from the file.
func TestImportNotUTF8(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		for _, c := range []struct{ name, format, text string }{
			{"CSV", lifecycle.FormatCSV, "username,displayName\nkeep1,Keep\njos\xe9,Jos\xe9 Garc\xeda\n"},
			{"JSON lines", lifecycle.FormatJSONL, `{"username":"keep1"}` + "\n" + `{"username":"jos` + "\xe9" + `","displayName":"Jos` + "\xe9" + `"}` + "\n"},
		} {
			t.Run(c.name, func(t *testing.T) {
				for _, name := range []string{"keep1", "josé"} {
					if _, err := m.GetUser(ctx, name); err == nil {
						continue
					}
					if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: name}); err != nil {
						t.Fatal(err)
					}
				}
				rows, bad := parse(t, c.format, c.text)
				rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{Full: true, MaxDeletes: 10})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Deleted != 0 || rep.Created != 0 || rep.Refused != 1 || !strings.Contains(rep.DeletionRefused, "nobody was deleted") {
					t.Errorf("%s %+v, deletion refused %q; want one row refused, nobody created or deleted", summary(rep), rep.Rows, rep.DeletionRefused)
				}
				for _, r := range rep.Rows {
					if r.Action == lifecycle.ActionRefused && (r.Username != "" || !strings.Contains(r.Error.Msg, "UTF-8")) {
						t.Errorf("refused as %q: %v; want without a name, saying the file is not UTF-8", r.Username, r.Error)
					}
				}
				if _, err := m.GetUser(ctx, "josé"); err != nil {
					t.Errorf("josé, whose row is in the file: %v", err)
				}
				if _, err := m.GetUser(ctx, "jos\uFFFD"); err == nil {
					t.Error("a user created under a name mangled from the file's bytes")
				}
			})
		}
	})
}
