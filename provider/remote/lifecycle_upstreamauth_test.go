package remote

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

// A lifecycle step's call to a vendor's admin API goes through the same send as a contract
// call: a token holding a control character fails it as an authentication fault that
// leaves the vendor's URL alone, and a 401 drops the token and is retried once with a
// fresh one. Its failure names the kind once: "authentication: authentication: oauth
// token…" read as a stutter in the audit reason and the queue's note.
func TestLifecycleUpstreamAuth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, token string
		status      int
		wantErr     string
		wantFetches int64
		wantCalls   int
	}{
		{"a token with a line break", "tok\n", 200, "access_token", 1, 0},
		{"a vendor's 401", "tok", 401, "answered 401", 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var fetches atomic.Int64
			idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fetches.Add(1)
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(map[string]any{"access_token": tc.token, "token_type": "bearer", "expires_in": 3600})
			}))
			t.Cleanup(idp.Close)
			v := newVendor(t, func(*http.Request, string) (int, string) { return tc.status, `{}` })
			e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, EjectAfter: 1,
				Authentication: Authentication{Type: AuthOAuth, OAuth: OAuth{TokenEndpoint: idp.URL, ClientID: "c", ClientSecret: "s"}},
				Lifecycle:      map[string][]LifecycleStep{"user.disable": {{Name: "off", Resource: Resource{Suffix: "/admin/v1/users/off", Method: "POST"}}}},
			}, Provider: "duo", Store: testdb.SQLite(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			err = e.Propagate(t.Context(), provider.LifecycleEvent{ID: "1", Type: "user.disable", Source: "okta", Username: "alice"})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "authentication: authentication") {
				t.Errorf("propagate: %v; want it to say %q, its kind once", err, tc.wantErr)
			}
			if n := fetches.Load(); n != tc.wantFetches {
				t.Errorf("token fetches %d, want %d", n, tc.wantFetches)
			}
			if n := len(v.requests()); n != tc.wantCalls {
				t.Errorf("vendor calls %d, want %d", n, tc.wantCalls)
			}
			if tc.status == 200 && e.urls.state[0].ejectedUntil.Load() != 0 {
				t.Errorf("the vendor's URL was ejected for the token endpoint's fault")
			}
		})
	}
}
