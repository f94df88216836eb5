package adapter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestAdminBodyRefusalAudited: a body refused before the Manager sees it (not JSON, a field
// the request does not have, too large) is recorded as admin.refused FAILED under the
// token's name, with the route and why, once, whether or not an Idempotency-Key runs it;
// the record names the body's keys, never its values. A refusal of the Manager's own is
// recorded under its action only.
func TestAdminBodyRefusalAudited(t *testing.T) {
	h := newAdminHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	post := func(path, body string, hdr ...string) int {
		code, _, _ := h.do(t, "POST", path, body, append([]string{"Authorization", "Bearer " + h.write}, hdr...)...)
		return code
	}
	if code := post("/admin/v1/users", `{"name":"bob","mail":"bob@example.com"}`); code != 400 {
		t.Errorf("an unknown field: %d, want 400", code)
	}
	if code := post("/admin/v1/users/alice/factors", `{"type":"totp",`); code != 400 {
		t.Errorf("broken JSON: %d, want 400", code)
	}
	if code, _, _ := h.do(t, "PATCH", "/admin/v1/users/alice", `{"email":"alice@example.com","phone":"+15550100","phone":"x"}`,
		"Authorization", "Bearer "+h.write); code != 400 {
		t.Errorf("a key twice: %d, want 400", code)
	}
	// Too large, as a client streaming without a Content-Length finds out.
	req := httptest.NewRequest("PATCH", "/admin/v1/users/alice", io.NopCloser(strings.NewReader(`{"displayName":"`+strings.Repeat("a", 70<<10)+`"}`)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+h.write)
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a streamed body too large: %d, want 413", rec.Code)
	}
	// The Manager's own refusal: recorded as admin.users.update, not again here.
	if code, _, _ := h.do(t, "PATCH", "/admin/v1/users/alice", `{"phone":"555"}`, "Authorization", "Bearer "+h.write); code != 400 {
		t.Errorf("a bad phone: %d, want 400", code)
	}

	var got []string
	for _, r := range h.auditRows(t, "admin.refused") {
		if r.Actor != "provisioning" || r.Outcome != "FAILED" {
			t.Errorf("row %+v, want provisioning's FAILED", r)
		}
		got = append([]string{r.Username + " | " + r.Reason}, got...) // oldest first
	}
	want := []string{
		" | POST /admin/v1/users: unknown_field: mail: is not a field of this request",
		"alice | POST /admin/v1/users/:user/factors: invalid_json: body is not a valid JSON object",
		"alice | PATCH /admin/v1/users/:user: duplicate_field: phone: is given more than once (keys are matched in any case); give it once",
		"alice | PATCH /admin/v1/users/:user: body_too_large: body too large",
	}
	if len(got) != len(want) {
		t.Fatalf("admin.refused rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("row %d: %q, want it to start %q", i, got[i], want[i])
		}
		for _, value := range []string{"bob@example.com", "alice@example.com", "+15550100"} {
			if strings.Contains(got[i], value) {
				t.Errorf("row %d quotes %q: %q", i, value, got[i])
			}
		}
	}
}

// TestAdminBodyRefusalAuditedOnceUnderIdempotencyKey: the Idempotency-Key handling answers
// the handler's error itself; the refusal is recorded once all the same, and its retry,
// answered from the record, records nothing more.
func TestAdminBodyRefusalAuditedOnceUnderIdempotencyKey(t *testing.T) {
	st := testdb.SQLite(t)
	a := newIdemAdmin(t, st, &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)})
	tok := a.token(t, "provisioning")
	for range 2 {
		if code, text, _ := a.post(t, tok, "k-1", "/admin/v1/users", `{"name":"bob","mail":"bob@example.com"}`); code != 400 {
			t.Errorf("an unknown field under an Idempotency-Key: %d %s, want 400", code, text)
		}
	}
	rows, err := st.QueryAudit(context.Background(), store.AuditQuery{Resource: "admin.refused", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Actor != "provisioning" ||
		!strings.HasPrefix(rows[0].Reason, "POST /admin/v1/users: unknown_field: mail: is not a field of this request") {
		t.Errorf("admin.refused rows %+v, want one for the unknown field", rows)
	}
}
