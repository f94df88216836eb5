package builtin_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// lostAudits is a store whose audit records written on their own are lost.
type lostAudits struct{ store.Store }

func (lostAudits) AppendAudit(context.Context, store.AuditEvent) error {
	return errors.New("disk I/O error")
}

// storeErrors counts what a builtin.Observer is told of store faults.
type storeErrors struct{ ops []string }

func (*storeErrors) CodeSent(string)        {}
func (*storeErrors) SendRefused(string)     {}
func (*storeErrors) SendFailed(string)      {}
func (*storeErrors) Lockout(string)         {}
func (o *storeErrors) StoreError(op string) { o.ops = append(o.ops, op) }

// A refused activation whose audit record is lost is counted in
// emfa_store_errors_total{operation="audit"}, as the EmfaStoreErrors alert says
// ("audit rows are lost"), not only logged.
func TestLostActivationAuditCounted(t *testing.T) {
	st := testdb.SQLite(t)
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	obs := &storeErrors{}
	now := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	e, err := builtin.New(builtin.Options{Store: lostAudits{st}, Keyring: keys, Now: now,
		Capabilities: []string{"totp"}, Config: map[string]any{}, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.CreateUser(ctx, store.User{ID: "u-alice", Name: "alice", CreatedAt: now()}); err != nil {
		t.Fatal(err)
	}
	enrolled, err := e.Enroll(ctx, enrollment("totp", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	audit := func(outcome, reason string) store.AuditEvent {
		return store.AuditEvent{Time: now(), Username: "alice", Resource: "admin.factors.activate", Outcome: outcome, Reason: reason}
	}
	// An active factor waits for no passcode: refused before any unit, audited apart.
	if _, err := e.Activate(ctx, u, enrolled.Factor.ID, "123456", audit); !errors.Is(err, builtin.ErrActivation) {
		t.Fatalf("activate: %v, want ErrActivation", err)
	}
	if !slices.Equal(obs.ops, []string{"audit"}) {
		t.Errorf("store errors %q, want [audit]", obs.ops)
	}
}
