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

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// countingSender counts the codes sent, and runs hook, once, inside the first send.
type countingSender struct {
	mu    sync.Mutex
	n     int
	codes []string
	hook  func()
}

func (*countingSender) Kind() string                 { return "counting" }
func (*countingSender) Serves(delivery.Channel) bool { return true }
func (c *countingSender) Send(_ context.Context, m delivery.Message) error {
	c.mu.Lock()
	c.n++
	c.codes = append(c.codes, m.Code)
	hook := c.hook
	c.hook = nil
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	return nil
}

// replicaHarness is one replica's page (and admin API) on st: the same keys as every other.
func replicaHarness(t *testing.T, st store.Store, name string, sender delivery.Sender) *adminHarness {
	t.Helper()
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Capabilities: []string{"totp", "smsotp"},
		Config: map[string]any{"smsotp": map[string]any{"sender": "counting"},
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
	if h.write, err = m.CreateToken(context.Background(), "cli", "provisioning-"+name, lifecycle.ScopeWrite); err != nil {
		t.Fatal(err)
	}
	h.read = h.write
	ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp", "smsotp"}, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com", FormKey: bytes.Repeat([]byte{8}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = m; o.SelfService = ss; o.MaxBodyBytes = 64 << 10 })
	return h
}

// postForm posts form to path on h with cookie, as a browser's click does.
func postForm(h *adminHarness, path, cookie string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: selfServiceCookie, Value: cookie})
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// pollingStore is a store that reports its first look at a running idempotency record
// (an attempt waiting for another's answer): how a test knows, without timing, that the
// second of two posts is waiting for the first.
type pollingStore struct {
	store.Store
	store.SelfService
	once   sync.Once
	polled chan struct{}
}

func (s *pollingStore) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.Store.SpendLink(ctx, hash, now)
}

func (s *pollingStore) GetIdempotency(ctx context.Context, key store.IdempotencyKey) (store.IdempotencyRecord, error) {
	s.once.Do(func() { close(s.polled) })
	return s.Store.GetIdempotency(ctx, key)
}

// postedTwice posts form to a, and, while a waits on the SMS gateway, to b: the second
// post waits for the first's answer (b polls its record), or, if it does not wait,
// finishes on its own. It returns both answers.
func postedTwice(t *testing.T, a, b *adminHarness, polled <-chan struct{}, sender *countingSender, cookie string, form url.Values) (first, second *httptest.ResponseRecorder) {
	t.Helper()
	done := make(chan struct{})
	start := func() {
		go func() { defer close(done); second = postForm(b, "/self-service/signin", cookie, form) }()
		select {
		case <-polled:
		case <-done:
		}
	}
	sender.mu.Lock()
	sender.hook = start
	sender.mu.Unlock()
	first = postForm(a, "/self-service/signin", cookie, form)
	sender.mu.Lock()
	if sender.hook != nil { // nothing was sent (no such user): the second post comes now
		sender.hook = nil
		sender.mu.Unlock()
		start()
	} else {
		sender.mu.Unlock()
	}
	testwait.Recv(t, "the second post's answer", done)
	drainPages(t, a, b) // the codes go out after the answers (pageSends)
	if first.Code != http.StatusSeeOther || second.Code != http.StatusSeeOther {
		t.Fatalf("answers %d, %d", first.Code, second.Code)
	}
	return first, second
}

