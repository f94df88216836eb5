package adapter

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
)

// TestLinkConfirmPostedTwice: the first code of a link's enrollment posted twice
// (a double click on Confirm: the browser sends the second form with the cookie the first
// answer had not cleared yet) shows the set-up done, as the first did, not "your session
// has ended" for a factor that was just set up.
func TestLinkConfirmPostedTwice(t *testing.T) {
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

// blockedSender holds its first message until released, and counts what it was given.
type blockedSender struct {
	mu      sync.Mutex
	n       int
	first   chan struct{} // closed when the first message arrives
	second  chan struct{} // closed when a second one does
	release chan struct{}
}

func (*blockedSender) Kind() string                 { return "blocked" }
func (*blockedSender) Serves(delivery.Channel) bool { return true }
func (b *blockedSender) Send(ctx context.Context, _ delivery.Message) error {
	b.mu.Lock()
	b.n++
	n := b.n
	b.mu.Unlock()
	switch n {
	case 1:
		close(b.first)
		<-b.release
	case 2:
		close(b.second)
	}
	return nil
}

// TestEnrollPostedTwiceSendsOneCode: "Continue" clicked twice on the choice page
// for a texted code (the second click while the first waits on the SMS gateway, its
// session not yet saved) sends one code and starts one set-up: the second form waits for
// the first, then finds it pending (SamePending) and shows it.
func TestEnrollPostedTwiceSendsOneCode(t *testing.T) {
	sender := &blockedSender{first: make(chan struct{}), second: make(chan struct{}), release: make(chan struct{})}
	h := smsPageHarness(t, sender)
	p := openLink(t, h)
	waiting := make(chan struct{})
	var once sync.Once
	formWait = func() { once.Do(func() { close(waiting) }) }
	t.Cleanup(func() { formWait = func() {} })

	post := func() (*httptest.ResponseRecorder, chan struct{}) {
		form := url.Values{"type": {"smsotp"}, "destination": {"+15551230123"}, "csrf": {p.csrf}}
		req := httptest.NewRequest("POST", "/self-service/enroll", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: selfServiceCookie, Value: p.cookie})
		rec, done := httptest.NewRecorder(), make(chan struct{})
		go func() { defer close(done); h.srv.Handler().ServeHTTP(rec, req) }()
		return rec, done
	}
	first, firstDone := post()
	testwait.Recv(t, "the first click to reach the gateway", sender.first) // it waits there
	second, secondDone := post()
	select { // the second click: sent a code of its own, or waits for the first
	case <-sender.second:
	case <-waiting:
	case <-time.After(testwait.Limit):
		t.Fatalf("waited %v for the second click to send a code or wait for the first: never", testwait.Limit)
	}
	close(sender.release)
	testwait.Recv(t, "the first click's answer", firstDone)
	testwait.Recv(t, "the second click's answer", secondDone)
	if sender.n != 1 {
		t.Errorf("%d codes sent for a form posted twice, want 1", sender.n)
	}
	if first.Code != http.StatusSeeOther || second.Code != http.StatusSeeOther {
		t.Fatalf("answers %d, %d", first.Code, second.Code)
	}
	p.do(t, "GET", second.Header().Get("Location"), nil)
	if !strings.Contains(p.body, "We sent a code to") {
		t.Errorf("the second click's page:\n%s", p.body)
	}
	_, out := h.admin(t, h.read, "GET", "/admin/v1/users/alice/factors", "")
	if fs, _ := out["factors"].([]any); len(fs) != 1 {
		t.Errorf("factors after a form posted twice: %v, want one", out)
	}
}

// smsPageHarness is the self-service page offering an app and texted codes, sent by sender.
func smsPageHarness(t *testing.T, sender delivery.Sender) *adminHarness {
	t.Helper()
	st := testdb.SQLite(t)
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Capabilities: []string{"totp", "smsotp"},
		Config: map[string]any{"smsotp": map[string]any{"sender": "blocked"},
			"sendLimits": map[string]any{"perUser": []any{}, "perDestination": []any{}}},
		Senders: func(string) (delivery.Sender, error) { return sender, nil }})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{engine},
		Capabilities: map[string][]string{"acme": {"totp", "smsotp"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := &adminHarness{store: st, manager: m}
	if h.write, err = m.CreateToken(context.Background(), "cli", "provisioning", lifecycle.ScopeWrite); err != nil {
		t.Fatal(err)
	}
	h.read = h.write
	ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp", "smsotp"}, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = m; o.SelfService = ss; o.MaxBodyBytes = 64 << 10 })
	return h
}

// TestSignInPostedTwiceSendsOneCode: the sign-in form posted twice (a double click
// on Continue for a texted code) sends one code: the second answers as the first did,
// with the first's sign-in, so the one code that arrives signs in.
func TestSignInPostedTwiceSendsOneCode(t *testing.T) {
	sender := &blockedSender{first: make(chan struct{}), second: make(chan struct{}), release: make(chan struct{})}
	close(sender.release)
	h := smsPageHarness(t, sender)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/factors",
		`{"type":"smsotp","activation":"immediate","params":{"phone":"+15551230123"}}`); code != 201 {
		t.Fatalf("factor: %d %v", code, out)
	}
	p := &pageBrowser{h: h}
	p.do(t, "GET", "/self-service/", nil)
	cookie, csrf := p.cookie, p.csrf
	form := url.Values{"username": {"alice"}, "method": {"smsotp"}}
	p.do(t, "POST", "/self-service/signin", form)
	p.cookie, p.csrf = cookie, csrf // the second click's request: the cookie the first had
	form.Del("csrf")
	if code := p.do(t, "POST", "/self-service/signin", form); code != 200 || !strings.Contains(p.body, `id="code"`) {
		t.Fatalf("the second click: %d %s", code, p.body)
	}
	drainPages(t, h) // the code goes out after the answer (pageSends)
	sender.mu.Lock()
	n := sender.n
	sender.mu.Unlock()
	if n != 1 {
		t.Errorf("%d codes sent for a sign-in form posted twice, want 1", n)
	}
}
