package adapter

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/emfa/emfa/internal/testwait"
)

// TestJWKSSkipsKeysItCannotRead: an authorization server's key set may hold keys
// emfa has no use for and go-jose cannot read — an X25519 encryption key, a secp256k1
// (ES256K) key, a key whose x5c does not parse. Each is skipped; the signing keys beside
// it still admit their tokens. Before, the whole set failed to decode, and no token of
// that server was ever admitted.
func TestJWKSSkipsKeysItCannotRead(t *testing.T) {
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

// TestJWKSStaleSetDoesNotHoldKnownKeys: once the cached set is older than MaxAge
// it is fetched again, but a token signed by a key in it is admitted at once, not after
// that fetch. Before, every call waited for it: with an authorization server that
// hangs, every bearer-authenticated call of Verify stalled up to the fetch's timeout
// (10 s, past Verify's own), once an hour and then again every minute while it hung.
func TestJWKSStaleSetDoesNotHoldKnownKeys(t *testing.T) {
	f := newJWKSFixture(t)
	if err := f.jwks.verify(context.Background(), f.token(t, "k1")); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(61 * time.Minute)
	// Bounded, so that a call stuck behind the hanging fetch fails rather than hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := f.jwks.verify(ctx, f.token(t, "k1"))
	if err != nil {
		t.Errorf("a k1 token once the set is stale and its fetch hangs: %v, want admitted at once", err)
	}
	if n := f.jwks.Fetches(); n != 2 {
		t.Errorf("fetches: %d, want 2 (the stale set is fetched again)", n)
	}
	// The fresh set is used once it is in.
	close(f.release)
	testwait.Until(t, "the refetch to end", time.Millisecond, func() bool {
		f.jwks.mu.Lock()
		defer f.jwks.mu.Unlock()
		return f.jwks.fetching == nil
	})
	if got := f.jwks.fetched; !got.Equal(f.clock.Now()) {
		t.Errorf("the set was fetched at %v, want %v", got, f.clock.Now())
	}
}

// refreshed waits for the fetch of j under way, if any, to end.
func refreshed(t *testing.T, j *JWKS) {
	t.Helper()
	testwait.Until(t, "the JWKS fetch to end", time.Millisecond, func() bool {
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.fetching == nil
	})
}

// TestJWKSFetchFailureLoggedOnce: a key set that can no longer be fetched is
// said in the log, once while it keeps failing the same way, and its recovery once. Before,
// nothing was logged while the cached keys still admitted their tokens: the operator
// learned of it only when the authorization server rotated its key and every Verify
// call was refused.
func TestJWKSFetchFailureLoggedOnce(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k1.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	}))
	defer srv.Close()
	var logs bytes.Buffer
	j := &JWKS{URL: srv.URL, Issuer: "https://as.example", Audience: "emfa", Algorithms: []string{"ES256"},
		Client: srv.Client(), Now: clock.Now, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	call := func() {
		t.Helper()
		tok := signToken(t, k1, jose.ES256, "k1", jwt.Claims{Issuer: "https://as.example", Audience: jwt.Audience{"emfa"},
			Expiry: jwt.NewNumericDate(clock.Now().Add(5 * time.Minute))})
		if err := j.verify(context.Background(), tok); err != nil {
			t.Fatalf("k1 token: %v", err)
		}
		refreshed(t, j)
	}
	call()
	down.Store(true)
	clock.Advance(61 * time.Minute)
	for range 3 {
		call() // the cached key still admits; each call a minute apart refetches
		clock.Advance(2 * time.Minute)
	}
	if n := j.Fetches(); n != 4 {
		t.Fatalf("fetches: %d, want 4", n)
	}
	if n := strings.Count(logs.String(), "status 502"); n != 1 {
		t.Errorf("the failing fetch logged %d times, want once:\n%s", n, logs.String())
	}
	down.Store(false)
	call()
	call()
	if n := strings.Count(logs.String(), "level=INFO"); n != 1 {
		t.Errorf("the recovery logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestJWKSOutageIsNoGuess: while the authorization server's key set cannot be
// fetched, a token whose key emfa does not hold yet (a start during the outage, a key
// rotated meanwhile) cannot be judged: it is answered 503 (retry), not 401 invalid_token
// (which tells Verify to drop a token that may be good), and spends nothing of the
// address's budget. Before, each such call was a failed guess: after ten, Verify's
// address was answered 429, and its right tokens were refused as wrong. Once the set can
// be fetched, the token is admitted.
func TestJWKSOutageIsNoGuess(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var down atomic.Bool
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k1.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	}))
	defer srv.Close()
	j := &JWKS{URL: srv.URL, Issuer: "https://as.example", Audience: "emfa", Algorithms: []string{"ES256"},
		Client: srv.Client(), Now: clock.Now}
	h := newHarness(t, func(o *Options) { o.OAuth = &OAuth{JWKS: j} })
	tok := signToken(t, k1, jose.ES256, "k1", jwt.Claims{Issuer: "https://as.example", Audience: jwt.Audience{"emfa"},
		Expiry: jwt.NewNumericDate(clock.Now().Add(time.Hour))})
	for i := range 15 {
		code, body, hdr := h.do(t, "POST", "/v1/providers/acme/test", `{}`, "Authorization", "Bearer "+tok)
		if code != http.StatusServiceUnavailable || strings.Contains(strings.Join(hdr.Values("WWW-Authenticate"), " "), "invalid_token") {
			t.Fatalf("call %d while the key set cannot be fetched: %d %s %q, want 503 without invalid_token", i, code, body, hdr.Values("WWW-Authenticate"))
		}
		if i == 0 {
			clock.Advance(2 * time.Minute) // then a refetch is tried, and fails, on a later call
		}
	}
	down.Store(false)
	clock.Advance(2 * time.Minute)
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/test", `{}`, "Authorization", "Bearer "+tok); code != 200 {
		t.Errorf("once the key set can be fetched: %d %s, want 200", code, body)
	}
	// A token of an unknown key once the set is in is a guess as before.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := signToken(t, other, jose.ES256, "k9", jwt.Claims{Issuer: "https://as.example", Audience: jwt.Audience{"emfa"},
		Expiry: jwt.NewNumericDate(clock.Now().Add(time.Hour))})
	if code, _, hdr := h.do(t, "POST", "/v1/providers/acme/test", `{}`, "Authorization", "Bearer "+forged); code != 401 ||
		!strings.Contains(strings.Join(hdr.Values("WWW-Authenticate"), " "), "invalid_token") {
		t.Errorf("an unknown kid once the set is in: %d %q, want 401 invalid_token", code, hdr.Values("WWW-Authenticate"))
	}
}

