package adapter

import (
	"context"
	"testing"

	"github.com/emfa/emfa/store"
)

// auditRows are the audit rows of action, newest first, straight from the store.
func (h *adminHarness) auditRows(t *testing.T, action string) []store.AuditEntry {
	t.Helper()
	rows, err := h.store.QueryAudit(context.Background(), store.AuditQuery{Resource: action, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestAdminAuditRequestID: an admin change and an admin refusal are recorded with the
// request id the access log has, so that the actor can be joined to the address.
func TestAdminAuditRequestID(t *testing.T) {
	h := newAdminHarness(t)
	for _, tc := range []struct{ body, id, outcome string }{
		{`{"name":"bob"}`, "req-create-ok", "SUCCESS"},
		{`{"name":"bob"}`, "req-create-again", "FAILED"},
	} {
		code, text, hdr := h.do(t, "POST", "/admin/v1/users", tc.body,
			"Authorization", "Bearer "+h.write, "X-Request-ID", tc.id)
		if hdr.Get("X-Request-ID") != tc.id {
			t.Fatalf("%s: answered with request id %q (%d %s)", tc.id, hdr.Get("X-Request-ID"), code, text)
		}
	}
	rows := h.auditRows(t, "admin.users.create")
	got := map[string]string{}
	for _, r := range rows {
		got[r.Outcome] = r.RequestID
	}
	if got["SUCCESS"] != "req-create-ok" || got["FAILED"] != "req-create-again" {
		t.Errorf("admin.users.create rows' request ids by outcome: %v", got)
	}
}
