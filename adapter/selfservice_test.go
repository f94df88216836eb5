package adapter

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/lifecycle"
)

// newSelfServiceHarness is the admin harness with the self-service page on.
func newSelfServiceHarness(t *testing.T) (*adminHarness, *lifecycle.SelfService) {
	t.Helper()
	h := newAdminHarness(t)
	ss, err := h.manager.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = h.manager; o.SelfService = ss; o.MaxBodyBytes = 64 << 10 })
	return h, ss
}

// TestLinkTokenNeverLogged: opening an activation link does not spend it, so its token in
// the access log would let anyone who reads the logs use it. The line names the route.
func TestLinkTokenNeverLogged(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`)
	if code != 201 {
		t.Fatalf("link: %d %v", code, out)
	}
	url := out["url"].(string)
	token := url[strings.LastIndex(url, "/")+1:]
	if code, _, _ = h.do(t, http.MethodGet, "/self-service/link/"+token, ""); code != http.StatusOK {
		t.Fatalf("open link: %d", code)
	}
	logs := h.logs.String()
	if strings.Contains(logs, token) || !strings.Contains(logs, `"path":"/self-service/link/:token"`) {
		t.Errorf("the access line of a link, token %s…:\n%s", token[:6], strings.ReplaceAll(logs, token, token[:6]+"…"))
	}
}
