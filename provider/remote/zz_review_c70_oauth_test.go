package remote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newOAuthBehind is newOAuth with the token endpoint behind h, which may answer for it.
func newOAuthBehind(t *testing.T, h http.Handler, o OAuth) (*authenticator, *fakeClock) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	o.TokenEndpoint, o.ClientID, o.ClientSecret = srv.URL, "c", "s"
	_, a := provision(t, &Webhook{URLs: []string{srv.URL}, Authentication: Authentication{Type: AuthOAuth, OAuth: o}})
	clock := newFakeClock()
	a.scheme.(*oauthScheme).tokens.now = clock.now
	return a, clock
}

// applied is the Authorization a sets on a request, or the error it gives.
func applied(t *testing.T, a *authenticator) (string, error) {
	t.Helper()
	req := newRequest(t, "http://vendor.example")
	if err := a.apply(context.Background(), req, applyOptions{}); err != nil {
		return "", err
	}
	return req.Header.Get("Authorization"), nil
}

// The token is renewed window seconds (120) before it expires, so that a renewal has
// room; but a renewal that failed failed the call, though the token it would have
// replaced was good for up to two minutes more: a token endpoint down for a minute
// failed every vendor call in that window. The token still serves until it expires, and
// every call past the renewal time tries the endpoint again, one fetch at a time.
func TestReviewC70TokenServesUntilItExpires(t *testing.T) {
	t.Parallel()
	ep := &tokenEndpoint{expiresIn: 3600}
	var down atomic.Bool
	var refused atomic.Int64
	a, clock := newOAuthBehind(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			refused.Add(1)
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		ep.ServeHTTP(w, r)
	}), OAuth{})

	if got, err := applied(t, a); err != nil || got != "Bearer tok-1" {
		t.Fatalf("first call: %q, %v", got, err)
	}
	down.Store(true)
	clock.advance(3480 * time.Second) // renewal time: 120 s before the token expires
	for i, at := range []time.Duration{0, 60 * time.Second, 59 * time.Second} {
		clock.advance(at)
		if got, err := applied(t, a); err != nil || got != "Bearer tok-1" {
			t.Errorf("call %d in the window, the endpoint down: %q, %v; want the token still good", i, got, err)
		}
	}
	if n := refused.Load(); n != 3 {
		t.Errorf("the endpoint was asked %d times in the window, want 3 (once a call)", n)
	}
	clock.advance(time.Second) // the token's expiry
	if got, err := applied(t, a); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("call at expiry, the endpoint down: %q, %v; want the endpoint's 503", got, err)
	}
	down.Store(false)
	if got, err := applied(t, a); err != nil || got != "Bearer tok-2" {
		t.Errorf("the endpoint back: %q, %v; want tok-2", got, err)
	}
}
