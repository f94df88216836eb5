package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// usersDeletingWriter is a stdout that, at its first write, deletes every user: what is
// printed after that was read before it.
type usersDeletingWriter struct {
	t    *testing.T
	db   *sql.DB
	done bool
	out  bytes.Buffer
}

func (w *usersDeletingWriter) Write(p []byte) (int, error) {
	if !w.done {
		w.done = true
		if _, err := w.db.Exec(`DELETE FROM users`); err != nil {
			w.t.Error(err)
		}
	}
	return w.out.Write(p)
}

// `emfa users list` as a table held every user's row in tabwriter until the last page
// was read, as the audit table did (TestAuditTableStreams): a directory of a
// million users held hundreds of megabytes before the first name came out, while --json
// printed each page as read. Now the table is aligned and printed a page of 1,000 at a
// time; shown by deleting every user at the first write. 1,001 users are a full page and
// one more, which a list that read every user before its first write prints too; the
// 2,500 of before, imported twice under the race detector, were 27 s of cmd/emfa's tests
// and took no path that 1,001 does not.
func TestUsersListTableStreams(t *testing.T) {
	const users = 1001
	cfg := writeConfig(t, "")
	var csv strings.Builder
	csv.WriteString("username\n")
	for i := range users {
		fmt.Fprintf(&csv, "user%04d\n", i)
	}
	path := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	mustEmfa(t, "import", path, "--config", cfg)
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := &usersDeletingWriter{t: t, db: db}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"users", "list", "--config", cfg}, (&cli{}).deps(w, &stderr)); code != 0 {
		t.Fatalf("users list: exit %d\n%s", code, &stderr)
	}
	lines := strings.Split(strings.TrimSuffix(w.out.String(), "\n"), "\n")
	if len(lines) != 1001 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("users list printed %d lines after its first write, want the header and the first page's 1000: it read every user before printing", len(lines))
	}
	col := strings.Index(lines[0], "STATE")
	for i, l := range lines[1:] {
		if strings.Index(l, "active") != col {
			t.Fatalf("line %d not aligned under STATE:\n%s\n%s", i+1, lines[0], l)
		}
	}
	// Over pages, one header and every user.
	mustEmfa(t, "import", path, "--config", cfg)
	if out := mustEmfa(t, "users", "list", "--config", cfg); strings.Count(out, "NAME") != 1 || strings.Count(out, "\n") != users+1 {
		t.Errorf("users list: %d headers, %d lines, want 1 and %d", strings.Count(out, "NAME"), strings.Count(out, "\n"), users+1)
	}
}
