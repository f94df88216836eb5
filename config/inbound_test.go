package config

import (
	"strings"
	"testing"
)

func TestValidateInbound(t *testing.T) {
	tests := []struct {
		name string
		auth Auth
		tls  *TLS
		want []string // substrings of the errors, none when empty
	}{
		{"oauth alone is enough", Auth{OAuth: &OAuthAuth{}}, nil, nil},
		{"mtls needs a client CA", Auth{MTLS: &MTLSAuth{}}, nil, []string{"server.auth.mtls: needs server.tls"}},
		{"mtls with a client CA", Auth{MTLS: &MTLSAuth{Subjects: []string{"verify"}}}, &TLS{Cert: "c", Key: "k", ClientCA: "ca"}, nil},
		{"tls needs cert and key", Auth{OAuth: &OAuthAuth{}}, &TLS{Cert: "c"}, []string{"needs both cert and key"}},
		{"require needs a CA", Auth{OAuth: &OAuthAuth{}}, &TLS{Cert: "c", Key: "k", RequireClientCert: true}, []string{"requireClientCert: needs"}},
		{"no token endpoint and no jwks", Auth{OAuth: &OAuthAuth{TokenEndpoint: new(false)}}, nil, []string{"no token could ever be accepted"}},
		{"jwks without issuer or audience, HS256", Auth{OAuth: &OAuthAuth{JWKS: &JWKSAuth{URL: "ftp://x", Algorithms: []string{"HS256"}}}}, nil,
			[]string{"jwks.url", "jwks.issuer", "jwks.audience", `jwks.algorithms[0]: not an asymmetric`}},
		{"nothing", Auth{}, nil, []string{"no inbound authentication configured"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{Server: Server{Auth: tc.auth, TLS: tc.tls}, Storage: Storage{DSN: "x", EncryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="},
				Providers: []Provider{{Name: "p", CredentialPrefix: "p", Capabilities: []string{"totp"}}}}
			c.applyDefaults()
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("no %q in:\n%s", w, got)
				}
			}
			if len(tc.want) == 0 && strings.Contains(got, "server.") {
				t.Errorf("unexpected server errors:\n%s", got)
			}
		})
	}
}
