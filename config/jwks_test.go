package config

import (
	"strings"
	"testing"
)

// TestJWKSURLRefusesPlainHTTP: the keys that admit Verify's calls must come over TLS.
// Over plain http:// to another host, anyone on the path could serve keys of their own
// and sign tokens emfa accepts; http:// is allowed only to a loopback host (a sidecar, a
// test's fake), as twilio's baseURL is.
func TestJWKSURLRefusesPlainHTTP(t *testing.T) {
	for url, ok := range map[string]bool{
		"https://as.example.com/.well-known/jwks.json": true,
		"http://127.0.0.1:8081/jwks":                   true,
		"http://[::1]:8081/jwks":                       true,
		"http://localhost:8081/jwks":                   true,
		"http://as.example.com/.well-known/jwks.json":  false,
		"http://10.0.0.5/jwks":                         false,
		"HTTP://as.example.com/jwks":                   false,
	} {
		c := &Config{Server: Server{Auth: Auth{OAuth: &OAuthAuth{JWKS: &JWKSAuth{URL: url, Issuer: "i", Audience: "a"}}}},
			Storage:   Storage{DSN: "x", EncryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="},
			Providers: []Provider{{Name: "p", CredentialPrefix: "p", Capabilities: []string{"totp"}}}}
		c.applyDefaults()
		got := ""
		if err := c.Validate(); err != nil {
			got = err.Error()
		}
		refused := strings.Contains(got, "server.auth.oauth.jwks.url")
		if refused == ok {
			t.Errorf("%s: refused %v, want %v:\n%s", url, refused, !ok, got)
		}
	}
}
