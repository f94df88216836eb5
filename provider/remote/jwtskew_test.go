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

// A JWT was signed with nbf and iat exactly now: a vendor whose clock ran a second behind
// and that allows no leeway (PyJWT and node-jsonwebtoken by default; RFC 7519 §4.1.5 only
// says implementers MAY allow "a few minutes" of it) refused the token as not yet valid,
// so calls FAILED on the vendor's clock. nbf and iat are backdated by jwtClockSkew, as
// GitHub asks of its apps' JWTs ("60 seconds in the past to allow for clock drift");
// exp stays lifetime after now.
func TestJWTAcceptedByAClockBehind(t *testing.T) {
	t.Parallel()
	secret := "0123456789abcdef0123456789abcdef"
	a, err := newAuthenticator(Authentication{Type: AuthJWT, JWT: JWT{
		Alg: "HS256", Key: config.Secret(secret), Iss: "emfa", Aud: "vendor", Lifetime: 300,
	}}, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	a.scheme.(*jwtScheme).now = clock.now
	req := newRequest(t, "http://vendor.example")
	if err := a.apply(context.Background(), req, applyOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "), []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		t.Fatal(err)
	}
	var std jwt.Claims
	if err := tok.Claims([]byte(secret), &std); err != nil {
		t.Fatal(err)
	}
	for _, behind := range []time.Duration{time.Second, 10 * time.Second, 29 * time.Second} {
		vendorNow := clock.now().Add(-behind)
		if err := std.ValidateWithLeeway(jwt.Expected{Issuer: "emfa", AnyAudience: jwt.Audience{"vendor"}, Time: vendorNow}, 0); err != nil {
			t.Errorf("a vendor %v behind, no leeway: %v", behind, err)
		}
		if iat := std.IssuedAt.Time(); iat.After(vendorNow) {
			t.Errorf("a vendor %v behind sees iat %v in its future (PyJWT refuses it)", behind, iat)
		}
	}
	if exp := std.Expiry.Time(); !exp.Equal(clock.now().Add(300 * time.Second)) {
		t.Errorf("exp %v, want the lifetime after now, %v", exp, clock.now().Add(300*time.Second))
	}
}
