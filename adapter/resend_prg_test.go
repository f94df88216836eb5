package adapter

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// limitedPageHarness is newCodePageHarnessAt with the engine's default send
// limits (one code per 30 seconds), so that a resend at once is refused.
func limitedPageHarness(t *testing.T, clk *fakeClock) (*adminHarness, *sentTo) {
	t.Helper()
	return newCodePage(t, codePage{clk: clk, limits: true})
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
