package adapter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/emfa/emfa/internal/testwait"
)

// jwksFixture is a loopback JWKS server publishing k1 whose fetches after the first hang
// until release is closed; inFlight is true while the JWKS client waits on one.
type jwksFixture struct {
	k1       *ecdsa.PrivateKey
	jwks     *JWKS
	clock    *fakeClock
	hung     chan struct{} // a hanging fetch reached the server
	release  chan struct{}
	inFlight atomic.Bool
}

func newJWKSFixture(t *testing.T) *jwksFixture {
	f := &jwksFixture{clock: &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		hung: make(chan struct{}, 10), release: make(chan struct{})}
	f.k1, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			f.hung <- struct{}{}
			select {
			case <-f.release:
			case <-r.Context().Done():
				return
			}
		}
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: f.k1.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-f.release:
		default:
			close(f.release)
		}
	})
	base := srv.Client().Transport
	client := &http.Client{Transport: jwksRoundTrip(func(r *http.Request) (*http.Response, error) {
		f.inFlight.Store(true)
		defer f.inFlight.Store(false)
		return base.RoundTrip(r)
	})}
	f.jwks = &JWKS{URL: srv.URL, Issuer: "https://as.example", Audience: "emfa", Algorithms: []string{"ES256"},
		Client: client, Now: f.clock.Now}
	return f
}

func (f *jwksFixture) token(t *testing.T, kid string) string {
	return signToken(t, f.k1, jose.ES256, kid, jwt.Claims{Issuer: "https://as.example", Audience: jwt.Audience{"emfa"},
		Subject: "verify", Expiry: jwt.NewNumericDate(f.clock.Now().Add(5 * time.Minute))})
}

// TestJWKSFetchDoesNotBlockKnownKeys: a token with an unknown kid — anyone can send one,
// once a minute — starts a fetch of the key set. While that fetch waits on a slow or
// unreachable authorization server, a token signed by a key already cached must still be
// admitted at once. Before, the fetch ran under the lock every verification takes, so
// every bearer-authenticated call of Verify waited for it (up to the fetch's timeout,
// past the call's own deadline).
func TestJWKSFetchDoesNotBlockKnownKeys(t *testing.T) {
	f := newJWKSFixture(t)
	h := newHarness(t, func(o *Options) { o.OAuth = &OAuth{JWKS: f.jwks}; o.RequestTimeout = 20 * time.Second })
	contract := func(tok string) int {
		code, _, _ := h.do(t, "POST", "/v1/providers/acme/test", `{}`, "Authorization", "Bearer "+tok)
		return code
	}
	if code := contract(f.token(t, "k1")); code != 200 {
		t.Fatalf("k1 token: %d", code)
	}
	f.clock.Advance(2 * time.Minute)
	unknown := make(chan int, 1)
	go func() { unknown <- contract(f.token(t, "k9")) }()
	testwait.Recv(t, "the k9 fetch to reach the JWKS server", f.hung)
	code := contract(f.token(t, "k1"))
	stillFetching := f.inFlight.Load()
	close(f.release)
	if code != 200 {
		t.Errorf("k1 token during another request's fetch: %d, want 200", code)
	}
	if !stillFetching {
		t.Error("the k1 token was answered only once the fetch another request started had ended")
	}
	if c := testwait.Recv(t, "the unknown kid's answer", unknown); c != 401 {
		t.Errorf("unknown kid: %d, want 401", c)
	}
}

// TestJWKSWaitHonoursDeadline: a call that needs the fetch under way (its kid is not
// cached) waits for it no longer than its own deadline.
func TestJWKSWaitHonoursDeadline(t *testing.T) {
	f := newJWKSFixture(t)
	if _, err := f.jwks.key(context.Background(), "k1"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	// Bounded, so that a call stuck behind it ends the test rather than hangs it.
	bg, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	go func() { _, _ = f.jwks.key(bg, "k9") }()
	testwait.Recv(t, "the k9 fetch to reach the JWKS server", f.hung)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.jwks.key(ctx, "k8"); err == nil || !f.inFlight.Load() {
		t.Errorf("a canceled call waiting on the fetch under way: %v (fetch in flight: %v), want its context's error at once", err, f.inFlight.Load())
	}
}

// TestJWKSFetchOutlivesItsCaller: the fetch a token with an unknown kid starts must not
// end with the call that started it. Before, it ran on that call's context: a caller that
// sent an unknown kid and hung up at once made the fetch fail, and for the next minute
// no fetch was tried — repeated every minute, emfa never learned the authorization
// server's new key, and Verify's tokens signed with it were refused.
func TestJWKSFetchOutlivesItsCaller(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var rotated atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := jose.JSONWebKey{Key: k1.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}
		if rotated.Load() {
			k = jose.JSONWebKey{Key: k2.Public(), KeyID: "k2", Algorithm: "ES256", Use: "sig"}
		}
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k}})
	}))
	defer srv.Close()
	j := &JWKS{URL: srv.URL, Issuer: "https://as.example", Audience: "emfa", Algorithms: []string{"ES256"},
		Client: srv.Client(), Now: clock.Now}
	if _, err := j.key(context.Background(), "k1"); err != nil {
		t.Fatal(err)
	}
	rotated.Store(true)
	clock.Advance(2 * time.Minute)
	gone, cancel := context.WithCancel(context.Background())
	cancel() // the caller hung up
	_, _ = j.key(gone, "k2")
	if _, err := j.key(context.Background(), "k2"); err != nil {
		t.Errorf("the rotated key after a fetch whose caller hung up: %v", err)
	}
}
