package adapter

import (
	"net/http"
	"testing"
)

// TestImportMediaType: an import without ?format= takes its format from the
// Content-Type, whose type and subtype are case-insensitive (RFC 9110 §8.3.1) and may
// carry parameters and spaces; a media type that only starts like one (text/csvx) is
// not it.
func TestImportMediaType(t *testing.T) {
	h := newAdminHarness(t)
	for _, tc := range []struct {
		ct, body string
		want     int
	}{
		{"text/csv", "username\na1\n", 200},
		{"text/csv; charset=utf-8", "username\na2\n", 200},
		{"Text/CSV", "username\na3\n", 200},
		{"TEXT/CSV;charset=UTF-8", "username\na4\n", 200},
		{"application/x-ndjson", `{"username":"a5"}` + "\n", 200},
		{"Application/X-NDJSON; charset=utf-8", `{"username":"a6"}` + "\n", 200},
		{"application/jsonl", `{"username":"a7"}` + "\n", 200},
		{"application/jsonlines", `{"username":"a10"}` + "\n", 200},
		{"text/csvx", "username\na8\n", 400},
		{"application/jsonlines-not", `{"username":"a9"}` + "\n", 400},
	} {
		code, text, _ := h.do(t, http.MethodPost, AdminPrefix+"/import", tc.body, "Authorization", "Bearer "+h.write, "Content-Type", tc.ct)
		if code != tc.want {
			t.Errorf("Content-Type %q: %d %s, want %d", tc.ct, code, text, tc.want)
		}
	}
}
