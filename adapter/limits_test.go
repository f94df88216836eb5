package adapter

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMESyncLimits: README's "Limits" said every request body is held to
// server.maxBodyBytes (64 KiB), but SCIM and the directories' event hooks take bodies of
// up to syncMaxBody (4 MiB, a group's members) and syncTimeout (10 s) whatever
// server.maxBodyBytes and requestTimeout say: an operator sizing a directory's groups, or
// raising maxBodyBytes for them, was told the wrong thing. The bullet names both, and a
// SCIM body over 64 KiB is read, one over 4 MiB refused 413 as a SCIM error.
func TestREADMESyncLimits(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, bullet, _ := strings.Cut(string(readme), "* **Limits.**")
	bullet, _, _ = strings.Cut(bullet, "\n* ")
	bullet = strings.Join(strings.Fields(bullet), " ")
	for _, want := range []string{"SCIM", fmt.Sprintf("%d MiB", syncMaxBody>>20), fmt.Sprintf("%d s", int(syncTimeout.Seconds()))} {
		if !strings.Contains(bullet, want) {
			t.Errorf("README's Limits bullet does not say %q: %s", want, bullet)
		}
	}

	h := newSyncHarness(t)
	post := func(n int) (int, string) {
		body := `{"userName":"limits@example.com","title":"` + strings.Repeat("x", n) + `"}`
		req := httptest.NewRequest("POST", SCIMPrefix+"/Users", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testSCIMToken)
		req.Header.Set("Content-Type", scimContentType)
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, body := post(100 << 10); code != http.StatusCreated {
		t.Errorf("a SCIM body of 100 KiB: %d %s, want 201", code, body)
	}
	if code, body := post(syncMaxBody); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, scimErrSchema) {
		t.Errorf("a SCIM body over %d bytes: %d %s, want 413 as a SCIM error", syncMaxBody, code, body)
	}
}
