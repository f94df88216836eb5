package adapter

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlite"
)

// TestDeletedUserLeavesWhatTheREADMESays: README's "Deleting a person" lists what
// remains of a user once deleted, for an operator answering an erasure request. A user a
// directory created (with a group and a profile) and then deleted is looked for in every
// table of the store, SQLite and PostgreSQL: each table that still holds the name must be
// one the paragraph names. Directory sync's ordering marks kept the name (and each group's
// membership) with no word of it there.
func TestDeletedUserLeavesWhatTheREADMESays(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, para, _ := strings.Cut(string(readme), "**Deleting a person.**")
	para, _, _ = strings.Cut(para, "\n\n")
	para = strings.Join(strings.Fields(para), " ")
	// What the paragraph calls each table that may hold a deleted user's name.
	named := map[string]string{
		"audit":                "audit rows",
		"sends":                "send counts",
		"transactions":         "transactions",
		"selfservice_sessions": "page sessions",
		"sync_events":          "queued sync events",
		"sync_marks":           "directory sync's ordering marks",
	}
	const name = "carol.c64@example.com"
	run := func(t *testing.T, st store.Store, tablesHolding func(needle string) []string) {
		// The admin API's way: a user with a profile, a group and a factor, deleted.
		a := newAdminHarnessOn(t, st)
		const erin = "erin.c64@example.com"
		if code, out := a.admin(t, a.write, "POST", AdminPrefix+"/users",
			`{"name":"`+erin+`","email":"`+erin+`","displayName":"Erin","groups":["c64-ops"]}`); code != 201 {
			t.Fatalf("admin create: %d %v", code, out)
		}
		if code, out := a.admin(t, a.write, "POST", AdminPrefix+"/users/"+erin+"/factors", `{"type":"totp"}`); code != 201 {
			t.Fatalf("admin enroll: %d %v", code, out)
		}
		if code, out := a.admin(t, a.write, "DELETE", AdminPrefix+"/users/"+erin, ""); code != 204 {
			t.Fatalf("admin delete: %d %v", code, out)
		}
		found := tablesHolding(erin)
		if !slices.Contains(found, "audit") {
			t.Fatalf("tables holding the admin API's user: %v; its audit rows hold it: the scan sees nothing", found)
		}
		for _, table := range found {
			if what, ok := named[table]; !ok || !strings.Contains(para, what) {
				t.Errorf("table %s still holds the name of a user the admin API deleted, and README's \"Deleting a person\" does not say so", table)
			}
		}

		h := newSyncHarnessOn(t, st)
		auth := []string{"X-Okta-Secret", testSecret}
		if code, _, _ := h.do("POST", OktaPath, oktaBatch(
			okEv("c64-1", "user.lifecycle.create", name, 1),
			okEv("c64-2", "group.user_membership.add", name, 2, "c64-sales")), auth...); code != 204 {
			t.Fatalf("create: %d", code)
		}
		h.drain()
		if _, ok := h.user(name); !ok {
			t.Fatal("the directory's user was not created")
		}
		if code, _, _ := h.do("POST", OktaPath, oktaBatch(okEv("c64-3", "user.lifecycle.delete.initiated", name, 3)), auth...); code != 204 {
			t.Fatalf("delete: %d", code)
		}
		h.drain()
		if _, ok := h.user(name); ok {
			t.Fatal("the directory's user was not deleted")
		}
		found = tablesHolding(name)
		if !slices.Contains(found, "sync_events") {
			t.Fatalf("tables holding the name: %v; the queued events (kept 7 days) hold it: the scan sees nothing", found)
		}
		for _, table := range found {
			if what, ok := named[table]; !ok || !strings.Contains(para, what) {
				t.Errorf("table %s still holds the deleted user's name, and README's \"Deleting a person\" does not say so", table)
			}
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "emfa.db")
		st, err := sqlite.Open(context.Background(), "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		run(t, st, func(needle string) []string {
			return holding(t, raw, `SELECT name FROM sqlite_master WHERE type = 'table'`, func(table string) string {
				return `SELECT * FROM "` + table + `"`
			}, needle)
		})
	})
	t.Run("postgres", func(t *testing.T) {
		sv := testdb.Connect(t)
		schema := sv.NewSchema(t)
		st, err := postgres.Open(context.Background(), sv.SchemaDSN(t, schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		run(t, st, func(needle string) []string {
			ctx := context.Background()
			rows, err := sv.Admin.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, schema)
			if err != nil {
				t.Fatal(err)
			}
			tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, table := range tables {
				var n int
				q := fmt.Sprintf(`SELECT count(*) FROM %s x WHERE strpos(x::text, $1) > 0`, pgx.Identifier{schema, table}.Sanitize())
				if err := sv.Admin.QueryRow(ctx, q, needle).Scan(&n); err != nil {
					t.Fatalf("%s: %v", table, err)
				}
				if n > 0 {
					out = append(out, table)
				}
			}
			slices.Sort(out)
			return out
		})
	})
}

// holding lists the tables (listed by the query tables) of which a row holds needle in
// some column, read as text.
func holding(t *testing.T, db *sql.DB, tables string, all func(table string) string, needle string) []string {
	t.Helper()
	rows, err := db.Query(tables)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	var out []string
	for _, table := range names {
		rows, err := db.Query(all(table))
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		cols, _ := rows.Columns()
		found := false
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			for _, v := range vals {
				if s := fmt.Sprint(v); strings.Contains(s, needle) {
					found = true
				} else if b, ok := v.([]byte); ok && strings.Contains(string(b), needle) {
					found = true
				}
			}
		}
		rows.Close()
		if found {
			out = append(out, table)
		}
	}
	slices.Sort(out)
	return out
}
