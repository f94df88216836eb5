package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
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
func TestTokenServesUntilItExpires(t *testing.T) {
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
		renewed(a)
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

// A token response whose expires_in is negative (or, form-encoded, so large that oauth2's
// arithmetic wraps it into the past) gave a token already stale when it came: every
// vendor call fetched a token of its own, doubling each call's latency and spending an
// endpoint's token quota (Auth0's is by the month). A lifetime that is no lifetime is
// taken as none stated: the configured expires_in, else kept until the vendor refuses it.
func TestTokenLifetimeThatIsNone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		body        string
		o           OAuth
		wantHits    int64 // after the calls below
	}{
		{"json negative", "application/json", `{"access_token":"t","token_type":"bearer","expires_in":-60}`, OAuth{}, 1},
		{"json zero", "application/json", `{"access_token":"t","token_type":"bearer","expires_in":0}`, OAuth{}, 1},
		{"json huge", "application/json", `{"access_token":"t","token_type":"bearer","expires_in":99999999999999}`, OAuth{}, 1},
		{"form negative", "application/x-www-form-urlencoded", `access_token=t&token_type=bearer&expires_in=-60`, OAuth{}, 1},
		{"form wrapping into the past", "application/x-www-form-urlencoded", `access_token=t&token_type=bearer&expires_in=10000000000`, OAuth{}, 1},
		// The configured lifetime, 600 s, renewed at 480 s: the last call below.
		{"json negative, expires_in configured", "application/json", `{"access_token":"t","token_type":"bearer","expires_in":-60}`, OAuth{ExpiresIn: 600}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int64
			a, clock := newOAuthBehind(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header().Set("Content-Type", tt.contentType)
				w.Write([]byte(tt.body))
			}), tt.o)
			for range 5 { // at 0, 120, 240, 360 and 480 s
				if got, err := applied(t, a); err != nil || got != "Bearer t" {
					t.Fatalf("call: %q, %v", got, err)
				}
				renewed(a)
				clock.advance(120 * time.Second)
			}
			if n := hits.Load(); n != tt.wantHits {
				t.Errorf("the token endpoint was asked %d times for 5 calls, want %d", n, tt.wantHits)
			}
		})
	}
}

// A token endpoint whose token_type is not bearer ("JWT", "Token"; oauth2 sends it as the
// Authorization scheme) had its token sent as "JWT tok-1", and a vendor's 401 to it
// dropped nothing, since only "Bearer …" was looked for: the retry sent the rejected
// token again, and every call FAILED until the token's renewal time, up to its whole
// lifetime (an hour) after the vendor revoked it. The token rejected is the one dropped,
// whatever its scheme.
func TestRejectedTokenOfAnyType(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"JWT", "Token", "bearer"} {
		var n atomic.Int64
		a, _ := newOAuthBehind(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":%q,"expires_in":3600}`, n.Add(1), typ)
		}), OAuth{})
		rejected := newRequest(t, "http://vendor.example")
		if err := a.apply(context.Background(), rejected, applyOptions{}); err != nil {
			t.Fatal(err)
		}
		a.invalidate(rejected)
		got, err := applied(t, a)
		if err != nil || !strings.HasSuffix(got, " tok-2") {
			t.Errorf("token_type %s: after the vendor refused %q: %q, %v; want tok-2", typ, rejected.Header.Get("Authorization"), got, err)
			continue
		}
		// A stale refusal of tok-1 leaves tok-2 alone.
		a.invalidate(rejected)
		if got, _ := applied(t, a); !strings.HasSuffix(got, " tok-2") {
			t.Errorf("token_type %s: a stale refusal dropped tok-2: %q", typ, got)
		}
	}
}

