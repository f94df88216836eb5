package adapter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestReviewC39JWKSSkipsKeysItCannotRead: an authorization server's key set may hold keys
// emfa has no use for and go-jose cannot read — an X25519 encryption key, a secp256k1
// (ES256K) key, a key whose x5c does not parse. Each is skipped; the signing keys beside
// it still admit their tokens. Before, the whole set failed to decode, and no token of
// that server was ever admitted.
func TestReviewC39JWKSSkipsKeysItCannotRead(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, err := json.Marshal(jose.JSONWebKey{Key: k1.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	for _, odd := range []string{
		`{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo","use":"enc","kid":"x"}`,
		`{"kty":"EC","crv":"P-256K","x":"AA","y":"AA","kid":"secp"}`,
		`{"kty":"RSA","kid":"c","n":"AQAB","e":"AQAB","x5c":["MIIB"]}`,
	} {
		set := `{"keys":[` + odd + `,` + string(good) + `]}`
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(set))
		}))
		j := &JWKS{URL: srv.URL, Issuer: "https://as.example", Audience: "emfa", Algorithms: []string{"ES256"},
			Client: srv.Client(), Now: clock.Now}
		tok := signToken(t, k1, jose.ES256, "k1", jwt.Claims{Issuer: "https://as.example", Audience: jwt.Audience{"emfa"},
			Expiry: jwt.NewNumericDate(clock.Now().Add(5 * time.Minute))})
		if err := j.verify(context.Background(), tok); err != nil {
			t.Errorf("a token of k1, with %s beside it in the set: %v", odd, err)
		}
		srv.Close()
	}
}
