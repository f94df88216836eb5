package adapter

import (
	"net/http"
	"strings"
	"testing"
)

// TestImportRowBound: an import of more rows than importMaxRows is refused 413
// too_many_rows before any row is applied. Before, the rows were held in memory whatever
// their number: 32 MiB of two-byte CSV rows ("a\n", the same user again) are 16 million
// rows, about 9 GB of heap and a report of gigabytes, from one write-scope request.
func TestImportRowBound(t *testing.T) {
	h := newAdminHarness(t)
	body := "username\nearly\n" + strings.Repeat("a\n", importMaxRows)
	code, out := h.admin(t, h.write, "POST", "/admin/v1/import?format=csv", body)
	if got, _ := errorCode(out); code != http.StatusRequestEntityTooLarge || got != "too_many_rows" {
		t.Fatalf("an import of %d rows: %d %q, want 413 too_many_rows", importMaxRows+1, code, got)
	}
	if code, _ := h.admin(t, h.write, "GET", "/admin/v1/users/early", ""); code != http.StatusNotFound {
		t.Errorf("the refused import's first row was applied: GET its user answered %d", code)
	}
}