// A token endpoint that is down is asked once by 64 calls at once, with no token yet and
// at the renewal of one (when they go out with the token they have), not 64 times.
func TestTokenEndpointDownNoStampede(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc, asked, answer, clock := heldTokenCache()
		wave := func(endpoint error) []string {
			got := make([]string, 64)
			var wg sync.WaitGroup
			for i := range 64 {
				wg.Go(func() {
					tok, err := tc.token(context.Background())
					if err != nil {
						got[i] = "error"
					} else {
						got[i] = tok.AccessToken
					}
				})
			}
			synctest.Wait() // all 64 wait for the one fetch
			answer <- endpoint
			wg.Wait()
			return slices.Compact(got)
		}
		down := errors.New("502 Bad Gateway")
		if got := wave(down); !slices.Equal(got, []string{"error"}) || asked.Load() != 1 {
			t.Errorf("no token yet, the endpoint down: %q after %d fetches; want all failed on 1", got, asked.Load())
		}
		if got := wave(nil); !slices.Equal(got, []string{"tok-2"}) || asked.Load() != 2 {
			t.Errorf("the endpoint back: %q after %d fetches; want tok-2 on 1 more", got, asked.Load())
		}
		clock.advance(3500 * time.Second) // past the renewal, before the expiry
		if got := wave(down); !slices.Equal(got, []string{"tok-2"}) || asked.Load() != 3 {
			t.Errorf("at the renewal, the endpoint down: %q after %d fetches; want tok-2 on 1 more", got, asked.Load())
		}
	})
}

// A token endpoint whose access_token holds a control character (a custom endpoint's
// "tok\n") had it cached for its lifetime and sent: net/http refused every call's
// Authorization header, and each call FAILED as a network fault of the vendor, counted
// against its URL, which was ejected though no request reached it. The token is refused
// as the fetch's failure, not cached, and says nothing of the vendor's URLs.
func TestUnsendableTokenRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, token, typ string }{
		{"line break in the token", "tok-1\n", "bearer"},
		{"control character in the token", "tok\x00-1", "bearer"},
		{"line break in the type", "tok-1", "Bearer\r\nX-Injected: 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(map[string]any{"access_token": tc.token, "token_type": tc.typ, "expires_in": 3600})
			}))
			defer tokenSrv.Close()
			v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{"status":"SUCCESS"}` })
			var log lockedBuffer
			e, err := New(Options{
				Webhook: &Webhook{URLs: []string{v.srv.URL}, EjectAfter: 1,
					Authentication: Authentication{Type: AuthOAuth, OAuth: OAuth{TokenEndpoint: tokenSrv.URL, ClientID: "c", ClientSecret: "s"}},
					Resources:      map[string]Resource{"validate": {Suffix: "/v"}}},
				Provider: "acme", Store: testdb.SQLite(t), Log: slog.New(slog.NewTextHandler(&log, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if out, _ := e.Validate(context.Background(), req("totp", "", "1")); out.Status != provider.StatusFailed {
				t.Errorf("validate: %+v; want FAILED", out)
			}
			if !strings.Contains(log.String(), "access_token") || strings.Contains(log.String(), "kind=network") {
				t.Errorf("the log does not say the token cannot be sent:\n%s", log.String())
			}
			if until := e.urls.state[0].ejectedUntil.Load(); until != 0 {
				t.Errorf("the vendor's URL was ejected for the token endpoint's fault")
			}
		})
	}
}

// heldTokenCache is a tokenCache (window 120 s, on a fake clock) whose source counts its
// fetches (asked) and answers each as answer is sent: an error, or nil for a token
// "tok-N" of an hour, N the fetch's number.
func heldTokenCache() (tc *tokenCache, asked *atomic.Int64, answer chan error, clock *fakeClock) {
	asked, answer, clock = new(atomic.Int64), make(chan error), newFakeClock()
	tc = &tokenCache{
		src: tokenSourceFunc(func() (*oauth2.Token, error) {
			n := asked.Add(1)
			if err := <-answer; err != nil {
				return nil, err
			}
			return &oauth2.Token{AccessToken: fmt.Sprintf("tok-%d", n), ExpiresIn: 3600}, nil
		}),
		window: 120 * time.Second,
		now:    clock.now,
	}
	return tc, asked, answer, clock
}
