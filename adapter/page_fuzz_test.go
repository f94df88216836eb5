package adapter

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
)

// pageFuzzRoutes are the page's addresses a browser (or anyone on the internet) may send
// a request to; {factor} is a factor of the signed-in user, {link} the link's token.
var pageFuzzRoutes = []struct{ method, path string }{
	{"POST", "/self-service/signin"},
	{"POST", "/self-service/signin/code"},
	{"POST", "/self-service/signin/resend"},
	{"POST", "/self-service/signin/continue"},
	{"POST", "/self-service/enroll"},
	{"POST", "/self-service/confirm"},
	{"POST", "/self-service/resend"},
	{"POST", "/self-service/push/continue"},
	{"POST", "/self-service/factors/{factor}/rename"},
	{"POST", "/self-service/factors/{factor}/remove"},
	{"POST", "/self-service/signout"},
	{"POST", "/self-service/link/{link}"},
	{"POST", "/self-service/switch"},
	{"GET", "/self-service/"},
	{"GET", "/self-service/enroll"},
	{"GET", "/self-service/confirm"},
	{"GET", "/self-service/ready"},
	{"GET", "/self-service/switch"},
	{"GET", "/self-service/signin/code"},
	{"GET", "/self-service/signin/approve"},
	{"GET", "/self-service/link/{link}"},
	{"GET", "/self-service/push/status"},
	{"GET", "/self-service/signin/status"},
}

// FuzzPageRequest: whatever a browser sends the page (any route, session, query,
// form and content type, the session's CSRF token or not), the answer is a page, a
// redirect or a 4xx, never a 5xx nor a panic; and a page is HTML with the page's headers.
func FuzzPageRequest(f *testing.F) {
	f.Add(uint8(0), uint8(0), "", "username=alice&method=app", uint8(0), true)
	f.Add(uint8(4), uint8(2), "", "type=totp&destination=%2B15550100199", uint8(0), true)
	f.Add(uint8(5), uint8(2), "wrong=1", "code=%D9%A1%D9%A2&factor=x&shown=AAAA", uint8(0), true)
	f.Add(uint8(8), uint8(3), "", "label=%E2%80%AEphone", uint8(0), true)
	f.Add(uint8(9), uint8(3), "", "", uint8(1), true)
	f.Add(uint8(11), uint8(3), "c=1", "", uint8(2), true)
	f.Add(uint8(13), uint8(1), "done=Added+x&ended=denied", "", uint8(0), false)
	f.Add(uint8(1), uint8(1), "", "code=1%2", uint8(0), true)
	f.Add(uint8(0), uint8(1), "", "--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--b--\r\n", uint8(2), true)
	f.Fuzz(pageFuzzOne)
}

// pageFuzzOne sends one request of FuzzPageRequest to a page of its own.
func pageFuzzOne(t *testing.T, route, who uint8, query, body string, ctype uint8, withCSRF bool) {
	h, _ := newSelfServiceHarnessOn(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	factor, code := totpFactor(t, h, "alice")
	_, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`)
	link, _ := out["url"].(string)
	token := link[strings.LastIndex(link, "/")+1:]
	p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	switch who % 4 {
	case 1: // the sign-in form's
		p.get("/self-service/")
	case 2: // a link's
		p.get("/self-service/link/" + token)
		p.get("/self-service/enroll")
	case 3: // signed in
		p.signIn("alice", code())
	}
	r := pageFuzzRoutes[int(route)%len(pageFuzzRoutes)]
	path := strings.NewReplacer("{factor}", factor, "{link}", token).Replace(r.path)
	if query != "" {
		path += "?" + url.PathEscape(query)
	}
	var req *http.Request
	if r.method == "POST" {
		form := body
		if withCSRF {
			form += "&csrf=" + url.QueryEscape(p.csrf)
		}
		req = httptest.NewRequest(r.method, path, strings.NewReader(form))
		req.Header.Set("Content-Type", []string{"application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=b"}[int(ctype)%3])
	} else {
		req = httptest.NewRequest(r.method, path, nil)
		if withCSRF {
			req.Header.Set("X-CSRF-Token", p.csrf)
		}
	}
	a := p.send(req)
	if a.status >= 500 {
		t.Fatalf("%s %s %q: %d\n%s", r.method, path, body, a.status, a.body)
	}
	if a.status == http.StatusSeeOther || strings.HasSuffix(r.path, "/status") {
		return
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") ||
		a.header.Get("Content-Security-Policy") != selfServiceCSP || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%s %s %q: %d, %q, CSP %q, Cache-Control %q", r.method, path, body, a.status, ct,
			a.header.Get("Content-Security-Policy"), a.header.Get("Cache-Control"))
	}
}

// newSelfServiceHarnessOn is newSelfServiceHarness on a store in memory: a fuzz run's
// inputs each get a page of their own.
func newSelfServiceHarnessOn(t *testing.T) (*adminHarness, *lifecycle.SelfService) {
	t.Helper()
	h := newAdminHarnessOn(t, testdb.Memory(t))
	ss, err := h.manager.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: 3600e9,
		SessionIdle: 600e9, PublicURL: "https://mfa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = h.manager; o.SelfService = ss; o.MaxBodyBytes = 64 << 10 })
	return h, ss
}
