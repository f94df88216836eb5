package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/emfa/emfa/lifecycle"
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

// auditFailures counts the FAILED rows of action whose reason is reason.
func (h *adminHarness) auditFailures(t *testing.T, action, reason string) int {
	t.Helper()
	n := 0
	for _, r := range h.auditRows(t, action) {
		if r.Outcome == "FAILED" && r.Reason == reason {
			n++
		}
	}
	return n
}

// TestAdminScopeRefusalTraced: a read token that tries a write is refused 403, and the
// refusal names the token (never its secret), the method, the route, the address and the
// request id, in a WARN line and in an audit row: the access log alone has only the
// status and the address.
func TestAdminScopeRefusalTraced(t *testing.T) {
	h := newAdminHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	before := len(h.logs.String())
	code, text, _ := h.do(t, "DELETE", "/admin/v1/users/alice", "",
		"Authorization", "Bearer "+h.read, "X-Request-ID", "req-refused-1")
	if code != 403 || !strings.Contains(text, "insufficient_scope") {
		t.Fatalf("a read token deleting: %d %s", code, text)
	}
	var warn map[string]any
	for line := range strings.Lines(h.logs.String()[before:]) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "admin scope refused" {
			warn = rec
		}
	}
	for k, want := range map[string]any{"level": "WARN", "actor": "auditor", "scope": "read", "method": "DELETE",
		"route": "/admin/v1/users/:user", "remote": "192.0.2.1", "request_id": "req-refused-1", "need": "write"} {
		if warn[k] != want {
			t.Errorf("the refusal's log line has %s=%v, want %v (%v)", k, warn[k], want, warn)
		}
	}
	if strings.Contains(h.logs.String(), h.read) {
		t.Error("a log line holds the read token's secret")
	}
	rows := h.auditRows(t, "admin.refused")
	if len(rows) != 1 {
		t.Fatalf("%d admin.refused rows, want 1: %+v", len(rows), rows)
	}
	r := rows[0]
	if r.Actor != "auditor" || r.Outcome != "FAILED" || r.RequestID != "req-refused-1" || r.Username != "alice" ||
		r.Reason != "insufficient scope: write needed for DELETE /admin/v1/users/:user" {
		t.Errorf("the refusal's audit row: %+v", r)
	}
	if u, err := h.store.GetUser(context.Background(), "alice"); err != nil || u.Name != "alice" {
		t.Errorf("alice after the refused delete: %+v %v", u, err)
	}
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

// TestAdminAuditByActorAndRequest: a help desk finds what one token did, and everything
// one request did, by the request id its caller was answered with.
func TestAdminAuditByActorAndRequest(t *testing.T) {
	h := newAdminHarness(t)
	for _, tc := range []struct{ token, body, id string }{
		{h.write, `{"name":"bob"}`, "req-bob"},
		{h.write, `{"name":"carol"}`, "req-carol"},
		{h.write, `{"name":"bob"}`, "req-bob-again"}, // refused: bob exists
	} {
		if code, text, _ := h.do(t, "POST", "/admin/v1/users", tc.body, "Authorization", "Bearer "+tc.token, "X-Request-ID", tc.id); code >= 500 {
			t.Fatalf("%s: %d %s", tc.id, code, text)
		}
	}
	actions := func(query string) []string {
		t.Helper()
		code, page := h.admin(t, h.read, "GET", "/admin/v1/audit?"+query, "")
		if code != 200 {
			t.Fatalf("%s: %d %v", query, code, page)
		}
		var out []string
		for _, e := range page["events"].([]any) {
			ev := e.(map[string]any)
			out = append(out, fmt.Sprint(ev["action"], " ", ev["outcome"], " ", ev["user"]))
		}
		return out
	}
	for query, want := range map[string][]string{
		"requestId=req-carol":                          {"admin.users.create SUCCESS carol"},
		"requestId=req-bob-again":                      {"admin.users.create FAILED bob"},
		"requestId=req-nobody":                         nil,
		"actor=provisioning&action=admin.users.create": {"admin.users.create FAILED bob", "admin.users.create SUCCESS carol", "admin.users.create SUCCESS bob"},
		"actor=auditor":                                nil,
	} {
		if got := actions(query); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", query, got, want)
		}
	}
}

// TestAdminAuditActionsEnum: the document's action enum, which the server refuses any
// other action by, is lifecycle's list of every action the audit trail records.
func TestAdminAuditActionsEnum(t *testing.T) {
	params, err := queryParamsOf(adminOpenAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(params["GET /audit"], func(p queryParam) bool { return p.name == "action" })
	if i < 0 {
		t.Fatal("GET /audit takes no action")
	}
	if got, want := params["GET /audit"][i].values, lifecycle.AuditActions(); !slices.Equal(got, want) {
		t.Errorf("admin_openapi.json's action enum:\n%q\nlifecycle.AuditActions:\n%q", got, want)
	}
}

// TestAdminAuditRefusesWhatMatchesNothing: an action or outcome no row has, or a time
// range that holds no time, is refused with what is allowed, not answered with an empty
// page a help desk reads as "it never happened".
func TestAdminAuditRefusesWhatMatchesNothing(t *testing.T) {
	h := newAdminHarness(t)
	h.checkRefusals(t, []adminRefusal{
		{"an action never recorded", "GET", "/admin/v1/audit?action=admin.users.frobnicate", "", 400, "invalid_parameter", "action",
			[]string{"one of enrollments, ", "admin.users.create", "lifecycle:user.disable"}},
		{"an action without its admin.", "GET", "/admin/v1/audit?action=users.create", "", 400, "invalid_parameter", "action",
			[]string{`did you mean "admin.users.create"`}},
		{"an outcome never recorded", "GET", "/admin/v1/audit?outcome=OK", "", 400, "invalid_parameter", "outcome",
			[]string{"SUCCESS, FAILED, PENDING, CANCELED, TIMEOUT, SKIPPED"}},
		{"since after until", "GET", "/admin/v1/audit?since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z", "", 400, "invalid_parameter", "until",
			[]string{"must be after since"}},
		{"since at until", "GET", "/admin/v1/audit?since=2025-01-01T00:00:00Z&until=2025-01-01T00:00:00Z", "", 400, "invalid_parameter", "until",
			[]string{"must be after since"}},
	})
	for _, query := range []string{"action=validate", "action=admin.users.create&outcome=FAILED", "action=device%20answer",
		"since=2025-01-01T00:00:00Z&until=2025-01-01T00:00:00.001Z"} {
		if code, out := h.admin(t, h.read, "GET", "/admin/v1/audit?"+query, ""); code != 200 {
			t.Errorf("%s: %d %v", query, code, out)
		}
	}
}
