package adapter

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

var p78FactorField = regexp.MustCompile(`name="factor" value="([^"]+)"`)

// TestAddedNoticeOfAnyLabel: a signed-in user's new factor, confirmed, leads to
// the factors page saying "Added" and its label. The label went into the redirect's
// address unescaped (spaces as +, nothing else): one renamed while pending to "R&D #2"
// or "100% mine" gave an address whose query ended at the & or the # (or failed to
// parse at the %), and the page showed no notice at all.
func TestAddedNoticeOfAnyLabel(t *testing.T) {
	for _, label := range []string{"R&D #2", "100% mine", "a+b"} {
		t.Run(label, func(t *testing.T) {
			_, code, p := aliceOnPage(t)
			p.signIn("alice", code())
			a := p.post("/self-service/enroll", url.Values{"type": {"totp"}})
			if a.status != http.StatusSeeOther {
				t.Fatalf("enroll: %d\n%s", a.status, a.body)
			}
			req := httptest.NewRequest(http.MethodGet, "/self-service/confirm", nil)
			for _, c := range a.cookies {
				if c.Name == shownCookie {
					req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value}) // the key shown, sealed
				}
			}
			a = p.send(req)
			secret, factor := secretShown.FindStringSubmatch(a.body), p78FactorField.FindStringSubmatch(a.body)
			if secret == nil || factor == nil {
				t.Fatalf("the set-up page shows no key or factor:\n%s", a.body)
			}
			if a := p.post("/self-service/factors/"+factor[1]+"/rename", url.Values{"label": {label}}); a.status != http.StatusSeeOther {
				t.Fatalf("rename: %d\n%s", a.status, a.body)
			}
			p.get("/self-service/") // the CSRF token of a page, as the browser's other tab has
			c, err := totp.GenerateCode(secret[1], time.Now())
			if err != nil {
				t.Fatal(err)
			}
			a = p.post("/self-service/confirm", url.Values{"factor": {factor[1]}, "code": {c}})
			if a.status != http.StatusSeeOther {
				t.Fatalf("confirm: %d\n%s", a.status, a.body)
			}
			loc := a.header.Get("Location")
			if a := p.get(loc); !strings.Contains(a.body, "Added "+template78(label)) {
				t.Errorf("confirmed %q: redirected to %q, whose page shows no notice of it\n%s", label, loc, a.body)
			}
		})
	}
}

// template78 is s as html/template writes it in text.
func template78(s string) string {
	return strings.NewReplacer("&", "&amp;", "+", "&#43;").Replace(s)
}
