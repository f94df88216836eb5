package remote

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

// A token endpoint that refused the fetch (a 503, an invalid_client) had the call logged
// as kind=other, the class of nothing in particular: an operator filtering the log by
// kind could not find the calls that failed for want of a token. They are kind=authentication; a fetch that timed out stays kind=timeout.
func TestTokenFailureKind(t *testing.T) {
	t.Parallel()
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer tokenSrv.Close()
	v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{"status":"SUCCESS"}` })
	var log lockedBuffer
	e, err := New(Options{
		Webhook: &Webhook{URLs: []string{v.srv.URL},
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
	if !strings.Contains(log.String(), "kind=authentication") {
		t.Errorf("the log does not class the failed token fetch:\n%s", log.String())
	}
}
