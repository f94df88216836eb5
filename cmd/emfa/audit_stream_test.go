package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// deletingWriter is a stdout that, at its first write, empties the audit trail: what is
// printed after that was read before it.
type deletingWriter struct {
	t    *testing.T
	db   *sql.DB
	done bool
	out  bytes.Buffer
}

func (w *deletingWriter) Write(p []byte) (int, error) {
	if !w.done {
		w.done = true
		if _, err := w.db.Exec(`DELETE FROM audit`); err != nil {
			w.t.Error(err)
		}
	}
	return w.out.Write(p)
}

// `emfa audit --json --limit N`, the export of a trail to a SIEM, read all N events into
// memory before printing the first: 500,000 events held 546 MB (1.2 KB an event) for
// 8 s before a line came out, so a day's trail of a busy site needed gigabytes. Now each
// page of 1,000 is printed as it is read. Shown here by emptying the trail at the first
// line written: the lines printed after it are the first page's only.
func TestAuditJSONStreams(t *testing.T) {
	cfg, db, fill := auditOf2500(t)
	fill()
	w := &deletingWriter{t: t, db: db}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"audit", "--json", "--limit", "5000", "--config", cfg}, (&cli{}).deps(w, &stderr)); code != 0 {
		t.Fatalf("audit: exit %d\n%s", code, &stderr)
	}
	if n := strings.Count(w.out.String(), "\n"); n != 1000 {
		t.Errorf("audit --json printed %d events after its first line, want the first page's 1000: it read the whole trail before printing", n)
	}
}

// auditOf2500 is a store (its configuration cfg, its database db, closed at the test's
// end) whose trail fill adds 2,500 validate events to, each time it is called.
func auditOf2500(t *testing.T) (cfg string, db *sql.DB, fill func()) {
	t.Helper()
	cfg = writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now().Add(-time.Hour).UnixMilli()
	insert := fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2499)
		INSERT INTO audit (time, request_id, provider, username, capability, factor_id, resource, outcome, reason)
		SELECT %d - i, 'req' || i, 'emfa', 'alice', 'totp', 'f' || i, 'validate', 'FAILED', 'wrong code' FROM n`, now)
	return cfg, db, func() {
		t.Helper()
		if _, err := db.Exec(insert); err != nil {
			t.Fatal(err)
		}
	}
}
