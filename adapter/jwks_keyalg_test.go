package adapter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestJWKSKeyOfItsAlg: a key that names its algorithm (the JWK's "alg", RFC 7517
// §4.4) checks only tokens of that algorithm (RFC 8725 §3.1: one key, one algorithm).
// Before, only its type was looked at: an RSA key published for RS512 checked RS256 and
// PS256 tokens as well, and an RSA key saying "ES256" checked RS256 ones. A key without
// "alg" still checks any algorithm of its type; PS256 by an RSA key is such a one. A
// token without kid and two RSA keys is still refused (which one cannot be told).
func TestJWKSKeyOfItsAlg(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rk2, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name string
		keys []jose.JSONWebKey
		sign any
		alg  jose.SignatureAlgorithm
		kid  string
		ok   bool
	}{
		{"RS256 by a key for RS256", []jose.JSONWebKey{{Key: rk.Public(), KeyID: "r", Algorithm: "RS256"}}, rk, jose.RS256, "r", true},
		{"RS256 by a key for RS512", []jose.JSONWebKey{{Key: rk.Public(), KeyID: "r", Algorithm: "RS512"}}, rk, jose.RS256, "r", false},
		{"PS256 by a key for RS256", []jose.JSONWebKey{{Key: rk.Public(), KeyID: "r", Algorithm: "RS256"}}, rk, jose.PS256, "r", false},
		{"RS256 by an RSA key saying ES256", []jose.JSONWebKey{{Key: rk.Public(), KeyID: "r", Algorithm: "ES256"}}, rk, jose.RS256, "r", false},
		{"PS256 by an RSA key without alg", []jose.JSONWebKey{{Key: rk.Public(), KeyID: "r"}}, rk, jose.PS256, "r", true},
		{"RS256 whose kid names only an EC key", []jose.JSONWebKey{{Key: ek.Public(), KeyID: "e"}, {Key: rk.Public(), KeyID: "r"}}, rk, jose.RS256, "e", false},
		{"RS256 without kid, two RSA keys", []jose.JSONWebKey{{Key: rk2.Public(), KeyID: "r2"}, {Key: rk.Public(), KeyID: "r"}}, rk, jose.RS256, "", false},
		{"RS256 without kid, the only RSA key for RS256", []jose.JSONWebKey{{Key: rk2.Public(), KeyID: "r2", Algorithm: "PS256"}, {Key: rk.Public(), KeyID: "r", Algorithm: "RS256"}}, rk, jose.RS256, "", true},
	} {
		set, _ := json.Marshal(jose.JSONWebKeySet{Keys: tc.keys})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(set) }))
		j := &JWKS{URL: srv.URL, Issuer: "https://as.example", Audience: "emfa", Algorithms: []string{"ES256", "RS256", "PS256"},
			Client: srv.Client(), Now: clock.Now}
		tok := signToken(t, tc.sign, tc.alg, tc.kid, jwt.Claims{Issuer: "https://as.example", Audience: jwt.Audience{"emfa"},
			Expiry: jwt.NewNumericDate(clock.Now().Add(5 * time.Minute))})
		if err := j.verify(context.Background(), tok); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want admitted %v", tc.name, err, tc.ok)
		}
		srv.Close()
	}
}
