package adapter

import (
	"strings"
	"testing"
)

// TestAdminAuthFailureLogBounded: the admin API's auth-failure line carried the request
// path verbatim — up to the 32 KiB header limit, and raw — where the README says a log
// line carries at most 512 bytes of a path (issue 15 bounded the access log and the
// contract's auth-failure line, not this one). Anyone who reaches the admin listener
// chooses that path, without a token.
func TestAdminAuthFailureLogBounded(t *testing.T) {
	h := newAdminHarness(t)
	long := "/admin/v1/users/" + strings.Repeat("x", 20<<10)
	h.do(t, "GET", long, "", "Authorization", "Bearer wrong")
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		if strings.Contains(line, "admin authentication failed") && (len(line) > 2<<10 || !strings.Contains(line, "…[truncated]")) {
			t.Errorf("log line of %d bytes without a truncation marker: %.200s", len(line), line)
		}
	}
	if !strings.Contains(h.logs.String(), "admin authentication failed") {
		t.Fatal("no admin authentication failure logged")
	}
}
