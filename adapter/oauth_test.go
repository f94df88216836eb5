package adapter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/emfa/emfa/store"
)

type oauthHarness struct {
	*adminHarness
	clock          *fakeClock
	id, secret     string
	revokedID, rev string
}

func newOAuthHarness(t *testing.T) *oauthHarness {
	t.Helper()
	h := &oauthHarness{clock: &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	h.adminHarness = newAdminHarness(t)
	clients := h.store.(store.OAuthClients)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"verify", "old"} {
		c, secret, err := h.manager.CreateClient(t.Context(), "test", name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "verify" {
			h.id, h.secret = c.ID, secret
		} else {
			h.revokedID, h.rev = c.ID, secret
		}
	}
	if err := h.manager.RevokeClient(t.Context(), "test", "old"); err != nil {
		t.Fatal(err)
	}
	// The contract harness again, now with OAuth, on the same admin manager.
	h.harness = newHarness(t, func(o *Options) {
		o.Admin = h.manager
		o.OAuth = &OAuth{Clients: clients, Key: key, Lifetime: 10 * time.Minute, Now: h.clock.Now}
	})
	return h
}

// token asks the token endpoint; form is url-encoded, basic is "id:secret" or "".
func (h *oauthHarness) token(t *testing.T, form url.Values, basicID, basicSecret string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("token: %d, not JSON: %q", rec.Code, rec.Body.String())
	}
	return rec.Code, out
}

func (h *oauthHarness) contract(t *testing.T, token string) (int, http.Header) {
	t.Helper()
	code, _, hdr := h.do(t, "POST", "/v1/providers/acme/test", `{}`, "Authorization", "Bearer "+token)
	return code, hdr
}

func TestOAuthOwnTokens(t *testing.T) {
	h := newOAuthHarness(t)
	grant := url.Values{"grant_type": {"client_credentials"}}

	code, out := h.token(t, grant, h.id, h.secret)
	if code != 200 || out["token_type"] != "Bearer" || out["expires_in"] != 600.0 {
		t.Fatalf("client_secret_basic: %d %v", code, out)
	}
	basicToken := out["access_token"].(string)
	if code, _ := h.contract(t, basicToken); code != 200 {
		t.Errorf("contract with a client_secret_basic token: %d", code)
	}
	post := url.Values{"grant_type": {"client_credentials"}, "client_id": {h.id}, "client_secret": {h.secret}}
	code, out = h.token(t, post, "", "")
	if code != 200 {
		t.Fatalf("client_secret_post: %d %v", code, out)
	}
	if code, _ := h.contract(t, out["access_token"].(string)); code != 200 {
		t.Errorf("contract with a client_secret_post token: %d", code)
	}

	refused := []struct {
		name   string
		form   url.Values
		id, pw string
		code   int
		err    string
	}{
		{"wrong secret", grant, h.id, h.secret + "x", 401, "invalid_client"},
		{"unknown client", grant, "emfa-nobody", h.secret, 401, "invalid_client"},
		{"revoked client", grant, h.revokedID, h.rev, 401, "invalid_client"},
		{"no credentials", grant, "", "", 401, "invalid_client"},
		{"password grant", url.Values{"grant_type": {"password"}}, h.id, h.secret, 400, "unsupported_grant_type"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			code, out := h.token(t, tc.form, tc.id, tc.pw)
			if code != tc.code || out["error"] != tc.err || out["access_token"] != nil {
				t.Errorf("got %d %v, want %d %s", code, out, tc.code, tc.err)
			}
		})
	}

	// A body that is not form-encoded is said to be that, whatever it asks for: a JSON
	// client_credentials request is not an unsupported grant type.
	for name, ct := range map[string]string{"JSON": "application/json", "no content type": ""} {
		req := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader(`{"grant_type":"client_credentials"}`))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.SetBasicAuth(h.id, h.secret)
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		if rec.Code != 400 || out["error"] != "invalid_request" || !strings.Contains(fmt.Sprint(out["error_description"]), "application/x-www-form-urlencoded") {
			t.Errorf("%s body: %d %v, want 400 invalid_request naming application/x-www-form-urlencoded", name, rec.Code, out)
		}
	}
	// A form without grant_type misses a parameter: invalid_request, not an unsupported one.
	if code, out := h.token(t, url.Values{}, h.id, h.secret); code != 400 || out["error"] != "invalid_request" || !strings.Contains(fmt.Sprint(out["error_description"]), "grant_type") {
		t.Errorf("no grant_type: %d %v, want 400 invalid_request naming grant_type", code, out)
	}

	// Tokens that must not open the contract, each answered 401 with a Bearer challenge.
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := signToken(t, otherKey, jose.ES256, "", jwt.Claims{Issuer: tokenIssuer, Audience: jwt.Audience{tokenAudience},
		Expiry: jwt.NewNumericDate(h.clock.Now().Add(time.Hour))})
	for name, tok := range map[string]string{
		"garbage":         "not-a-token",
		"another key":     forged,
		"admin API token": h.write,
		"tampered":        basicToken[:len(basicToken)-4] + "AAAA",
	} {
		if code, hdr := h.contract(t, tok); code != 401 || !strings.Contains(strings.Join(hdr.Values("WWW-Authenticate"), ","), "Bearer") {
			t.Errorf("%s: %d %v, want 401 with a Bearer challenge", name, code, hdr.Values("WWW-Authenticate"))
		}
	}
	// A contract token never opens the admin API.
	if code, _ := h.admin(t, basicToken, "GET", "/admin/v1/users", ""); code != 401 {
		t.Errorf("admin API with a contract token: %d, want 401", code)
	}
	// Expired: 401, so that Verify drops its cached token and fetches a new one.
	h.clock.Advance(10*time.Minute + time.Second)
	if code, _ := h.contract(t, basicToken); code != 401 {
		t.Errorf("expired token: %d, want 401", code)
	}
	if !strings.Contains(h.logs.String(), "token expired") {
		t.Error("the log does not say the token expired")
	}
}

