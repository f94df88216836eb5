package adapter

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
)

// limitedPageHarness is newCodePageHarnessAt with the engine's default send
// limits (one code per 30 seconds), so that a resend at once is refused.
func limitedPageHarness(t *testing.T, clk *fakeClock) (*adminHarness, *sentTo) {
	t.Helper()
	st := testdb.SQLite(t)
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sent := &sentTo{}
	caps := []string{"totp", "smsotp", "emailotp"}
	engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Capabilities: caps, Now: clk.Now,
		Config:  map[string]any{"smsotp": map[string]any{"sender": "record"}, "emailotp": map[string]any{"sender": "record"}},
		Senders: func(string) (delivery.Sender, error) { return sent, nil }})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{engine}, Now: clk.Now,
		Capabilities: map[string][]string{"acme": caps}})
	if err != nil {
		t.Fatal(err)
	}
	h := &adminHarness{store: st, manager: m}
	if h.write, err = m.CreateToken(context.Background(), "cli", "provisioning", lifecycle.ScopeWrite); err != nil {
		t.Fatal(err)
	}
	h.read = h.write
	ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: caps, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = m; o.SelfService = ss; o.MaxBodyBytes = 64 << 10 })
	return h, sent
}

// TestResendRefusedRedirects: "Send a new code" refused by the send limits answers
// a redirect to the set-up's page (post/redirect/get), as the set-up's other refusals do:
// a reload of that page posts nothing, so it neither counts another refused send nor
// sends a code once the limit lapsed; the wait it states is read from the session and
// the clock on each reload, never from the address.
func TestResendRefusedRedirects(t *testing.T) {
	clk := &fakeClock{t: time.Now()}
	h, sent := limitedPageHarness(t, clk)
	p := &pageBrowser{h: h}
	p.do(t, "GET", linkOf(t, h, "alice"), nil)
	p.do(t, "GET", "/self-service/enroll", nil)
	if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"smsotp"}, "destination": {"+15550100199"}}); code != 200 {
		t.Fatalf("enroll: %d %s", code, p.body)
	}
	if n := len(sent.all()); n != 1 {
		t.Fatalf("sent %d codes on enrolling, want 1", n)
	}
	status := p.do(t, "POST", "/self-service/resend", url.Values{})
	if p.followed != "/self-service/confirm?notsent=1" || status != http.StatusOK {
		t.Fatalf("a resend refused by the send limits: %d, redirected to %q; want a redirect to /self-service/confirm?notsent=1\n%s", status, p.followed, p.body)
	}
	checkRefusedForm(t, p, status, "resend refused", "No new code was sent: the next one can be sent in 30 seconds.")
	if !strings.Contains(p.body, `id="resend"`) {
		t.Fatalf("resend refused: no new code offered\n%s", p.body)
	}
	checkRefusedForm(t, p, p.do(t, "GET", "/self-service/confirm?notsent=1", nil), "a reload", "No new code was sent: the next one can be sent in 30 seconds.")
	clk.Advance(20 * time.Second)
	checkRefusedForm(t, p, p.do(t, "GET", "/self-service/confirm?notsent=1", nil), "a reload 20 seconds later", "No new code was sent: the next one can be sent in 10 seconds.")
	clk.Advance(20 * time.Second) // the limit has lapsed: a reload still sends nothing
	p.do(t, "GET", "/self-service/confirm?notsent=1", nil)
	if n := len(sent.all()); n != 1 {
		t.Errorf("sent %d codes, want 1: a reload sent one", n)
	}
	if !strings.Contains(p.body, `id="resend"`) {
		t.Fatalf("a reload once the limit lapsed: no new code offered\n%s", p.body)
	}
}
