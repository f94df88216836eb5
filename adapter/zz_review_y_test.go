package adapter

import (
	"net/url"
	"strings"
	"testing"
)

// TestReviewOAuthClientIDLogBounded: a refused token request's client_id is the caller's
// own, unauthenticated, up to the body limit (or the header's, by Basic); its log line
// carried it whole and raw, where the README says what a caller sent is escaped and cut
// to its limit with a …[truncated] marker before it reaches a log line.
func TestReviewOAuthClientIDLogBounded(t *testing.T) {
	h := newOAuthHarness(t)
	// The form's within the harness's 1 KiB body limit; Basic's in a header.
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {strings.Repeat("x", 800) + "\x00"}, "client_secret": {"wrong"}}
	long := strings.Repeat("y", 8<<10) + "\x00"
	if code, _ := h.token(t, form, "", ""); code != 401 {
		t.Fatalf("token with an unknown client: %d", code)
	}
	if code, _ := h.token(t, url.Values{"grant_type": {"client_credentials"}}, long, "wrong"); code != 401 {
		t.Fatalf("token with an unknown client by Basic: %d", code)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		if !strings.Contains(line, "oauth client authentication failed") {
			continue
		}
		n++
		if len(line) > 1500 || !strings.Contains(line, "…[truncated]") {
			t.Errorf("log line of %d bytes without a truncation marker: %.200s", len(line), line)
		}
	}
	if n != 2 {
		t.Fatalf("%d oauth authentication failures logged, want 2:\n%.2000s", n, h.logs.String())
	}
}
