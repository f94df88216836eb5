package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// versionTable is where goose keeps the versions of emfa's schema: every database emfa
// has migrated, or made from its snapshot, has it from the transaction of its first
// migration on.
const versionTable = "goose_db_version"

// refuseForeign refuses a database file that holds tables or views but not versionTable:
// another program's database, which storage.dsn names by mistake. Migrated, it became
// emfa's database as well, emfa's tables beside its owner's, or, where a name was taken
// (users), the start failed with goose's version table left in it. The writer looks
// before it sets the journal mode, the one setting of a connection's that stays in the
// file, so that a refused file is left as it was.
func refuseForeign(ctx context.Context, w *sql.DB) error {
	rows, err := w.QueryContext(ctx, `SELECT name FROM sqlite_schema
		WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return fmt.Errorf("sqlite: open: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return fmt.Errorf("sqlite: open: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: open: %w", err)
	}
	// None: a new database, or one whose first start stopped before its schema committed.
	if len(names) == 0 || slices.Contains(names, versionTable) {
		return nil
	}
	const show = 5
	list := strings.Join(names[:min(len(names), show)], ", ")
	if len(names) > show {
		list += fmt.Sprintf(" and %d more", len(names)-show)
	}
	if emfaTables(names) {
		// emfa's schema whose version table was dropped, or its tables copied alone: the
		// migrations cannot tell which of them it has had.
		return fmt.Errorf("sqlite: open: the file holds emfa's tables (%s) but no %s, where emfa keeps its schema's "+
			"version, so which migrations it has had is unknown; it was left as it is: restore a backup of it (or check that storage.dsn names emfa's database)", list, versionTable)
	}
	return fmt.Errorf("sqlite: open: the file is not emfa's database: it holds tables (%s) but no %s, "+
		"where emfa keeps its schema's version; it was left as it is: check that storage.dsn names emfa's database", list, versionTable)
}

// emfaTables reports whether names, sorted, hold the tables every schema of emfa's has
// had since its first migration.
func emfaTables(names []string) bool {
	for _, t := range []string{"audit", "factors", "transactions", "users"} {
		if _, found := slices.BinarySearch(names, t); !found {
			return false
		}
	}
	return true
}