func signToken(t *testing.T, key any, alg jose.SignatureAlgorithm, kid string, claims jwt.Claims) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestOAuthJWKS checks an external authorization server's tokens, with a loopback JWKS
// server whose keys rotate.
func TestOAuthJWKS(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var mu sync.Mutex
	published := []jose.JSONWebKey{{Key: k1.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: published})
	}))
	defer jwksSrv.Close()
	jwks := &JWKS{URL: jwksSrv.URL, Issuer: "https://as.example", Audience: "emfa", Algorithms: []string{"RS256", "ES256"},
		Client: jwksSrv.Client(), Now: clock.Now}
	h := newHarness(t, func(o *Options) { o.OAuth = &OAuth{JWKS: jwks} })
	contract := func(tok string) int {
		code, _, _ := h.do(t, "POST", "/v1/providers/acme/test", `{}`, "Authorization", "Bearer "+tok)
		return code
	}
	good := func() jwt.Claims {
		return jwt.Claims{Issuer: "https://as.example", Audience: jwt.Audience{"emfa"}, Subject: "verify",
			Expiry: jwt.NewNumericDate(clock.Now().Add(5 * time.Minute))}
	}

	if code := contract(signToken(t, k1, jose.RS256, "k1", good())); code != 200 {
		t.Fatalf("k1 token: %d", code)
	}
	for name, tok := range map[string]string{
		"wrong issuer":   signToken(t, k1, jose.RS256, "k1", func() jwt.Claims { c := good(); c.Issuer = "https://other"; return c }()),
		"wrong audience": signToken(t, k1, jose.RS256, "k1", func() jwt.Claims { c := good(); c.Audience = jwt.Audience{"x"}; return c }()),
		"HS256":          signToken(t, []byte("0123456789abcdef0123456789abcdef"), jose.HS256, "k1", good()),
		"RS512":          signToken(t, k1, jose.RS512, "k1", good()),
	} {
		if code := contract(tok); code != 401 {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	if n := jwks.Fetches(); n != 1 {
		t.Errorf("fetches after known-kid tokens: %d, want 1", n)
	}

	// Later the server rotates to k2: the first token with the new kid refetches at once,
	// though the cached set is not an hour old.
	clock.Advance(2 * time.Minute)
	mu.Lock()
	published = []jose.JSONWebKey{{Key: k2.Public(), KeyID: "k2", Algorithm: "ES256", Use: "sig"}}
	mu.Unlock()
	if code := contract(signToken(t, k2, jose.ES256, "k2", good())); code != 200 {
		t.Errorf("k2 token after rotation: %d", code)
	}
	// An unknown kid right after does not fetch again (bounded), and is refused.
	if code := contract(signToken(t, k2, jose.ES256, "k3", good())); code != 401 {
		t.Errorf("unknown kid: %d, want 401", code)
	}
	if n := jwks.Fetches(); n != 2 {
		t.Errorf("fetches after rotation and an unknown kid: %d, want 2", n)
	}
	clock.Advance(time.Minute)
	contract(signToken(t, k2, jose.ES256, "k3", good()))
	if n := jwks.Fetches(); n != 3 {
		t.Errorf("fetches a minute later: %d, want 3", n)
	}
	tok := signToken(t, k2, jose.ES256, "k2", good())
	clock.Advance(5*time.Minute + time.Second)
	if code := contract(tok); code != 401 {
		t.Errorf("expired token: %d, want 401", code)
	}
}

// TestOAuthExpiredTokenNotAGuess is the lock-out a busy Verify met: its cached token
// expires with more than 10 calls in flight. A token emfa signed that has merely expired
// is no guess: each call answers 401 invalid_token saying so, the address's budget is not
// spent, and the fresh token Verify asks for at once is issued and admitted.
func TestOAuthExpiredTokenNotAGuess(t *testing.T) {
	h := newOAuthHarness(t)
	h.srv.throttle.now = h.clock.Now
	grant := url.Values{"grant_type": {"client_credentials"}}
	code, out := h.token(t, grant, h.id, h.secret)
	if code != 200 {
		t.Fatalf("token: %d %v", code, out)
	}
	old := out["access_token"].(string)
	h.clock.Advance(10*time.Minute + 5*time.Second)
	for i := range 3 * throttleBurst {
		code, hdr := h.contract(t, old)
		challenge := strings.Join(hdr.Values("WWW-Authenticate"), ", ")
		if code != 401 || !strings.Contains(challenge, `error="invalid_token"`) || !strings.Contains(challenge, "expired") {
			t.Fatalf("call %d with the expired token: %d %q, want 401 invalid_token saying it expired", i, code, challenge)
		}
	}
	code, out = h.token(t, grant, h.id, h.secret)
	if code != 200 {
		t.Fatalf("a new token after the expired calls: %d %v", code, out)
	}
	if code, _ := h.contract(t, out["access_token"].(string)); code != 200 {
		t.Errorf("the new token: %d, want 200", code)
	}
	// A token emfa did not sign is a guess, expired or not.
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := signToken(t, otherKey, jose.ES256, "", jwt.Claims{Issuer: tokenIssuer, Audience: jwt.Audience{tokenAudience},
		Expiry: jwt.NewNumericDate(h.clock.Now().Add(-time.Minute))})
	codes := map[int]int{}
	for range throttleBurst + 1 {
		code, _ := h.contract(t, forged)
		codes[code]++
	}
	if codes[401] != throttleBurst || codes[429] != 1 {
		t.Errorf("forged expired tokens: %v, want %d × 401 then 429", codes, throttleBurst)
	}
}

// TestOAuthTokenEndpointThrottle: the token endpoint shares the address's budget; a wrong
// secret past it is 429, but the right one — 32 random characters emfa made, never
// guessable — still gets a token, so a guesser on Verify's address cannot keep Verify
// from renewing its token.
func TestOAuthTokenEndpointThrottle(t *testing.T) {
	h := newOAuthHarness(t)
	h.srv.throttle.now = h.clock.Now
	grant := url.Values{"grant_type": {"client_credentials"}}
	codes := map[int]int{}
	for i := range throttleBurst + 2 {
		code, _ := h.token(t, grant, h.id, fmt.Sprintf("wrong-%d", i))
		codes[code]++
	}
	if codes[401] != throttleBurst || codes[429] != 2 {
		t.Fatalf("12 wrong secrets: %v, want %d × 401 and 2 × 429", codes, throttleBurst)
	}
	code, out := h.token(t, grant, h.id, h.secret)
	if code != 200 {
		t.Fatalf("the right secret from the throttled address: %d %v, want a token", code, out)
	}
	if code, _ := h.contract(t, out["access_token"].(string)); code != 200 {
		t.Errorf("its token: %d, want 200", code)
	}
	for name, tc := range map[string][2]string{
		"wrong secret":   {h.id, "wrong-x"},
		"unknown client": {"emfa-nobody", h.secret},
		"revoked client": {h.revokedID, h.rev},
	} {
		if code, out := h.token(t, grant, tc[0], tc[1]); code != http.StatusTooManyRequests {
			t.Errorf("%s from the throttled address: %d %v, want 429", name, code, out)
		}
	}
	// A malformed request says what is wrong with it, throttled or not: it is no guess.
	if code, out := h.token(t, url.Values{"grant_type": {"password"}}, h.id, "wrong-y"); code != 400 || out["error"] != "unsupported_grant_type" {
		t.Errorf("a password grant from the throttled address: %d %v, want 400 unsupported_grant_type", code, out)
	}
	// Weak contract secrets allowed do not make a client secret weak: still admitted.
	h.srv.auth.throttleFirst = true
	if code, out := h.token(t, grant, h.id, h.secret); code != 200 {
		t.Errorf("the right secret, weak contract secrets allowed: %d %v, want a token", code, out)
	}
}
