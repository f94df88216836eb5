package adapter

import (
	"context"
	"testing"

	"github.com/emfa/emfa/store"
)

// TestSCIMCreateRefusalAudited: a SCIM POST refused for a name already taken, or for
// a userName no user can have, is recorded admin.users.create FAILED with the actor
// sync:scim and the request's id, as the admin API's same refusal is (the README: the
// directories' writes go "through the same operations as the admin API"), and as a SCIM
// POST that loses a race for the name already is. Before, the SCIM handler's own checks
// answered 409 or 400 and left no trace.
func TestSCIMCreateRefusalAudited(t *testing.T) {
	h := newSyncHarness(t)
	if code, out, _ := h.scim("POST", "/Users", `{"userName":"dana@example.com"}`, "X-Request-ID", "req-create"); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	for _, tc := range []struct {
		id, body, user, reason string
		code                   int
	}{
		{"req-again", `{"userName":"Dana@Example.com"}`, "Dana@Example.com",
			`user_exists: name: a user named "dana@example.com" exists already (user names match regardless of letter case)`, 409},
		{"req-empty", `{"userName":""}`, "", "missing_field: name: is required", 400},
	} {
		code, out, _ := h.scim("POST", "/Users", tc.body, "X-Request-ID", tc.id)
		if code != tc.code {
			t.Fatalf("%s: %d %v, want %d", tc.id, code, out, tc.code)
		}
		rows, err := h.st.QueryAudit(context.Background(), store.AuditQuery{RequestID: tc.id, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("%s: %d audit rows, want 1: %+v", tc.id, len(rows), rows)
		}
		r := rows[0]
		if r.Resource != "admin.users.create" || r.Outcome != "FAILED" || r.Actor != "sync:scim" || r.Username != tc.user || r.Reason != tc.reason {
			t.Errorf("%s: audit row %+v", tc.id, r)
		}
	}
}

// TestRefusalReasonNamesField: the audit record of a refused admin write names the
// field the refusal is about, as the answer and the log line do: "invalid_field: must be an
// integer" alone did not tell a reader of the trail which of the request's fields was at
// fault.
func TestRefusalReasonNamesField(t *testing.T) {
	h := newAdminHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	for _, tc := range []struct{ id, method, path, body, reason string }{
		{"req-attr", "PATCH", "/admin/v1/users/alice", `{"attributes":{"badge":"\u0001x"}}`,
			"invalid_field: attributes.badge: must be text without control characters"},
		{"req-digits", "POST", "/admin/v1/users/alice/factors", `{"type":"totp","params":{"digits":"7x"}}`,
			"invalid_field: params.digits: must be an integer"},
		{"req-name", "POST", "/admin/v1/users", `{"name":""}`, "missing_field: name: is required"},
	} {
		code, text, _ := h.do(t, tc.method, tc.path, tc.body, "Authorization", "Bearer "+h.write, "X-Request-ID", tc.id)
		if code != 400 {
			t.Fatalf("%s: %d %s", tc.id, code, text)
		}
		rows, err := h.store.QueryAudit(context.Background(), store.AuditQuery{RequestID: tc.id, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Outcome != "FAILED" || rows[0].Reason != tc.reason {
			t.Errorf("%s: audit rows %+v, want one FAILED with reason %q", tc.id, rows, tc.reason)
		}
	}
}
