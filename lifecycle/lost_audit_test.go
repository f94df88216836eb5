package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// lostAudits is a store whose audit records written on their own are lost.
type lostAudits struct{ store.Store }

func (lostAudits) AppendAudit(context.Context, store.AuditEvent) error {
	return errors.New("disk I/O error")
}

type storeErrors struct{ ops []string }

func (o *storeErrors) StoreError(op string) { o.ops = append(o.ops, op) }

// An action audited apart (an import's summary, a refusal) whose record is lost is
// counted in emfa_store_errors_total{operation="audit"}, as the EmfaStoreErrors alert
// says ("audit rows are lost"), not only logged.
func TestLostAdminAuditCounted(t *testing.T) {
	obs := &storeErrors{}
	m, err := lifecycle.New(lifecycle.Options{Store: lostAudits{testdb.SQLite(t)}, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Import(context.Background(), "import", nil, nil, lifecycle.ImportOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(obs.ops, []string{"audit"}) {
		t.Errorf("store errors %q, want [audit]", obs.ops)
	}
}
