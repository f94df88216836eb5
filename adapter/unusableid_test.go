package adapter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/remote"
)

// TestEnrollmentsListOnlyUsableIDs: every call after the lookup refuses an id
// outside the identifier rule (provider.MaxFactorIDBytes, no control character) with
// FAILED before any engine sees it, so the lookup must not offer one: a vendor's device
// whose id is 129 bytes long was listed, and every initiate Verify then made with the id
// it was given answered FAILED — a factor offered to the user that can never work.
// Contract §4: the list is the user's usable factors.
func TestEnrollmentsListOnlyUsableIDs(t *testing.T) {
	long := strings.Repeat("d", provider.MaxFactorIDBytes+1)
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/enrollments") {
			io.WriteString(w, `[{"capability":"push","id":"`+long+`","attributes":{}},{"capability":"push","id":"dev-1","attributes":{}}]`)
			return
		}
		io.WriteString(w, `{"status":"PENDING","transactionId":"v-1"}`)
	}))
	t.Cleanup(vendor.Close)
	engine, err := remote.New(remote.Options{Provider: "duo", Store: testdb.SQLite(t),
		Webhook: &remote.Webhook{URLs: []string{vendor.URL}, Resources: map[string]remote.Resource{
			"enrollments": {Suffix: "/enrollments"}, "initiate": {Suffix: "/initiate"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	p := &provider.Provider{Name: "Duo", CredentialPrefix: "duo", Enabled: true, Capabilities: []string{"push"}, Engine: engine}
	srv := New(Options{Providers: []*provider.Provider{p}, Auth: Auth{AllowAnonymous: true}, RequestTimeout: 5 * time.Second})
	send := func(path, body string) string {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		srv.Handler().ServeHTTP(rec, req)
		return strings.TrimSpace(rec.Body.String())
	}
	list := send("/v1/providers/duo/enrollments", `{"username":"alice"}`)
	if !strings.Contains(list, long) {
		if want := `[{"capability":"push","id":"dev-1","attributes":{}}]`; list != want {
			t.Fatalf("enrollments: %s, want %s", list, want)
		}
		return
	}
	// Listed: then Verify's initiate with it must be able to work.
	out := send("/v1/providers/duo/initiate", `{"capability":"push","id":"`+long+`","attributes":{"username":"alice"}}`)
	t.Errorf("enrollments listed the %d-byte id, and initiate with it answers %s", len(long), out)
}
