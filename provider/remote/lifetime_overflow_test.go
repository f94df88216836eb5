package remote

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/emfa/emfa/config"
)

// TestHugeSecondsRefused: authentication's lifetimes in seconds become a
// time.Duration; one past ~292 years overflowed into a negative duration, so a
// jwt.lifetime of 9999999999 ("never expires") passed Validate and every call carried a
// JWT that expired before it was issued (refused by the vendor, with emfa check green),
// and an oauth.expires_in as large made the cached token stale at once (a token fetch
// per call). Such a value is refused at its path instead.
func TestHugeSecondsRefused(t *testing.T) {
	const huge = 9_999_999_999
	w := &Webhook{URLs: []string{"https://vendor.example"}, Authentication: Authentication{Type: AuthJWT,
		JWT: JWT{Alg: "HS256", Key: "0123456789abcdef0123456789abcdef", Lifetime: huge}}}
	if err := w.Validate(); err == nil {
		a, err := newAuthenticator(w.Authentication, nil, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		req := newRequest(t, "http://vendor.example")
		if err := a.apply(context.Background(), req, applyOptions{}); err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.ParseSigned(strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "), []jose.SignatureAlgorithm{jose.HS256})
		if err != nil {
			t.Fatal(err)
		}
		var c jwt.Claims
		if err := tok.Claims([]byte("0123456789abcdef0123456789abcdef"), &c); err != nil {
			t.Fatal(err)
		}
		if !c.Expiry.Time().After(c.IssuedAt.Time()) {
			t.Errorf("jwt.lifetime %d accepted, and the token signed expires at %v, before its iat %v", huge, c.Expiry.Time(), c.IssuedAt.Time())
		}
	} else if !strings.Contains(err.Error(), "authentication.jwt.lifetime") {
		t.Errorf("jwt.lifetime %d: %v, want it refused at authentication.jwt.lifetime", huge, err)
	}
	for _, o := range []OAuth{{ExpiresIn: huge}} {
		o.TokenEndpoint, o.ClientID, o.ClientSecret = "https://as.example/token", "emfa", config.Secret("s")
		w := &Webhook{URLs: []string{"https://vendor.example"}, Authentication: Authentication{Type: AuthOAuth, OAuth: o}}
		err := w.Validate()
		if err == nil || !strings.Contains(err.Error(), "authentication.oauth.expires_in") {
			t.Errorf("oauth expires_in %d: %v, want refused", o.ExpiresIn, err)
		}
	}
}