// TestJWKSKeyOfTheTokensType: the key a token is checked with is one of the type
// its alg needs. RFC 7517 §4.5 lets a set give one kid to keys of different types (an RSA
// and an EC key, alternatives); a token without a kid is checked with the only key of
// its type. Before, the first key of the kid was taken whatever its type, and an ES256
// token named by a kid its RSA twin came first under was refused; without a kid, a set
// of more than one key refused every token.
func TestJWKSKeyOfTheTokensType(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name string
		keys []jose.JSONWebKey
		sign any
		alg  jose.SignatureAlgorithm
		kid  string
		ok   bool
	}{
		{"ES256, kid shared with an RSA key listed first", []jose.JSONWebKey{{Key: rk.Public(), KeyID: "shared"}, {Key: ek.Public(), KeyID: "shared"}}, ek, jose.ES256, "shared", true},
		{"RS256, kid shared with an EC key listed first", []jose.JSONWebKey{{Key: ek.Public(), KeyID: "shared"}, {Key: rk.Public(), KeyID: "shared"}}, rk, jose.RS256, "shared", true},
		{"ES256 without kid, one EC key beside an RSA one", []jose.JSONWebKey{{Key: rk.Public(), KeyID: "r"}, {Key: ek.Public(), KeyID: "e"}}, ek, jose.ES256, "", true},
		{"ES256 without kid, two EC keys", []jose.JSONWebKey{{Key: other.Public(), KeyID: "o"}, {Key: ek.Public(), KeyID: "e"}}, ek, jose.ES256, "", false},
		{"ES256 by another key, kid shared", []jose.JSONWebKey{{Key: rk.Public(), KeyID: "shared"}, {Key: ek.Public(), KeyID: "shared"}}, other, jose.ES256, "shared", false},
	} {
		set, _ := json.Marshal(jose.JSONWebKeySet{Keys: tc.keys})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(set) }))
		j := &JWKS{URL: srv.URL, Issuer: "https://as.example", Audience: "emfa", Algorithms: []string{"ES256", "RS256"},
			Client: srv.Client(), Now: clock.Now}
		tok := signToken(t, tc.sign, tc.alg, tc.kid, jwt.Claims{Issuer: "https://as.example", Audience: jwt.Audience{"emfa"},
			Expiry: jwt.NewNumericDate(clock.Now().Add(5 * time.Minute))})
		if err := j.verify(context.Background(), tok); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want admitted %v", tc.name, err, tc.ok)
		}
		srv.Close()
	}
}
