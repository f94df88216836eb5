package sqlstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlstore"
)

// TestMarksPurgePlan: the hourly purge of the ordering marks (DeleteMarks) finds
// the marks it deletes by an index on their time, and the oldest pending and the oldest
// dead event each by the first row of the queue's claim index, on both stores. It read the whole of sync_marks (SQLite: SCAN
// sync_marks; PostgreSQL: a sequential scan) on every replica once an hour: millions of
// rows in a large directory's steady state, where few are old enough, and on SQLite under
// the one writer every decision waits for.
func TestMarksPurgePlan(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) *sqlstore.Store{
		"sqlite":   func(t *testing.T) *sqlstore.Store { return openSQLite(t, "file:"+t.TempDir()+"/emfa.db") },
		"postgres": func(t *testing.T) *sqlstore.Store { return testdb.Postgres(t).(*postgres.Store).Store },
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			plan, err := sqlstore.PlanWriter(t.Context(), s, sqlstore.DeleteMarksSQL, time.Now().UnixMilli(), 10000)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(plan, "sync_marks_event_time") {
				t.Errorf("the marks purge does not find the old marks by sync_marks_event_time:\n%s", plan)
			}
			if strings.Contains(plan, "ANY (") {
				t.Errorf("the marks purge reads every pending and dead event for the oldest of them:\n%s", plan)
			}
			for _, line := range strings.Split(plan, "\n") {
				if strings.Contains(line, "SCAN sync_marks") && !strings.Contains(line, "INDEX") ||
					strings.Contains(line, "SCAN sync_events") && !strings.Contains(line, "INDEX") ||
					strings.Contains(line, "Seq Scan") {
					t.Errorf("the marks purge reads a table whole: %s\n%s", line, plan)
				}
			}
		})
	}
}
