package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUpgradeFromEveryVersion: a database left at each older version, a row in
// every table it has (every column given a value of its type), opens (and migrates) on
// this emfa with every row and every value it had. The migration tests before took one
// version each, for the migration they were about. Texts are in mixed case with a letter
// beyond ASCII: migrations 9 to 11 fold user names for matching and sync keys, and must
// rewrite no name (a user's, a group's) on the way.
func TestUpgradeFromEveryVersion(t *testing.T) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	latest := int64(len(entries))
	for v := int64(1); v < latest; v++ {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			ctx := t.Context()
			db, path := atVersion(t, v)
			fillEveryTable(t, db)
			before := dumpRows(t, db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatalf("Open on a database at version %d: %v", v, err)
			}
			defer s.Close()
			after := dumpRows(t, s.r)
			for table, rows := range before {
				if len(after[table]) != len(rows) {
					t.Errorf("table %s: %d rows after the upgrade, want %d", table, len(after[table]), len(rows))
					continue
				}
				for i, row := range rows {
					got := map[string]string{}
					for col := range row {
						got[col] = after[table][i][col]
					}
					if d := cmp.Diff(row, got); d != "" {
						t.Errorf("table %s row %d changed by the upgrade from %d (-before +after):\n%s", table, i, v, d)
					}
				}
			}
		})
	}
}

// fillEveryTable inserts a row into each of db's tables, in the order they were created
// (users before the tables that refer to it), every column given a value of its type:
// user_id (and users.id) the one user's id, JSON columns an object.
func fillEveryTable(t *testing.T, db *sql.DB) {
	t.Helper()
	ctx := t.Context()
	for n, table := range userTables(t, db) {
		cols, types := columns(t, db, table)
		var vals []string
		for i, c := range cols {
			switch {
			case c == "user_id" || table == "users" && c == "id":
				vals = append(vals, "'u1'")
			case c == "params" || c == "attributes":
				vals = append(vals, `'{"k":"v"}'`)
			case types[i] == "INTEGER":
				vals = append(vals, fmt.Sprint(1000*n+i+1))
			case types[i] == "BLOB":
				vals = append(vals, "x'0102'")
			default:
				vals = append(vals, fmt.Sprintf("'%s-%s-MiXed-É'", table, c))
			}
		}
		q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(cols, ", "), strings.Join(vals, ", "))
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// dumpRows is every row of every table, each column's value as text, by rowid.
func dumpRows(t *testing.T, db *sql.DB) map[string][]map[string]string {
	t.Helper()
	out := map[string][]map[string]string{}
	for _, table := range userTables(t, db) {
		cols, _ := columns(t, db, table)
		rows, err := db.QueryContext(t.Context(), fmt.Sprintf("SELECT %s FROM %s ORDER BY rowid", strings.Join(cols, ", "), table))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := map[string]string{}
			for i, c := range cols {
				row[c] = fmt.Sprintf("%v", vals[i])
			}
			out[table] = append(out[table], row)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// userTables are db's tables but SQLite's and goose's, in the order they were created.
func userTables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	return strs(t, db, `SELECT name FROM sqlite_schema WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'goose_db_version' ORDER BY rowid`)
}

func columns(t *testing.T, db *sql.DB, table string) (names, types []string) {
	t.Helper()
	rows, err := db.QueryContext(context.WithoutCancel(t.Context()), `SELECT name, type FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n, ty string
		if err := rows.Scan(&n, &ty); err != nil {
			t.Fatal(err)
		}
		names, types = append(names, n), append(types, ty)
	}
	return names, types
}

func strs(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}
