package lifecycle_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestImportSpacedName: a row naming " alice" (refused for its spaces) names
// alice, as a full import's deletions already took it to: a later "alice" row is the
// user named twice, refused duplicate_row as after any refused row of hers, rather than
// applied as her only row (her phone set from it, while the file's first row of hers,
// which may be the one its author meant, was refused). Readable or not, either way.
func TestImportSpacedName(t *testing.T) {
	for _, tc := range []struct{ name, file string }{
		{"readable", `{"username":" alice","phone":"+15555550100"}` + "\n" + `{"username":"alice","phone":"+15555550199"}` + "\n"},
		{"unreadable", `{"username":" alice","phone":15550100}` + "\n" + `{"username":"alice","phone":"+15555550199"}` + "\n"},
		{"case", `{"username":"ALICE ","phone":"+15555550100"}` + "\n" + `{"username":"alice","phone":"+15555550199"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				m, _ := newManager(t, st)
				rows, bad := parse(t, lifecycle.FormatJSONL, tc.file)
				rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rep.Rows {
					if r.Line == 2 && (r.Error == nil || r.Error.Code != "duplicate_row") {
						t.Errorf("line 2: %+v %+v, want duplicate_row", r, r.Error)
					}
				}
				if _, err := m.GetUser(ctx, "alice"); err == nil {
					t.Error("alice was created from the second of her two rows")
				}
			})
		})
	}
}
