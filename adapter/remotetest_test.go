package adapter

import (
	"encoding/json"
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

// TestTestAnswersSuccessOrFailedWithReason: contract §8 has {base}/test answer
// {"status":"SUCCESS"} when the backend is reachable, else {"status":"FAILED",
// "attributes":{"reason":"…"}}. A remote provider passed on whatever status its test
// resource's transform made (PENDING, TIMEOUT…), and a FAILED without a reason when the
// transform gave none (IBM's own DUO test transform answers {"status":"FAILED"} for a body
// without stat, and FAILED with the vendor's body as attributes for stat FAIL).
func TestTestAnswersSuccessOrFailedWithReason(t *testing.T) {
	cases := []struct{ name, incoming string }{
		{"pending", `{"body": {"status": "PENDING"}}`},
		{"timeout", `{"body": {"status": "TIMEOUT"}}`},
		{"failed without attributes", `{"body": {"status": "FAILED"}}`},
		{"failed with the vendor's body", `{"body": {"status": "FAILED", "attributes": {"stat": "FAIL", "code": 40101}}}`},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"stat":"FAIL"}`)
			}))
			t.Cleanup(vendor.Close)
			engine, err := remote.New(remote.Options{Provider: "duo", Store: testdb.SQLite(t),
				Webhook: &remote.Webhook{URLs: []string{vendor.URL}, Resources: map[string]remote.Resource{
					"test": {Suffix: "/check", Method: "GET", Transform: remote.Transform{Incoming: c.incoming}}}}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { engine.Close() })
			p := &provider.Provider{Name: "Duo", CredentialPrefix: "duo", Enabled: true, Capabilities: []string{"push"}, Engine: engine}
			srv := New(Options{Providers: []*provider.Provider{p}, Auth: Auth{AllowAnonymous: true}, RequestTimeout: 5 * time.Second})
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/providers/duo/test", nil))
			var got struct {
				Status     string         `json:"status"`
				Attributes map[string]any `json:"attributes"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
				t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
			}
			if reason, _ := got.Attributes["reason"].(string); got.Status != "FAILED" || reason == "" {
				t.Errorf("test answered %s, want FAILED with attributes.reason (contract §8)", strings.TrimSpace(rec.Body.String()))
			}
		})
	}
}
