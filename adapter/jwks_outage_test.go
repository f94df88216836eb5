package adapter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestOutageAnswersLogNoErrors: while the authorization server's key set cannot
// be fetched, a token whose key is not cached is answered 503, and not counted as a guess;
// anyone can send one — a JWT of their own key, under any kid. Each was logged at ERROR
// ("server fault", as a failing store is), once per call, unthrottled: an unauthenticated
// caller could fill the error log, and page whoever watches it, at line rate. The outage is
// logged once (the JWKS's warning); each call it refuses is a warning of its own, as any
// refused authentication is, with the caller's address. A header secret sent wrong beside
// such a token is still a guess (401), never a 503.
func TestOutageAnswersLogNoErrors(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	j := &JWKS{URL: srv.URL, Issuer: "https://as.example", Audience: "emfa", Algorithms: []string{"ES256"},
		Client: srv.Client(), Now: clock.Now}
	h := newHarness(t, func(o *Options) { o.OAuth = &OAuth{JWKS: j} })
	mine, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for i := range 5 {
		tok := signToken(t, mine, jose.ES256, "kid-"+string(rune('a'+i)), jwt.Claims{Issuer: "https://as.example",
			Audience: jwt.Audience{"emfa"}, Expiry: jwt.NewNumericDate(clock.Now().Add(time.Hour))})
		if code, body, _ := h.do(t, "POST", "/v1/providers/acme/test", `{}`, "Authorization", "Bearer "+tok); code != http.StatusServiceUnavailable {
			t.Fatalf("call %d: %d %s, want 503", i, code, body)
		}
		refreshed(t, j)
	}
	logs := h.logs.String()
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("tokens anyone can send logged errors:\n%s", logs)
	}
	if n := strings.Count(logs, "inbound authentication unavailable"); n != 5 {
		t.Errorf("%d warnings of a refused call, want 5:\n%s", n, logs)
	}
	tok := signToken(t, mine, jose.ES256, "kid-z", jwt.Claims{Issuer: "https://as.example",
		Audience: jwt.Audience{"emfa"}, Expiry: jwt.NewNumericDate(clock.Now().Add(time.Hour))})
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/test", `{}`, "Authorization", "Bearer "+tok, "X-Api-Key", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("a wrong header secret beside a token of an unknown key: %d %s, want 401", code, body)
	}
}
