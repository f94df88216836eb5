package adapter

import (
	"net/url"
	"testing"

	"github.com/emfa/emfa/provider"
)

// TestEnrollmentsOverGET: contract §12 has emfa accept GET where a resource only
// reads, the method being the operator's choice in Verify's webhook; the lookup is the
// resource that only reads (Verify's own runtime lookup is a GET). It answered 405, which
// left every user of a webhook so configured without factors. As for result, a GET may
// carry the usual JSON body or, without one, username in the query string.
func TestEnrollmentsOverGET(t *testing.T) {
	h := newHarness(t, nil)
	h.engine.enrolls = []provider.Enrollment{{Capability: "totp", ID: "f1", Attributes: map[string]any{"authExecutionFlow": "validate"}}}
	const want = `[{"capability":"totp","id":"f1","attributes":{"authExecutionFlow":"validate"}}]`
	for _, c := range []struct{ name, path, body string }{
		{"query", "/v1/providers/acme/enrollments?" + url.Values{"username": {"alice@example.com"}}.Encode(), ""},
		{"body", "/v1/providers/acme/enrollments", `{"username":"alice@example.com"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body, _ := h.do(t, "GET", c.path, c.body)
			if code != 200 || body != want {
				t.Fatalf("GET enrollments: %d %s, want 200 %s", code, body, want)
			}
			h.engine.mu.Lock()
			user := h.engine.last.Username
			h.engine.mu.Unlock()
			if user != "alice@example.com" {
				t.Errorf("engine asked for %q, want alice@example.com", user)
			}
		})
	}
	if code, body, _ := h.do(t, "GET", "/v1/providers/acme/enrollments", ""); code != 400 {
		t.Errorf("GET enrollments without a username: %d %s, want 400", code, body)
	}
}
