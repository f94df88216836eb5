package config

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OAuthAuth admits a bearer token (Verify's "oauth" webhook authentication): one emfa
// issued itself at POST /oauth2/token to a client of `emfa clients create`, or, with JWKS
// set, one from an external authorization server.
type OAuthAuth struct {
	// TokenEndpoint serves POST /oauth2/token; unset means on.
	TokenEndpoint *bool `mapstructure:"tokenEndpoint"`
	// TokenLifetime is the expires_in of emfa's tokens: default 15m, 1m to 24h.
	TokenLifetime time.Duration `mapstructure:"tokenLifetime"`
	// SigningKey is a PEM EC P-256 private key that signs emfa's tokens, shared by every
	// replica; or SigningKeyFile, a file that keeps one (generated when missing). Neither:
	// $EMFA_DATA_DIR/oauth-signing-key.pem (default ./emfa-data).
	SigningKey     Secret `mapstructure:"signingKey"`
	SigningKeyFile string `mapstructure:"signingKeyFile"`
	// JWKS, when set, also admits tokens of an external authorization server.
	JWKS *JWKSAuth `mapstructure:"jwks"`
}

// IssuesTokens reports whether emfa serves its own token endpoint.
func (o OAuthAuth) IssuesTokens() bool { return o.TokenEndpoint == nil || *o.TokenEndpoint }

// JWKSAuth checks an external authorization server's access tokens (JWTs) against its
// published keys.
type JWKSAuth struct {
	URL      string `mapstructure:"url"`
	Issuer   string `mapstructure:"issuer"`
	Audience string `mapstructure:"audience"`
	// Algorithms allowed in a token's header; default RS256 and ES256.
	Algorithms []string `mapstructure:"algorithms"`
}

// MTLSAuth admits a caller by its TLS client certificate, verified against
// server.tls.clientCA; Subjects, when set, pins the certificate's subject (its RFC 2253
// form, e.g. "CN=verify,O=Example"; spaces around its separators and the case of its
// attribute types do not matter, and DC, UID and emailAddress are written by name) or,
// written without "=", its common name.
type MTLSAuth struct {
	Subjects []string `mapstructure:"subjects"`
}

// TLS makes emfa serve HTTPS itself. Certificate and key are re-read when their files
// change, so a renewal needs no restart.
type TLS struct {
	Cert string `mapstructure:"cert"`
	Key  string `mapstructure:"key"`
	// ClientCA is a PEM bundle of the CAs whose client certificates are verified.
	ClientCA string `mapstructure:"clientCA"`
	// RequireClientCert refuses a handshake without a certificate from ClientCA.
	RequireClientCert bool `mapstructure:"requireClientCert"`
}

// jwsAlgorithms are the signature algorithms a JWKS token may use (never none or HS*).
var jwsAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// DefaultTokenLifetime is the expires_in of emfa's own access tokens.
const DefaultTokenLifetime = 15 * time.Minute

// hasInboundMethod reports whether any authentication method is configured.
func (a Auth) hasInboundMethod() bool {
	return a.Basic != nil || a.Header != nil || a.OAuth != nil || a.MTLS != nil
}

func (c *Config) applyInboundDefaults() {
	if o := c.Server.Auth.OAuth; o != nil {
		o.TokenLifetime = cmpOr(o.TokenLifetime, DefaultTokenLifetime)
		if o.JWKS != nil && len(o.JWKS.Algorithms) == 0 {
			o.JWKS.Algorithms = []string{"RS256", "ES256"}
		}
	}
}

// validateInbound checks server.auth.oauth, server.auth.mtls and server.tls.
func (c *Config) validateInbound(add func(path, format string, args ...any)) {
	a, t := c.Server.Auth, c.Server.TLS
	if o := a.OAuth; o != nil {
		if !o.IssuesTokens() && o.JWKS == nil {
			add("server.auth.oauth", "tokenEndpoint is false and no jwks is set: no token could ever be accepted")
		}
		if o.IssuesTokens() && (o.TokenLifetime < time.Minute || o.TokenLifetime > 24*time.Hour) {
			add("server.auth.oauth.tokenLifetime", "must be between 1m and 24h, not %s", o.TokenLifetime)
		}
		if o.SigningKey != "" && o.SigningKeyFile != "" {
			add("server.auth.oauth.signingKey", "set signingKey or signingKeyFile, not both")
		}
		if o.IssuesTokens() && o.SigningKey == "" && o.SigningKeyFile == "" && c.Storage.Driver == "postgres" {
			// PostgreSQL is where replicas share a store: each would sign with its own key.
			c.Warnings = append(c.Warnings, "server.auth.oauth has no signingKey: this replica signs its tokens with a key "+
				"generated in its own data directory, and every other replica refuses them (401): set signingKey "+
				"(the same on every replica) or signingKeyFile on storage they share; one server alone may ignore this")
		}
		if j := o.JWKS; j != nil {
			if u, err := url.Parse(j.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				add("server.auth.oauth.jwks.url", "not an http(s) URL")
			} else if u.Scheme == "http" && !LoopbackHost(u.Hostname()) {
				// The keys decide who may call: over plain HTTP anyone on the path could
				// serve their own and sign tokens emfa accepts.
				add("server.auth.oauth.jwks.url", "want https (http only to a loopback host): over plain HTTP anyone on the network path could serve keys of their own")
			}
			if j.Issuer == "" {
				add("server.auth.oauth.jwks.issuer", "must not be empty: a token of any issuer that shares the keys would pass")
			}
			if j.Audience == "" {
				add("server.auth.oauth.jwks.audience", "must not be empty: a token meant for another service would pass")
			}
			for i, alg := range j.Algorithms {
				if !slices.Contains(jwsAlgorithms, alg) {
					add(pathIndex("server.auth.oauth.jwks.algorithms", i), "not an asymmetric signature algorithm (want %s)", strings.Join(jwsAlgorithms, ", "))
				}
			}
		}
	}
	if t != nil {
		validateTLS("server.tls", t, add) // admin.go
	}
	if a.MTLS != nil {
		if t == nil || t.ClientCA == "" {
			add("server.auth.mtls", "needs server.tls with a clientCA that verifies the client certificates")
		}
		for i, s := range a.MTLS.Subjects {
			if strings.TrimSpace(s) == "" {
				add("server.auth.mtls.subjects", "entry %d is empty", i)
			}
		}
	}
}

// LoopbackHost reports whether a URL's host (u.Hostname()) is this host only: localhost
// or a loopback address. Any other name may resolve anywhere. A URL that may be plain
// http only to such a host (a JWKS, a gateway's baseURL) is checked with it.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
