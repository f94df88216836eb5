package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/emfa/emfa/store"
)

// TestBeginSaysBegin: a batch whose BEGIN fails (SQLITE_BUSY: another process
// holds the database's write lock past busy_timeout) tells its units so. It said
// "sqlite: commit: database is locked": an operator read a COMMIT that failed, whose
// writes might have been half made, of a batch none of whose statements ran.
func TestBeginSaysBegin(t *testing.T) {
	s, _, path := openFaulty(t)
	ctx := context.Background()
	if _, err := s.w.Exec("PRAGMA busy_timeout = 1"); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	err = s.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "b-1"})
	if _, rerr := c.ExecContext(ctx, "ROLLBACK"); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil {
		t.Fatal("a write while another process held the write lock succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "commit") || !strings.Contains(msg, "begin") {
		t.Errorf("a BEGIN that failed was reported %q, want it named begin, not commit", msg)
	}
	if err := s.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "b-2"}); err != nil {
		t.Errorf("the write after: %v", err)
	}
}
