package remote

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"
)

// A renewal the token endpoint does not answer (an IdP that hangs, a black-holed route)
// held every call in the renewal window until its deadline: the call waited for the fetch,
// bounded by the same timeout as the call, and FAILED as a timeout though the token it had
// was good for up to two minutes more; C70's fallback covered only a renewal refused in
// time. In the window the token serves at once while one renewal runs behind it; only a
// call with no token, or an expired one, waits for a fetch.
func TestReviewS72RenewalThatHangsDoesNotHoldCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var asked atomic.Int64
		answer := make(chan error)
		clock := newFakeClock()
		tc := &tokenCache{
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
