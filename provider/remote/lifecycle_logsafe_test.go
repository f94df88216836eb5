package remote

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// A lifecycle call that fails says where it went without what its transform put after a
// "?" of the path it built, as a contract call's log does (TestVendorErrorsLogNoURLSecrets):
// the failure is the propagation's error, which reaches the log, the queue's note
// (emfa sync dead-letters list) and the audit record's reason.
func TestLifecycleErrorsNoPathSecrets(t *testing.T) {
	v := newVendor(t, func(r *http.Request, _ string) (int, string) { return 500, `{}` })
	for _, c := range []struct{ name, url string }{{"the vendor answers 500", v.srv.URL}, {"the vendor is down", closedURL(t)}} {
		t.Run(c.name, func(t *testing.T) {
			st := testdb.SQLite(t)
			e, err := New(Options{Webhook: &Webhook{URLs: []string{c.url}, Timeout: Duration(5 * time.Second),
				Lifecycle: map[string][]LifecycleStep{"user.delete": {{Name: "del", Resource: Resource{Method: "DELETE",
					Transform: Transform{Outgoing: `{"path": "/users/" + event.username + "?api_key=" + "vendorsecret"}`}}}}}},
				Provider: "acme", Store: st, Audit: st})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			err = e.Propagate(t.Context(), provider.LifecycleEvent{ID: "1", Type: "user.delete", Source: "okta", Username: "alice"})
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "vendorsecret") {
				t.Errorf("the error quotes the key: %v", err)
			}
			if !strings.Contains(err.Error(), "/users/alice") {
				t.Errorf("the error does not say where the call went: %v", err)
			}
			evs, err := st.ListAudit(t.Context(), store.AuditFilter{Username: "alice"})
			if err != nil || len(evs) != 1 {
				t.Fatalf("audit %+v, %v", evs, err)
			}
			if strings.Contains(evs[0].Reason, "vendorsecret") {
				t.Errorf("the audit reason quotes the key: %s", evs[0].Reason)
			}
		})
	}
}
