package adapter

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestResendWhileTheFirstSends: "Send a new code" while the mail server still
// holds the first code (both sends under way at once, after their answers): each is
// recorded once, as sent; the new code signs in, and the first, arriving with it, is
// withdrawn by the newer one and refused.
func TestResendWhileTheFirstSends(t *testing.T) {
	mail := heldMail(t)
	h := heldMailPage(t, mail)
	p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	p.get("/self-service/")
	p.startSignIn("alice", builtin.TypeEmailOTP)
	first := testwait.Recv(t, "the first code at the mail server", mail.Held()) // held, not taken
	a := p.send(httptestPost("/self-service/signin/resend", url.Values{"csrf": {p.csrf}}))
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/self-service/signin/code?sent=1" {
		t.Fatalf("the new code while the first is held: %d %q", a.status, a.header.Get("Location"))
	}
	second := testwait.Recv(t, "the new code at the mail server", mail.Held())
	mail.ReleaseAll()
	if err := h.srv.DrainPage(context.Background()); err != nil {
		t.Fatal(err)
	}
	codes := mailedCodes(first, second)
	if len(codes) != 2 || len(mail.Messages()) != 2 {
		t.Fatalf("codes %v, %d messages taken: want alice's two", codes, len(mail.Messages()))
	}
	evs, err := h.store.ListAudit(context.Background(), store.AuditFilter{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var starts []string
	for _, e := range evs {
		if strings.HasSuffix(e.Resource, lifecycle.ActionSelfServiceSignInStart) {
			starts = append(starts, e.Outcome)
		}
	}
	if len(starts) != 2 || starts[0] != "PENDING" || starts[1] != "PENDING" {
		t.Errorf("sign-in start records %q, want two PENDING (each send once, as sent)", starts)
	}
	p.get("/self-service/signin/code?sent=1")
	if a := p.post("/self-service/signin/code", url.Values{"code": {codes[0]}}); a.status == http.StatusSeeOther && a.header.Get("Location") == "/self-service/" {
		t.Fatalf("the first code signed in after a new one was sent")
	}
	p.get("/self-service/signin/code?sent=1")
	if a := p.post("/self-service/signin/code", url.Values{"code": {codes[1]}}); a.status != http.StatusSeeOther || a.header.Get("Location") != "/self-service/" {
		t.Errorf("the new code: %d %q", a.status, a.header.Get("Location"))
	}
}
