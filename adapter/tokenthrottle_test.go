package adapter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// heldClients is a store's OAuth clients whose every lookup is held until release is
// closed; arrived says that one is held.
type heldClients struct {
	store.OAuthClients
	arrived chan struct{}
	release chan struct{}
}

func (h heldClients) GetOAuthClient(ctx context.Context, id string) (store.OAuthClient, error) {
	h.arrived <- struct{}{}
	<-h.release
	return h.OAuthClients.GetOAuthClient(ctx, id)
}

// TestTokenEndpointThrottleHoldsAtOnce: the token endpoint shares the contract's
// budget of failures per address, and checks a client's secret (one store read) before
// the throttle. C64 made the contract decide and spend a guess in one step; this is the
// same promise on /oauth2/token, where the read happens before the decision: 30 wrong
// secrets of a real client, all held in the store read at once and then let go together,
// are ten 401 invalid_client and twenty 429, with weak secrets allowed or not. The right
// secret from the throttled address is still issued a token (its secrets are never weak),
// and the 20 refused are not counted against the budget again.
func TestTokenEndpointThrottleHoldsAtOnce(t *testing.T) {
	for _, weak := range []bool{false, true} {
		t.Run(fmt.Sprintf("weak=%v", weak), func(t *testing.T) {
			ah := newAdminHarness(t)
			cl, secret, err := ah.manager.CreateClient(t.Context(), "test", "verify")
			if err != nil {
				t.Fatal(err)
			}
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			hc := heldClients{OAuthClients: ah.store.(store.OAuthClients), arrived: make(chan struct{}), release: make(chan struct{})}
			h := newHarness(t, func(o *Options) {
				o.Auth.WeakSecrets = weak
				o.OAuth = &OAuth{Clients: hc, Key: key, Lifetime: 10 * time.Minute}
			})
			clk := &fakeClock{t: time.Unix(1767225600, 0)}
			h.srv.throttle.now = clk.Now
			ask := func(secret string) int {
				form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ID}, "client_secret": {secret}}
				req := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.RemoteAddr = "198.51.100.66:4000"
				rec := httptest.NewRecorder()
				h.srv.Handler().ServeHTTP(rec, req)
				return rec.Code
			}

			const n = 3 * throttleBurst
			codes := make(chan int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes <- ask(fmt.Sprintf("wrong-%d", i))
				}()
			}
			got := releasedTogether(n, hc.arrived, hc.release, codes, &wg)
			if got[401] != throttleBurst || got[429] != n-throttleBurst {
				t.Errorf("%d wrong secrets at once from one address: %v; want %d × 401 and the rest 429", n, got, throttleBurst)
			}
			// From here on, lookups go through at once.
			go func() {
				for range hc.arrived {
				}
			}()
			t.Cleanup(func() { close(hc.arrived) })
			if code := ask(secret); code != 200 {
				t.Errorf("the right secret from the throttled address: %d, want 200", code)
			}
			clk.Advance(throttleEvery)
			if code := ask("wrong-again"); code != 401 {
				t.Errorf("a wrong secret %v later: %d, want 401 (one attempt earned)", throttleEvery, code)
			}
			if code := ask("wrong-again"); code != 429 {
				t.Errorf("another wrong secret: %d, want 429", code)
			}
		})
	}
}
