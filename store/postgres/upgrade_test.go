package postgres_test

import (
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/emfa/emfa/store/postgres"
)

// TestUpgradeFromEveryVersion: a schema left at each older version, a row in
// every table it has (every column but an identity given a value of its type), opens
// (and migrates) on this emfa with every row and every value it had, as on SQLite
// (TestUpgradeFromEveryVersion there), texts in mixed case with a letter beyond
// ASCII. Migrations 10, 26 and 27 rebuild a key or a column's collation over the rows
// they find. Each version's schema is its own, so they run in parallel.
func TestUpgradeFromEveryVersion(t *testing.T) {
	t.Parallel()
	entries, err := fs.ReadDir(postgres.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	latest := int64(len(entries))
	for v := int64(1); v < latest; v++ {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			t.Parallel()
			db, dsn := schemaAt(t, v)
			pgFillEveryTable(t, db)
			before := pgDumpRows(t, db)
			s, err := postgres.Open(t.Context(), dsn)
			if err != nil {
				t.Fatalf("Open on a schema at version %d: %v", v, err)
			}
			defer s.Close()
			// A connection of its own: the test's, which prepared its reads before the
			// migrations, would fail on those whose columns' collation they changed.
			fresh := stdlib.OpenDB(*pgConfig(t, dsn))
			defer fresh.Close()
			after := pgDumpRows(t, fresh)
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

func pgConfig(t *testing.T, dsn string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.ConnConfig
}

type pgColumn struct{ name, typ string }

// pgTables are the schema's tables but goose's, users first (the others refer to it).
func pgTables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version'
		ORDER BY table_name <> 'users', table_name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// pgColumns are table's columns but identities, with their types.
func pgColumns(t *testing.T, db *sql.DB, table string) []pgColumn {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'NO' ORDER BY ordinal_position`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []pgColumn
	for rows.Next() {
		var c pgColumn
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func pgFillEveryTable(t *testing.T, db *sql.DB) {
	t.Helper()
	for n, table := range pgTables(t, db) {
		var names, vals []string
		for i, c := range pgColumns(t, db, table) {
			names = append(names, c.name)
			switch {
			case c.name == "user_id" || table == "users" && c.name == "id":
				vals = append(vals, "'u1'")
			case c.typ == "jsonb":
				vals = append(vals, `'{"k": "v"}'`)
			case c.typ == "bigint" || c.typ == "integer":
				vals = append(vals, fmt.Sprint(1000*n+i+1))
			case c.typ == "boolean":
				vals = append(vals, "true")
			case c.typ == "bytea":
				vals = append(vals, `'\x0102'`)
			default:
				vals = append(vals, fmt.Sprintf("'%s-%s-MiXed-É'", table, c.name))
			}
		}
		q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(names, ", "), strings.Join(vals, ", "))
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// pgDumpRows is every row of every table, each column's value as text, in the order of
// the text of the whole row.
func pgDumpRows(t *testing.T, db *sql.DB) map[string][]map[string]string {
	t.Helper()
	out := map[string][]map[string]string{}
	for _, table := range pgTables(t, db) {
		cols := pgColumns(t, db, table)
		var sel []string
		for _, c := range cols {
			sel = append(sel, c.name+"::text")
		}
		rows, err := db.QueryContext(t.Context(), fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), table))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := map[string]string{}
			for i, c := range cols {
				row[c.name] = fmt.Sprint(vals[i])
			}
			out[table] = append(out[table], row)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(out[table], func(a, b map[string]string) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	}
	return out
}
