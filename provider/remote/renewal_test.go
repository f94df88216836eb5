package remote

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

// A renewal the token endpoint does not answer (an IdP that hangs, a black-holed route)
// held every call in the renewal window until its deadline: the call waited for the fetch,
// bounded by the same timeout as the call, and FAILED as a timeout though the token it had
// was good for up to two minutes more; C70's fallback covered only a renewal refused in
// time. In the window the token serves at once while one renewal runs behind it; only a
// call with no token, or an expired one, waits for a fetch.
func TestRenewalThatHangsDoesNotHoldCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc, asked, answer, clock := heldTokenCache()
		first := make(chan error, 1)
		go func() {
			_, err := tc.token(context.Background())
			first <- err
		}()
		synctest.Wait()
		answer <- nil
		if err := <-first; err != nil {
			t.Fatal(err)
		}

		clock.advance(3500 * time.Second) // in the window: renewal due, 100 s before expiry
		got := make([]string, 64)
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				tok, err := tc.token(ctx)
				if err != nil {
					got[i] = err.Error()
				} else {
					got[i] = tok.AccessToken
				}
			})
		}
		wg.Wait() // the endpoint has not answered: the calls must not wait for it
		// The renewal runs behind them: let it reach the endpoint before counting (the
		// calls may all return before its goroutine has started: 1 fetch, flakily).
		synctest.Wait()
		for i, g := range got {
			if g != "tok-1" {
				t.Errorf("call %d in the window, the renewal hanging: %q; want tok-1 at once", i, g)
				break
			}
		}
		if n := asked.Load(); n != 2 {
			t.Errorf("64 calls in the window started %d fetches in all, want 2 (one renewal)", n)
		}
		answer <- nil // the renewal comes back
		synctest.Wait()
		if tok, err := tc.token(context.Background()); err != nil || tok.AccessToken != "tok-2" {
			t.Errorf("after the renewal: %v, %v; want tok-2", tok, err)
		}

		// Expired, the renewal hanging: the call waits and fails at its deadline.
		clock.advance(3600 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if tok, err := tc.token(ctx); err == nil {
			t.Errorf("an expired token was served: %v", tok)
		}
		answer <- fmt.Errorf("down")
		synctest.Wait()
	})
}

// renewed waits for the token fetch a's calls started, if one is under way: in the
// renewal window a call goes out with the token it has while the renewal runs behind it.
func renewed(a *authenticator) {
	tc := a.scheme.(*oauthScheme).tokens
	tc.mu.Lock()
	f := tc.inflight
	tc.mu.Unlock()
	if f != nil {
		<-f.done
	}
}

// A token kept past a renewal that failed, then refused by the vendor (revoked early), is
// dropped and not sent again: the call is retried once, with no token to be had FAILED,
// and the next calls ask the endpoint, not the vendor; no loop, no stale token resent.
func TestKeptTokenRefusedIsDropped(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	ep := &tokenEndpoint{expiresIn: 3600}
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		ep.ServeHTTP(w, r)
	}))
	t.Cleanup(idp.Close)
	v := newVendor(t, func(r *http.Request, _ string) (int, string) {
		if r.Header.Get("Authorization") == "Bearer tok-1" && down.Load() {
			return 401, `{}`
		}
		return 200, `{"status":"SUCCESS"}`
	})
	e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL},
		Authentication: Authentication{Type: AuthOAuth, OAuth: OAuth{TokenEndpoint: idp.URL, ClientID: "c", ClientSecret: "s"}},
		Resources:      map[string]Resource{"validate": {Suffix: "/v"}}}, Provider: "acme", Store: testdb.SQLite(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	clock := newFakeClock()
	e.auth.scheme.(*oauthScheme).tokens.now = clock.now
	if out, _ := e.Validate(context.Background(), req("totp", "", "1")); out.Status != provider.StatusSuccess {
		t.Fatalf("first call: %+v", out)
	}
	down.Store(true)
	clock.advance(3500 * time.Second)
	for i := range 3 {
		if out, _ := e.Validate(context.Background(), req("totp", "", "1")); out.Status != provider.StatusFailed {
			t.Errorf("call %d: %+v; want FAILED", i, out)
		}
		renewed(e.auth)
	}
	sent := 0
	for _, r := range v.requests() {
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			sent++
		}
	}
	if sent != 2 { // the first call's, and the refused one's
		t.Errorf("tok-1 sent %d times, want 2: once refused, it is not sent again", sent)
	}
}
