package adapter

import (
	"net/http/httptest"
	"testing"
)

// TestLoggedPathAllocs: the path of a contract call's access log line costs no
// allocation. isLinkPath cleaned "/"+path, a path that always starts with two slashes and
// so is never clean: two allocations (Clean's buffer and its string) on every request's
// line. A path that starts with one slash cleans the same without the second.
func TestLoggedPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	e := New(Options{}).echo
	c := e.NewContext(httptest.NewRequest("POST", "/v1/providers/acme/validate", nil), httptest.NewRecorder())
	c.SetPath("/v1/providers/:provider/validate")
	if got := loggedPath(c); got != "/v1/providers/acme/validate" {
		t.Fatalf("loggedPath = %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { loggedPath(c) }); n != 0 {
		t.Errorf("loggedPath allocates %v times, want 0", n)
	}
}

// TestIsLinkPathCleaned: a link's path is told as before, however it is written.
func TestIsLinkPathCleaned(t *testing.T) {
	for _, c := range []struct {
		p    string
		want bool
	}{
		{"/self-service/link/tok", true}, {"//self-service/link/tok", true}, {"self-service/link/tok", true},
		{"/a/../self-service/link/tok", true}, {"/SELF-SERVICE/Link/tok", true}, {"/self-service/./link//tok", true},
		{"/self-service/link/", false}, {"/self-service/link", false}, {"/v1/providers/acme/validate", false},
		{"", false}, {"/", false}, {"/self-service/linkx/tok", false},
	} {
		if got := isLinkPath(c.p); got != c.want {
			t.Errorf("isLinkPath(%q) = %v, want %v", c.p, got, c.want)
		}
	}
}
