package adapter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/remote"
	"github.com/emfa/emfa/store"
)

// TestRemoteRefusedPollIsTerminal: a result on a remote provider's push that is
// refused while it is pending (its user disabled, or the provider disabled) answers
// FAILED, which is terminal to Verify (contract §7: once terminal, every later poll
// returns the same terminal status). Once the refusal is lifted, a later poll must still
// answer FAILED, not ask the vendor again and answer the approval the vendor has by then.
func TestRemoteRefusedPollIsTerminal(t *testing.T) {
	for _, refusal := range []string{"user disabled", "provider disabled"} {
		t.Run(strings.ReplaceAll(refusal, " ", "_"), func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				var verdict atomic.Value
				verdict.Store("PENDING")
				vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", "application/json")
					if strings.HasSuffix(r.URL.Path, "/initiate") {
						io.WriteString(w, `{"status":"PENDING","transactionId":"vendor-tx-1"}`)
						return
					}
					io.WriteString(w, `{"status":"`+verdict.Load().(string)+`"}`)
				}))
				t.Cleanup(vendor.Close)
				engine, err := remote.New(remote.Options{Provider: "duo", Store: st, ChallengeLifetime: time.Minute,
					Webhook: &remote.Webhook{URLs: []string{vendor.URL}, Resources: map[string]remote.Resource{
						"initiate": {Suffix: "/initiate"}, "result": {Suffix: "/result"}}}})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { engine.Close() })
				if err := st.CreateUser(ctx, store.User{ID: "u-alice", Name: "alice", CreatedAt: time.Now()}); err != nil {
					t.Fatal(err)
				}
				p := &provider.Provider{Name: "Duo", CredentialPrefix: "duo", Enabled: true, Capabilities: []string{"push"},
					Engine: engine, Audit: st}
				srv := New(Options{Providers: []*provider.Provider{p}, Auth: Auth{AllowAnonymous: true}, RequestTimeout: 5 * time.Second})
				send := func(path, body string) string {
					req := httptest.NewRequest("POST", path, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					srv.Handler().ServeHTTP(rec, req)
					if rec.Code != 200 {
						t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
					}
					return strings.TrimSpace(rec.Body.String())
				}
				out := send("/v1/providers/duo/initiate", `{"capability":"push","id":"dev-1","attributes":{"username":"alice"}}`)
				const key = `"transactionId":"`
				i := strings.Index(out, key)
				if !strings.Contains(out, `"PENDING"`) || i < 0 {
					t.Fatalf("initiate: %s", out)
				}
				tx := out[i+len(key):]
				tx = tx[:strings.Index(tx, `"`)]
				poll := `{"capability":"push","id":"dev-1","transactionId":"` + tx + `","attributes":{"username":"alice"}}`

				refuse := func(on bool) {
					switch refusal {
					case "user disabled":
						if err := st.SetUserDisabled(ctx, "alice", on); err != nil {
							t.Fatal(err)
						}
					default:
						p.Enabled = !on
					}
				}
				refuse(true)
				if got := send("/v1/providers/duo/result", poll); got != `{"status":"FAILED"}` {
					t.Fatalf("poll while refused (%s): %s, want FAILED", refusal, got)
				}
				// Lifted; the user approves at the vendor meanwhile.
				refuse(false)
				verdict.Store("SUCCESS")
				if got := send("/v1/providers/duo/result", poll); got != `{"status":"FAILED"}` {
					t.Errorf("poll after a FAILED one, the refusal (%s) lifted: %s, want FAILED again (contract §7)", refusal, got)
				}
			})
		})
	}
}
