package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's import excerpt ("excerpt: needs your directory's export as directory.csv"),
// which TestReadmeBlocks does not run, run as pasted against the embedded default with an
// export of the kind the README's paragraph above it describes: a byte order mark, CRLF,
// an unnamed trailing column, a row of empty cells, no line break at the end.
//
//	./emfa import directory.csv --dry-run             # the diff: + created, ~ updated, ! refused
//	./emfa import directory.csv                       # apply; a second run: "0 created, 0 updated, N unchanged"
//	./emfa import directory.csv --full --max-deletes 25
func TestReadmeImportExcerpt(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("EMFA_DATA_DIR", filepath.Join(dir, "emfa-data"))
	mustEmfa(t, "users", "add", "gone", "--init") // in the store, not in the export
	csv := "\ufeffusername,email,groups,,\r\nann,ann@example.com,a;b,,\r\nben,ben@example.com,,,\r\n,,,,\r\ncat,cat@example.com,,,"
	if err := os.WriteFile("directory.csv", []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustEmfa(t, "import", "directory.csv", "--dry-run")
	for _, want := range []string{"+ line 2 ann", "+ line 3 ben", "+ line 5 cat", "3 created"} {
		if !strings.Contains(out, want) {
			t.Errorf("import --dry-run: no %q in\n%s", want, out)
		}
	}
	mustEmfa(t, "import", "directory.csv")
	if out := mustEmfa(t, "import", "directory.csv"); !strings.Contains(out, "0 created, 0 updated, 3 unchanged") {
		t.Errorf("second import:\n%s", out)
	}
	out = mustEmfa(t, "import", "directory.csv", "--full", "--max-deletes", "25")
	if !strings.Contains(out, "- gone") || !strings.Contains(out, "1 deleted") {
		t.Errorf("import --full --max-deletes 25:\n%s", out)
	}
	if out := mustEmfa(t, "users", "show", "ann", "--json"); !strings.Contains(out, `"groups":["a","b"]`) {
		t.Errorf("ann after the import: %s", out)
	}
}
