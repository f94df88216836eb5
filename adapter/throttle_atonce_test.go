package adapter

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// heldVerifier refuses every bearer token, each refusal held until release is closed;
// arrived says that one is held.
type heldVerifier struct {
	arrived chan struct{}
	release chan struct{}
}

func (v heldVerifier) verify(context.Context, string) error {
	v.arrived <- struct{}{}
	<-v.release
	return errors.New("not a token of ours")
}

// TestThrottleHoldsAtOnce: the security model says an address may fail
// authentication 10 times in a row, then once per 6 s, beyond which a wrong credential is
// 429. Checked (allow) before a guess was looked at and spent (failed) after, the budget
// let every guess sent at once through while the bucket was still full: 30 wrong
// credentials that arrived together were all answered 401, each one looked at — with
// server.auth.allowWeakSecrets, 30 tries of a short password where 10 are allowed, and
// again at every refill. The page's throttle already held attempts under way (begin);
// now the contract's spends its budget in one step with the decision, so of 30 at once
// 10 are looked at and answered 401, the others 429.
func TestThrottleHoldsAtOnce(t *testing.T) {
	for _, weak := range []bool{true, false} {
		t.Run(fmt.Sprintf("weak=%v", weak), func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.Auth.WeakSecrets = weak })
			clk := &fakeClock{t: time.Unix(1767225600, 0)}
			h.srv.throttle.now = clk.Now
			v := heldVerifier{arrived: make(chan struct{}), release: make(chan struct{})}
			h.srv.auth.bearer = append(h.srv.auth.bearer, v)

			const n = 3 * throttleBurst
			codes := make(chan int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req := httptest.NewRequest("POST", "/v1/providers/acme/enrollments", strings.NewReader(`{"username":"a"}`))
					req.RemoteAddr = "198.51.100.66:4000"
					req.Header.Set("Authorization", fmt.Sprintf("Bearer guess-%d", i))
					rec := httptest.NewRecorder()
					h.srv.Handler().ServeHTTP(rec, req)
					codes <- rec.Code
				}()
			}
			// Every request is either held in its check or answered without one; then
			// the held ones go on together.
			got := releasedTogether(n, v.arrived, v.release, codes, &wg)
			if got[401] != throttleBurst || got[429] != n-throttleBurst {
				t.Errorf("%d wrong credentials at once from one address: %v; want %d × 401 and the rest 429", n, got, throttleBurst)
			}
		})
	}
}

// releasedTogether waits until each of n requests is held in its check (arrived) or
// answered (codes), releases the held ones together, and counts every answer once all
// have ended (wg).
func releasedTogether(n int, arrived <-chan struct{}, release chan struct{}, codes chan int, wg *sync.WaitGroup) map[int]int {
	got := map[int]int{}
	for held, answered := 0, 0; held+answered < n; {
		select {
		case <-arrived:
			held++
		case c := <-codes:
			got[c]++
			answered++
		}
	}
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		got[c]++
	}
	return got
}
