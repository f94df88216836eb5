package adapter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

type jwksRoundTrip func(*http.Request) (*http.Response, error)

func (f jwksRoundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestJWKSRefusesRedirectToPlainHTTP: an https JWKS URL whose server redirects to plain
// http:// (another host) must not be followed: whoever is on that second hop could
// serve keys of their own, and their tokens would admit calls. Before, the default
// client followed the downgrade and the forged token was accepted.
func TestJWKSRefusesRedirectToPlainHTTP(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	forged, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var plain int
	client := &http.Client{Transport: jwksRoundTrip(func(r *http.Request) (*http.Response, error) {
		resp := &http.Response{Request: r, Header: http.Header{}, StatusCode: http.StatusOK}
		switch {
		case r.URL.Scheme == "https" && r.URL.Host == "as.example.com":
			resp.StatusCode = http.StatusFound
			resp.Header.Set("Location", "http://keys.example.net/jwks.json")
			resp.Body = io.NopCloser(strings.NewReader(""))
		case r.URL.Scheme == "http":
			plain++ // the attacker's answer, on the unprotected hop
			b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: forged.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
			resp.Body = io.NopCloser(strings.NewReader(string(b)))
		default:
			resp.StatusCode = http.StatusNotFound
			resp.Body = io.NopCloser(strings.NewReader(""))
		}
		return resp, nil
	})}
	jwks := &JWKS{URL: "https://as.example.com/jwks.json", Issuer: "https://as.example.com", Audience: "emfa",
		Algorithms: []string{"ES256"}, Client: client, Now: clock.Now}
	h := newHarness(t, func(o *Options) { o.OAuth = &OAuth{JWKS: jwks} })
	tok := signToken(t, forged, jose.ES256, "k1", jwt.Claims{Issuer: "https://as.example.com", Audience: jwt.Audience{"emfa"},
		Subject: "verify", Expiry: jwt.NewNumericDate(clock.Now().Add(5 * time.Minute))})
	code, _, _ := h.do(t, "POST", "/v1/providers/acme/test", `{}`, "Authorization", "Bearer "+tok)
	// Refused: the key set cannot be fetched, so the token's key is unknown (503, retry).
	if code != http.StatusServiceUnavailable {
		t.Errorf("a token signed by a key fetched over a redirect to plain http: %d, want 503", code)
	}
	if plain != 0 {
		t.Errorf("the redirect to plain http was followed (%d requests)", plain)
	}
}
