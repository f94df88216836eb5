package adapter

import (
	"net/http"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin/delivery"
)

// TestReplayedScopeChallenge: a helpdesk token's POST /activation-link with
// deliver:false is refused 403 insufficient_scope with a WWW-Authenticate challenge
// naming the scope it needs (RFC 6750 §3). With an Idempotency-Key the refusal is kept,
// but its replay came without the challenge, keptHeaders leaving it out: the same request
// answered differently on a retry, and a client reading the challenge for the scope to
// ask for found none.
func TestReplayedScopeChallenge(t *testing.T) {
	h := newAdminHarness(t)
	srv := smtpfake.Start(t, smtpfake.Options{TLS: smtpfake.TLSNone})
	mailer, err := delivery.NewSMTP(delivery.SMTPOptions{Host: srv.Host(), Port: srv.Port(), TLS: delivery.TLSNone,
		From: "emfa <mfa@example.com>", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := h.manager.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com", Mailer: mailer,
		Subject: "Your sign-in setup", Text: "Open {{.Link}} by {{.Expires}}."})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	h.harness = newHarness(t, func(o *Options) {
		o.Admin, o.SelfService, o.MaxBodyBytes = h.manager, ss, 64<<10
		o.Idempotency = &provider.Idempotency{Store: h.store, TTL: time.Hour, Now: clock.Now, Poll: time.Millisecond, Wait: 50 * time.Millisecond}
		o.AnswerKeys = idemKeys
	})
	desk, err := h.manager.CreateToken(t.Context(), "cli", "desk", lifecycle.ScopeHelpdesk)
	if err != nil {
		t.Fatal(err)
	}
	if code, out := h.admin(t, h.write, "POST", AdminPrefix+"/users", `{"name":"alice","email":"alice@example.com"}`); code != http.StatusCreated {
		t.Fatalf("create alice: %d %v", code, out)
	}
	const want = `Bearer realm="emfa admin", error="insufficient_scope", scope="write"`
	for _, attempt := range []string{"first", "replay"} {
		code, text, hdr := h.do(t, "POST", AdminPrefix+"/users/alice/activation-link", `{"deliver":false}`,
			"Authorization", "Bearer "+desk, HeaderIdempotencyKey, "link-1")
		if code != http.StatusForbidden || hdr.Get("WWW-Authenticate") != want {
			t.Errorf("%s: %d %s, WWW-Authenticate %q, want 403 with %q", attempt, code, text, hdr.Get("WWW-Authenticate"), want)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages after the refusals", n)
	}
}
