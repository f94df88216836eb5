package remote

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

type lostAudits struct{}

func (lostAudits) AppendAudit(context.Context, store.AuditEvent) error {
	return errors.New("disk I/O error")
}

type storeErrors struct{ ops []string }

func (*storeErrors) VendorCall(string, string, string, time.Duration) {}
func (*storeErrors) CELError(string, string, string)                  {}
func (o *storeErrors) StoreError(op string)                           { o.ops = append(o.ops, op) }

// A propagation whose audit record is lost is counted in
// emfa_store_errors_total{operation="audit"}, as the EmfaStoreErrors alert says ("audit
// rows are lost"), not only logged.
func TestLostPropagationAuditCounted(t *testing.T) {
	v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{}` })
	obs := &storeErrors{}
	e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, Lifecycle: map[string][]LifecycleStep{
		"user.create": {{Name: "add", Resource: Resource{Suffix: "/u/add"}}},
	}}, Provider: "acme", Store: testdb.SQLite(t), Audit: lostAudits{}, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.Propagate(t.Context(), provider.LifecycleEvent{ID: "1", Type: "user.create", Source: "okta", Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(obs.ops, []string{"audit"}) {
		t.Errorf("store errors %q, want [audit]", obs.ops)
	}
}
