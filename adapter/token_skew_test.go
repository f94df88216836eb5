package adapter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestJWKSTokenFromSlightlyFastServer: an external authorization server whose clock
// runs a few seconds ahead of emfa's issues tokens with iat/nbf a few seconds in emfa's
// future. Verify uses such a token at once; it must be admitted (RFC 7519 §4.1.5 allows a
// small leeway for clock skew), while expiry stays strict.
func TestJWKSTokenFromSlightlyFastServer(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	}))
	defer srv.Close()
	jwks := &JWKS{URL: srv.URL, Issuer: "https://as.example", Audience: "emfa", Algorithms: []string{"ES256"},
		Client: srv.Client(), Now: clock.Now}
	h := newHarness(t, func(o *Options) { o.OAuth = &OAuth{JWKS: jwks} })
	contract := func(c jwt.Claims) int {
		code, _, _ := h.do(t, "POST", "/v1/providers/acme/test", `{}`, "Authorization", "Bearer "+signToken(t, k, jose.ES256, "k1", c))
		return code
	}
	asNow := clock.Now().Add(5 * time.Second) // the authorization server's clock
	fresh := jwt.Claims{Issuer: "https://as.example", Audience: jwt.Audience{"emfa"}, Subject: "verify",
		IssuedAt: jwt.NewNumericDate(asNow), NotBefore: jwt.NewNumericDate(asNow), Expiry: jwt.NewNumericDate(asNow.Add(5 * time.Minute))}
	if code := contract(fresh); code != http.StatusOK {
		t.Errorf("a fresh token from a server 5 s fast: %d, want 200", code)
	}
	far := fresh
	far.IssuedAt, far.NotBefore = jwt.NewNumericDate(clock.Now().Add(time.Hour)), jwt.NewNumericDate(clock.Now().Add(time.Hour))
	far.Expiry = jwt.NewNumericDate(clock.Now().Add(2 * time.Hour))
	if code := contract(far); code != http.StatusUnauthorized {
		t.Errorf("a token valid only from an hour on: %d, want 401", code)
	}
	expired := fresh
	expired.IssuedAt, expired.NotBefore = nil, nil
	expired.Expiry = jwt.NewNumericDate(clock.Now().Add(-time.Second))
	if code := contract(expired); code != http.StatusUnauthorized {
		t.Errorf("a token expired a second ago: %d, want 401 (no leeway on expiry)", code)
	}
}

// TestOwnTokenOnReplicaSlightlyBehind: replicas share the token key; a token one
// replica issued (iat, nbf: its clock, to the second) reaches another whose clock is two
// seconds behind, and must be admitted there too.
func TestOwnTokenOnReplicaSlightlyBehind(t *testing.T) {
	h := newOAuthHarness(t)
	code, out := h.token(t, url.Values{"grant_type": {"client_credentials"}}, h.id, h.secret)
	if code != http.StatusOK {
		t.Fatalf("token: %d %v", code, out)
	}
	h.clock.Advance(-2 * time.Second)
	if code, _ := h.contract(t, out["access_token"].(string)); code != http.StatusOK {
		t.Errorf("a token issued by a replica 2 s ahead: %d, want 200", code)
	}
}
