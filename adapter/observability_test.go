package adapter

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	gosync "sync"
	"testing"
)

// TestOAuthClientIDLogBounded: a refused token request's client_id is the caller's
// own, unauthenticated, up to the body limit (or the header's, by Basic); its log line
// carried it whole and raw, where the README says what a caller sent is escaped and cut
// to its limit with a …[truncated] marker before it reaches a log line.
func TestOAuthClientIDLogBounded(t *testing.T) {
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

// countingObserver records what the edge counts (Observer).
type countingObserver struct {
	mu   gosync.Mutex
	auth []string // api/reason
}

func (o *countingObserver) AuthFailure(api, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.auth = append(o.auth, api+"/"+reason)
}
func (o *countingObserver) Retry(string, string) {}
func (o *countingObserver) StoreError(string)    {}

func (o *countingObserver) authFailures() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.auth)
}

// TestAuthFailuresOnlyRefusedCredentials: emfa_auth_failures_total counts requests
// refused for their credentials (README; the EmfaAuthFailures alert reads it as refused
// credentials). It counted every 429 as a throttled credential: an admin token that is
// right, and allowed, asking a second activation link within the minute (a limit on
// links, too_many_links) was counted as a refused credential of the admin API. The
// throttle of wrong credentials is still counted.
func TestAuthFailuresOnlyRefusedCredentials(t *testing.T) {
	h, ss := newSelfServiceHarness(t)
	obs := &countingObserver{}
	h.harness = newHarness(t, func(o *Options) {
		o.Admin = h.manager
		o.SelfService = ss
		o.MaxBodyBytes = 64 << 10
		o.Observer = obs
	})
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`); code != 201 {
		t.Fatalf("link: %d %v", code, out)
	}
	code, text, _ := h.do(t, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`, "Authorization", "Bearer "+h.write)
	if code != http.StatusTooManyRequests || !strings.Contains(text, `"too_many_links"`) {
		t.Fatalf("second link: %d %s, want 429 too_many_links", code, text)
	}
	if got := obs.authFailures(); len(got) != 0 {
		t.Errorf("a link refused by its limit, with a right admin token, counted as refused credentials: %v", got)
	}
	// Wrong credentials until the address is throttled: each refusal counted.
	throttled := false
	for i := 0; i < 20 && !throttled; i++ {
		code, _, _ := h.do(t, "POST", "/v1/providers/acme/test", `{}`, "Authorization", "Basic d3Jvbmc6d3Jvbmc=")
		throttled = code == http.StatusTooManyRequests
	}
	got := obs.authFailures()
	if !throttled || len(got) == 0 || got[len(got)-1] != "contract/throttled" || got[0] != "contract/unauthorized" {
		t.Errorf("wrong credentials until throttled (%v) counted %v, want contract/unauthorized … contract/throttled", throttled, got)
	}
}

// TestLinkTokenNeverLoggedUnrouted: a link's token reached the access log whenever
// the path did not match the link's route: on a replica whose configuration has no
// self-service page yet (a rolling change that turns it on: another replica issued the
// link), or with its path spelled another way (a doubled slash). Opening does not spend
// a link, so the log line held a token anyone who reads the logs could use.
func TestLinkTokenNeverLoggedUnrouted(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`)
	if code != 201 {
		t.Fatalf("link: %d %v", code, out)
	}
	link := out["url"].(string)
	token := link[strings.LastIndex(link, "/")+1:]
	noPage := newHarness(t, nil) // a replica without the page
	for _, c := range []struct {
		h    *harness
		path string
	}{
		{noPage, "/self-service/link/" + token},
		{h.harness, "/self-service//link/" + token},
		{h.harness, "//self-service/link/" + token},
	} {
		before := len(c.h.logs.String())
		code, _, _ := c.h.do(t, http.MethodGet, c.path, "")
		if logs := c.h.logs.String()[before:]; strings.Contains(logs, token) {
			t.Errorf("GET %s… (%d): the token is in the log:\n%s", c.path[:len(c.path)-len(token)], code, strings.ReplaceAll(logs, token, token[:6]+"…"))
		}
	}
}
