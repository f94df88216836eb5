package sqlstore

import (
	"context"
	"regexp"
	"strings"
)

// DeleteMarksSQL is the statement of DeleteMarks, for its plan.
const DeleteMarksSQL = deleteMarksSQL

// PlanWriter is the plan s's writer makes of q with args, a line each: SQLite's EXPLAIN
// QUERY PLAN (parameters bound to 1), PostgreSQL's EXPLAIN with sequential scans off, in a
// transaction rolled back: the plan of a table too large to read whole.
func PlanWriter(ctx context.Context, s *Store, q string, args ...any) (string, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	var lines []string
	if s.name == "postgres" {
		if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return "", err
		}
		rows, err := tx.QueryContext(ctx, `EXPLAIN `+q, args...)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return "", err
			}
			lines = append(lines, line)
		}
		return strings.Join(lines, "\n"), rows.Err()
	}
	rows, err := tx.QueryContext(ctx, `EXPLAIN QUERY PLAN `+regexp.MustCompile(`\$[0-9]+`).ReplaceAllString(q, "1"))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(new(int), new(int), new(int), &line); err != nil {
			return "", err
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n"), rows.Err()
}
