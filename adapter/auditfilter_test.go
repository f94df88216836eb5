package adapter

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestRefusedNameFoundByFilter: C64 made AdminEvent write the user a refused
// admin call named escaped and cut to 256 bytes. A name emfa could hold (at most 256
// bytes of text) must come out of that unchanged, so that GET /audit?user=NAME still
// finds its refusals: 256 bytes of ASCII, 128 two-byte letters, and a name with a space
// and a four-byte letter, each refused once (a read token's DELETE) and found once by the
// filter, on both stores. No defect found.
func TestRefusedNameFoundByFilter(t *testing.T) {
	names := []string{
		strings.Repeat("a", 256),
		strings.Repeat("é", 128),
		"Zoë 𝒜nne-Marie O'Neil",
	}
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		h := newAdminHarnessOn(t, st)
		for _, name := range names {
			if code, out := h.admin(t, h.read, http.MethodDelete, AdminPrefix+"/users/"+url.PathEscape(name), ""); code != http.StatusForbidden {
				t.Fatalf("read token, DELETE %.20q…: %d %v; want 403", name, code, out)
			}
		}
		for _, name := range names {
			code, out := h.admin(t, h.read, http.MethodGet, AdminPrefix+"/audit?user="+url.QueryEscape(name)+"&action=admin.refused", "")
			events, _ := out["events"].([]any)
			if code != http.StatusOK || len(events) != 1 {
				t.Errorf("GET /audit?user=%.20q…: %d, %d events (%v), want the one refusal", name, code, len(events), out)
				continue
			}
			if ev, _ := events[0].(map[string]any); ev["user"] != name {
				t.Errorf("the refusal of %.20q… names %.20q…", name, ev["user"])
			}
		}
	})
}
