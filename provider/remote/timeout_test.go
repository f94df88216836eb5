package remote

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// outcomes is an Observer that keeps the outcome of every vendor call.
type outcomes struct {
	mu   sync.Mutex
	seen []string
}

func (o *outcomes) VendorCall(_, resource, outcome string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, resource+" "+outcome)
}

func (*outcomes) CELError(string, string, string) {}
func (*outcomes) StoreError(string)               {}

func (o *outcomes) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.seen...)
}

// The configured timeout bounds the whole call as Verify sees it: the token fetch, the
// request and the retry with a fresh token share one deadline, set before the token is
// fetched. Read from the requests' contexts, so nothing here depends on how fast the
// machine is.
func TestTimeoutBoundsTokenFetchAndRetry(t *testing.T) {
	const timeout = time.Minute
	var mu sync.Mutex
	var tokenAt []time.Time // when the token endpoint saw each fetch
	var deadlines []time.Time
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokenAt = append(tokenAt, time.Now())
		n := len(tokenAt)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"bearer","expires_in":3600}`, n)
	}))
	t.Cleanup(tokenSrv.Close)
	v := newVendor(t, func(r *http.Request, _ string) (int, string) {
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			return 401, `{"error":"expired"}`
		}
		return 200, `{"status":"SUCCESS"}`
	})
	e, err := New(Options{
		Webhook: &Webhook{
			URLs:    []string{v.srv.URL},
			Timeout: Duration(timeout),
			Authentication: Authentication{Type: AuthOAuth, OAuth: OAuth{
				TokenEndpoint: tokenSrv.URL, ClientID: "c", ClientSecret: "s"}},
			Resources: map[string]Resource{"validate": {Suffix: "/v"}},
		},
		Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute,
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				d, ok := r.Context().Deadline()
				if !ok {
					t.Errorf("a vendor request without a deadline")
				}
				mu.Lock()
				deadlines = append(deadlines, d)
				mu.Unlock()
				return rt.RoundTrip(r)
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })

	if out, _ := e.Validate(context.Background(), req("totp", "", "1")); out.Status != provider.StatusSuccess {
		t.Fatalf("validate: %+v", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tokenAt) != 2 || len(deadlines) != 2 {
		t.Fatalf("%d token fetches, %d vendor requests; want 2, 2", len(tokenAt), len(deadlines))
	}
	if !deadlines[1].Equal(deadlines[0]) {
		t.Errorf("the retry's deadline is %v after the first request's: each attempt had a timeout of its own",
			deadlines[1].Sub(deadlines[0]))
	}
	if start := deadlines[0].Add(-timeout); !start.Before(tokenAt[0]) {
		t.Errorf("the call's timeout started %v after the token endpoint was asked: the token fetch was not bounded by it",
			start.Sub(tokenAt[0]))
	}
}

// A token endpoint that stalls after the vendor refused the first token: the call ends
// at its timeout, counted as one, however long the endpoint takes.
func TestTimeoutStalledTokenRefresh(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	fetches := 0
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches++
		n := fetches
		mu.Unlock()
		if n > 1 {
			<-release // stalls past any timeout: only the test lets it go
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"bearer","expires_in":3600}`, n)
	}))
	t.Cleanup(tokenSrv.Close)
	t.Cleanup(func() { close(release) }) // runs before tokenSrv.Close
	v := newVendor(t, func(*http.Request, string) (int, string) { return 401, `{}` })
	obs := &outcomes{}
	e, err := New(Options{
		Webhook: &Webhook{
			URLs:    []string{v.srv.URL},
			Timeout: Duration(time.Second), // room for the first token and the 401 on a loaded machine
			Authentication: Authentication{Type: AuthOAuth, OAuth: OAuth{
				TokenEndpoint: tokenSrv.URL, ClientID: "c", ClientSecret: "s"}},
			Resources: map[string]Resource{"validate": {Suffix: "/v"}},
		},
		Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute, Observer: obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })

	if out, _ := e.Validate(context.Background(), req("totp", "", "1")); out.Status != provider.StatusFailed {
		t.Fatalf("validate: %+v", out)
	}
	if got := obs.list(); len(got) != 1 || got[0] != "validate timeout" {
		t.Errorf("vendor calls counted %q, want [validate timeout]", got)
	}
	if n := len(v.requests()); n > 1 {
		t.Errorf("%d vendor requests, want 1 (the retry never got its token)", n)
	}
}
