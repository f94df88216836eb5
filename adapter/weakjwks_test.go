package adapter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestWeakThrottledBearerCost: since C64, with server.auth.allowWeakSecrets a
// throttled address's credentials are checked before it is answered 429, where they were
// not looked at. A bearer token whose kid emfa has not cached starts a fetch of the key
// set: 40 such tokens from a throttled address, each of a kid never seen, must not each
// cost a fetch of the authorization server's JWKS. They are 429, and the set is fetched
// at most once more (JWKS.MinRefetch), as it is for any address; the right token from the
// throttled address is 429 too, as the weak mode says, and is admitted once the budget
// has an attempt again. No defect found.
func TestWeakThrottledBearerCost(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	}))
	t.Cleanup(srv.Close)
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	j := &JWKS{URL: srv.URL, Issuer: "https://as.example", Audience: "emfa", Algorithms: []string{"ES256"},
		Client: srv.Client(), Now: clk.Now}
	h := newHarness(t, func(o *Options) { o.Auth.WeakSecrets = true; o.OAuth = &OAuth{JWKS: j} })
	tclk := &fakeClock{t: clk.t} // the throttle's own: the key set's clock moves alone
	h.srv.throttle.now = tclk.Now
	token := func(kid string) string {
		return signToken(t, key, jose.ES256, kid, jwt.Claims{Issuer: "https://as.example", Audience: jwt.Audience{"emfa"},
			Subject: "verify", Expiry: jwt.NewNumericDate(clk.Now().Add(5 * time.Minute))})
	}
	const guesser = "198.51.100.66"
	bearer := func(tok string) int {
		code, _ := h.send(t, guesser, "Authorization", "Bearer "+tok)
		return code
	}
	if code := bearer(token("k1")); code != 200 {
		t.Fatalf("the right token: %d", code)
	}
	for i := range throttleBurst {
		if code, _ := h.from(t, guesser, fmt.Sprintf("guess-%d", i)); code != 401 {
			t.Fatalf("guess %d: %d, want 401", i, code)
		}
	}
	clk.Advance(2 * time.Minute) // past MinRefetch: an unknown kid may start a fetch
	before := fetches.Load()
	codes := map[int]int{}
	for i := range 40 {
		codes[bearer(token(fmt.Sprintf("unknown-%d", i)))]++
	}
	if codes[http.StatusTooManyRequests] != 40 {
		t.Errorf("40 unknown kids from the throttled address: %v, want all 429", codes)
	}
	if n := fetches.Load() - before; n > 1 {
		t.Errorf("40 unknown kids from the throttled address fetched the key set %d times, want at most 1", n)
	}
	if code := bearer(token("k1")); code != http.StatusTooManyRequests {
		t.Errorf("the right token from the throttled address (weak secrets): %d, want 429", code)
	}
	tclk.Advance(throttleEvery)
	if code := bearer(token("k1")); code != 200 {
		t.Errorf("the right token once the budget has an attempt: %d, want 200", code)
	}
	if strings.Contains(h.logs.String(), "guess-") {
		t.Error("a password reached the log")
	}
}
