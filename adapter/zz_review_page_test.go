package adapter

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// TestReviewLinkConfirmPostedTwice: the first code of a link's enrollment posted twice
// (a double click on Confirm: the browser sends the second form with the cookie the first
// answer had not cleared yet) shows the set-up done, as the first did, not "your session
// has ended" for a factor that was just set up.
func TestReviewLinkConfirmPostedTwice(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	p := openLink(t, h)
	if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}}); code != 200 {
		t.Fatalf("enroll: %d %s", code, p.body)
	}
	m := secretShown.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no key on the confirm page: %s", p.body)
	}
	right, _ := totp.GenerateCode(m[1], time.Now())
	cookie, csrf, shownCk := p.cookie, p.csrf, p.shownCk
	form := func() url.Values {
		f := url.Values{"code": {right}}
		if fm := factorField(p.body); fm != "" {
			f.Set("factor", fm)
		}
		return f
	}
	f := form()
	if code := p.do(t, "POST", "/self-service/confirm", f); code != 200 || !strings.Contains(p.body, "You are all set") {
		t.Fatalf("the first click: %d %s", code, p.body)
	}
	// The second click's request: the same cookies and form as the first.
	p.cookie, p.csrf, p.shownCk = cookie, csrf, shownCk
	f.Del("csrf")
	code := p.do(t, "POST", "/self-service/confirm", f)
	if code != http.StatusOK || !strings.Contains(p.body, "You are all set") {
		t.Errorf("the second click: %d, want the set-up done as the first said:\n%s", code, p.body)
	}
}

// factorField is the confirm form's hidden factor id.
func factorField(body string) string {
	const k = `name="factor" value="`
	i := strings.Index(body, k)
	if i < 0 {
		return ""
	}
	rest := body[i+len(k):]
	return rest[:strings.IndexByte(rest, '"')]
}
