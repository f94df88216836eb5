package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// `emfa audit --limit N` as a table held every event (and tabwriter every cell) until the
// last page was read, to align its columns over all rows: 500,000 events held 667 MB
// before a line came out. Now the table is aligned, and printed, a page of 1,000 events
// at a time. Shown as for --json (TestAuditJSONStreams), by emptying the trail
// at the first write: the rows printed are the first page's, aligned among themselves.
func TestAuditTableStreams(t *testing.T) {
	cfg, db, fill := auditOf2500(t)
	fill()
	w := &deletingWriter{t: t, db: db}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"audit", "--action", "validate", "--limit", "5000", "--config", cfg}, (&cli{}).deps(w, &stderr)); code != 0 {
		t.Fatalf("audit: exit %d\n%s", code, &stderr)
	}
	lines := strings.Split(strings.TrimSuffix(w.out.String(), "\n"), "\n")
	if len(lines) != 1001 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("audit printed %d lines after its first write (%.80q), want the header and the first page's 1000: it read the whole trail before printing",
			len(lines), lines[0])
	}
	col := strings.Index(lines[0], "REASON")
	for i, l := range lines[1:] {
		if strings.Index(l, "wrong code") != col {
			t.Fatalf("line %d not aligned under REASON (column %d):\n%s\n%s", i+1, col, lines[0], l)
		}
	}
	// Over two pages, the table has one header and every row: --limit 1500 of 2500.
	fill()
	out := mustEmfa(t, "audit", "--limit", "1500", "--config", cfg)
	if strings.Count(out, "TIME") != 1 || strings.Count(out, "\n") != 1501 {
		t.Errorf("audit --limit 1500: %d headers, %d lines, want 1 and 1501", strings.Count(out, "TIME"), strings.Count(out, "\n"))
	}
}