// drainPages waits until the sends of hs' pages (pageSends) are done.
func drainPages(t *testing.T, hs ...*adminHarness) {
	t.Helper()
	for _, h := range hs {
		if err := h.srv.DrainPage(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func signInCookie(rec *httptest.ResponseRecorder) string {
	for _, c := range rec.Result().Cookies() {
		if c.Name == selfServiceCookie {
			return c.Value
		}
	}
	return ""
}

// TestSignInPostedTwiceToTwoReplicas: the sign-in form posted twice (a double click
// on Continue for a texted code), the two posts sent by a load balancer to two replicas on
// one database, the second while the first waits on the SMS gateway. The second waits for
// the first's sign-in and answers it: one code goes out, and the page the browser shows
// (the second's) takes it.
func TestSignInPostedTwiceToTwoReplicas(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		sender := &countingSender{}
		spy := &pollingStore{Store: st, SelfService: st.(store.SelfService), polled: make(chan struct{})}
		a, b := replicaHarness(t, st, "a", sender), replicaHarness(t, spy, "b", sender)
		if code, out := a.admin(t, a.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
			t.Fatalf("create: %d %v", code, out)
		}
		if code, out := a.admin(t, a.write, "POST", "/admin/v1/users/alice/factors",
			`{"type":"smsotp","activation":"immediate","params":{"phone":"+15551230123"}}`); code != 201 {
			t.Fatalf("factor: %d %v", code, out)
		}
		p := &pageBrowser{h: a}
		p.do(t, "GET", "/self-service/", nil)
		form := url.Values{"username": {"alice"}, "method": {"smsotp"}, "csrf": {p.csrf}}
		first, second := postedTwice(t, a, b, spy.polled, sender, p.cookie, form)
		if sender.n != 1 {
			t.Fatalf("%d codes sent for a sign-in form posted twice, to two replicas; want 1", sender.n)
		}
		if signInCookie(second) != signInCookie(first) || second.Header().Get("Location") != first.Header().Get("Location") {
			t.Errorf("the second post did not answer the first's sign-in: %v, %v", second.Header(), first.Header())
		}
		// The page the browser shows (the second answer's) signs in with the one code.
		signIn := func(rec *httptest.ResponseRecorder, code string) string {
			q := &pageBrowser{h: b, cookie: signInCookie(rec)}
			q.do(t, "GET", "/self-service/signin/code", nil)
			status := q.do(t, "POST", "/self-service/signin/code", url.Values{"code": {code}})
			if loc := q.header.Get("Location"); status == http.StatusSeeOther {
				q.do(t, "GET", loc, nil)
			}
			return q.body
		}
		if got := signIn(second, sender.codes[0]); !strings.Contains(got, `action="/self-service/signout"`) {
			t.Errorf("the code did not sign in on the second answer's page:\n%s", got)
		}
	})
}

// TestSetUpPostedTwiceToTwoReplicas: "Continue" clicked twice on the choice page
// for a texted code, the two posts sent to two replicas on one database, the second while
// the first waits on the SMS gateway: one code, one factor, and the second's page (the
// one the browser shows) says where the code went; its code activates the factor.
func TestSetUpPostedTwiceToTwoReplicas(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		sender := &countingSender{}
		a, b := replicaHarness(t, st, "a", sender), replicaHarness(t, st, "b", sender)
		p := openLink(t, a)
		form := url.Values{"type": {"smsotp"}, "destination": {"+15551230123"}, "csrf": {p.csrf}}
		var second *httptest.ResponseRecorder
		sender.hook = func() { second = postForm(b, "/self-service/enroll", p.cookie, form) }
		first := postForm(a, "/self-service/enroll", p.cookie, form)
		if first.Code != http.StatusSeeOther || second == nil || second.Code != http.StatusSeeOther {
			t.Fatalf("answers %d %s, %v", first.Code, first.Body, second)
		}
		if sender.n != 1 {
			t.Errorf("%d codes sent for a set-up posted twice, to two replicas; want 1", sender.n)
		}
		_, out := a.admin(t, a.read, "GET", "/admin/v1/users/alice/factors", "")
		if fs, _ := out["factors"].([]any); len(fs) != 1 {
			t.Errorf("factors after a set-up posted twice: %v, want one", out)
		}
		p.h = b
		p.do(t, "GET", second.Header().Get("Location"), nil)
		if !strings.Contains(p.body, "We sent a code to") {
			t.Fatalf("the second click's page:\n%s", p.body)
		}
		p.do(t, "POST", "/self-service/confirm", url.Values{"code": {sender.codes[0]}})
		_, out = a.admin(t, a.read, "GET", "/admin/v1/users/alice/factors", "")
		if fs, _ := out["factors"].([]any); len(fs) != 1 || fs[0].(map[string]any)["state"] != "active" {
			t.Errorf("after the code: %v, want one active factor", out)
		}
	})
}

// TestSignInPostedTwiceToTwoReplicasNoSuchUser: the same double click for a user
// name no one has, by text and by push, answers as it does for a user who exists: the
// second replica answers the first's sign-in (its cookie), and starts none of its own,
// which would count the name's budget (a push) once more than for a real user's and so
// tell who exists.
func TestSignInPostedTwiceToTwoReplicasNoSuchUser(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		sender := &countingSender{}
		spy := &pollingStore{Store: st, SelfService: st.(store.SelfService), polled: make(chan struct{})}
		a, b := replicaHarness(t, st, "a", sender), replicaHarness(t, spy, "b", sender)
		for _, method := range []string{"smsotp", "push"} {
			p := &pageBrowser{h: a}
			p.do(t, "GET", "/self-service/", nil)
			form := url.Values{"username": {"nobody"}, "method": {method}, "csrf": {p.csrf}}
			first, second := postedTwice(t, a, b, spy.polled, sender, p.cookie, form)
			if signInCookie(first) == "" || signInCookie(second) != signInCookie(first) {
				t.Errorf("%s: the second post did not answer the first's sign-in", method)
			}
		}
		if sender.n != 0 {
			t.Errorf("%d codes sent for no such user", sender.n)
		}
	})
}

// TestSignInTwoBrowsersTwoReplicas: two browsers (two forms) signing in as the same
// user by text at once, on two replicas: each starts its own sign-in, as ever; one's form
// never answers the other's sign-in.
func TestSignInTwoBrowsersTwoReplicas(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		sender := &countingSender{}
		a, b := replicaHarness(t, st, "a", sender), replicaHarness(t, st, "b", sender)
		if code, out := a.admin(t, a.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
			t.Fatalf("create: %d %v", code, out)
		}
		if code, out := a.admin(t, a.write, "POST", "/admin/v1/users/alice/factors",
			`{"type":"smsotp","activation":"immediate","params":{"phone":"+15551230123"}}`); code != 201 {
			t.Fatalf("factor: %d %v", code, out)
		}
		var cookies []string
		for _, h := range []*adminHarness{a, b} {
			p := &pageBrowser{h: h}
			p.do(t, "GET", "/self-service/", nil)
			rec := postForm(h, "/self-service/signin", p.cookie, url.Values{"username": {"Alice"}, "method": {"smsotp"}, "csrf": {p.csrf}})
			cookies = append(cookies, signInCookie(rec))
		}
		drainPages(t, a, b) // the codes go out after the answers (pageSends)
		if sender.n != 2 || cookies[0] == "" || cookies[0] == cookies[1] {
			t.Errorf("two browsers: %d codes, the second's sign-in the first's: %v; want 2 codes, two sign-ins", sender.n, cookies[0] == cookies[1])
		}
	})
}
