package adapter

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin/delivery"
)

// scopeHarness is the admin harness with the self-service page mailing links through a
// real SMTP server, and a token of each scope.
type scopeHarness struct {
	*adminHarness
	smtp   *smtpfake.Server
	tokens map[string]string // by scope
	names  map[string]string // token names, by scope
}

func newScopeHarness(t *testing.T) *scopeHarness {
	t.Helper()
	h := newAdminHarness(t)
	srv := smtpfake.Start(t, smtpfake.Options{TLS: smtpfake.TLSNone})
	mailer, err := delivery.NewSMTP(delivery.SMTPOptions{Host: srv.Host(), Port: srv.Port(), TLS: delivery.TLSNone,
		From: "emfa <mfa@example.com>", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := h.manager.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com", Mailer: mailer,
		Subject: "Your sign-in setup", Text: "Open {{.Link}} by {{.Expires}}."})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = h.manager; o.SelfService = ss; o.MaxBodyBytes = 64 << 10 })
	desk, err := h.manager.CreateToken(t.Context(), "cli", "desk", lifecycle.ScopeHelpdesk)
	if err != nil {
		t.Fatal(err)
	}
	return &scopeHarness{adminHarness: h, smtp: srv,
		tokens: map[string]string{lifecycle.ScopeRead: h.read, lifecycle.ScopeHelpdesk: desk, lifecycle.ScopeWrite: h.write},
		names:  map[string]string{lifecycle.ScopeRead: "auditor", lifecycle.ScopeHelpdesk: "desk", lifecycle.ScopeWrite: "provisioning"}}
}

// aliceWithFactor makes alice, with an e-mail address, and an active TOTP factor; it
// returns the factor's id.
func (h *scopeHarness) aliceWithFactor(t *testing.T) string {
	t.Helper()
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice","email":"alice@example.com"}`); code != 201 {
		t.Fatalf("create alice: %d %v", code, out)
	}
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/factors", `{"type":"totp","label":"Phone","activation":"immediate"}`)
	if code != 201 {
		t.Fatalf("enroll: %d %v", code, out)
	}
	return out["factor"].(map[string]any)["id"].(string)
}

// TestAdminScopesDocumented: every admin route served has an operation in the document,
// and its x-scope is a scope there is (none only where the document asks for no token);
// a document breaking either rule is refused when read, so the server would not start.
func TestAdminScopesDocumented(t *testing.T) {
	h := newScopeHarness(t)
	scopes, err := scopesOf(adminOpenAPI())
	if err != nil {
		t.Fatalf("the document's x-scopes: %v", err)
	}
	n := 0
	for _, r := range h.srv.echo.Routes() {
		if !strings.HasPrefix(r.Path, AdminPrefix+"/") {
			continue
		}
		n++
		op := operationOf(r.Method, r.Path)
		scope, ok := scopes[op]
		switch {
		case !ok:
			t.Errorf("%s is served but has no x-scope", op)
		case scope != scopeNone && !slices.Contains(lifecycle.Scopes, scope):
			t.Errorf("%s: x-scope %q", op, scope)
		}
	}
	if n != len(scopes) || n < 20 {
		t.Errorf("%d admin routes served, %d operations with an x-scope", n, len(scopes))
	}
	if got := scopes["GET /openapi.json"]; got != scopeNone {
		t.Errorf("GET /openapi.json: x-scope %q, want none (it is served without a token)", got)
	}

	op := func(body string) []byte {
		return fmt.Appendf(nil, `{"paths":{"/users":{"parameters":[],"get":{%s}}}}`, body)
	}
	for _, tc := range []struct {
		name string
		doc  []byte
		want string
	}{
		{"no x-scope", op(`"operationId":"x"`), "GET /users has no x-scope"},
		{"an unknown scope", op(`"x-scope":"admin"`), `GET /users: x-scope "admin" is none of read, helpdesk, write, none`},
		{"none with a token", op(`"x-scope":"none"`), "GET /users: x-scope none, but its security asks for a token"},
		{"a scope without one", op(`"x-scope":"read","security":[]`), "GET /users: x-scope read, but its security is empty"},
	} {
		if _, err := scopesOf(tc.doc); err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if s, err := scopesOf(op(`"x-scope":"helpdesk"`)); err != nil || s["GET /users"] != "helpdesk" {
		t.Errorf("a helpdesk operation: %v %v", s, err)
	}
}

// TestAdminScopeTable sends every operation the document has with a token of each scope:
// a token whose scope does not include the operation's x-scope is refused 403, with a
// message naming both, an audit row and an access line naming the token, and nothing
// changes; one whose scope does passes (whatever the handler then answers).
func TestAdminScopeTable(t *testing.T) {
	h := newScopeHarness(t)
	factor := h.aliceWithFactor(t)
	ops := slices.Sorted(maps.Keys(adminScopes()))
	pathOf := func(op string) (method, path string) {
		method, path, _ = strings.Cut(op, " ")
		path = strings.NewReplacer("{user}", "alice", "{factor}", factor, "{provider}", "acme", "{capability}", "totp").Replace(path)
		return method, AdminPrefix + path
	}
	body := func(method string) string {
		if method == http.MethodPost || method == http.MethodPatch {
			return "{}"
		}
		return ""
	}
	refused, allowed := 0, 0
	// Refusals first, all of them: then whether anything changed.
	for _, op := range ops {
		need := adminScopes()[op]
		for _, scope := range lifecycle.Scopes {
			if need == scopeNone || lifecycle.ScopeAllows(scope, need) {
				continue
			}
			refused++
			method, path := pathOf(op)
			before := len(h.logs.String())
			code, out := h.admin(t, h.tokens[scope], method, path, body(method))
			e, _ := out["error"].(map[string]any)
			want := fmt.Sprintf("token %q has scope %s; this needs %s", h.names[scope], scope, need)
			if code != 403 || e["code"] != "insufficient_scope" || e["message"] != want {
				t.Errorf("%s with a %s token: %d %v, want 403 insufficient_scope %q", op, scope, code, out, want)
			}
			if line := accessLine(t, h.logs.String()[before:]); line["actor"] != h.names[scope] || line["status"] != 403.0 {
				t.Errorf("%s with a %s token: access line %v, want actor %s", op, scope, line, h.names[scope])
			}
		}
	}
	rows := h.auditRows(t, "admin.refused")
	if len(rows) != refused || refused < 30 {
		t.Errorf("%d admin.refused rows for %d refusals", len(rows), refused)
	}
	for _, r := range rows {
		if r.Actor != "auditor" && r.Actor != "desk" {
			t.Errorf("an admin.refused row's actor: %+v", r)
		}
	}
	if code, out := h.admin(t, h.write, "GET", "/admin/v1/users/alice/factors/"+factor, ""); code != 200 || out["state"] != "active" {
		t.Errorf("alice's factor after the refusals: %d %v", code, out)
	}
	if code, out := h.admin(t, h.write, "GET", "/admin/v1/users?limit=10", ""); code != 200 || len(out["users"].([]any)) != 1 {
		t.Errorf("users after the refusals: %d %v", code, out)
	}
	// Then each operation a token's scope includes: past the token check, whatever the
	// handler says of a body of {} (a write may delete alice: later ones are 404).
	for _, op := range ops {
		need := adminScopes()[op]
		for _, scope := range lifecycle.Scopes {
			if need != scopeNone && !lifecycle.ScopeAllows(scope, need) {
				continue
			}
			allowed++
			method, path := pathOf(op)
			if code, out := h.admin(t, h.tokens[scope], method, path, body(method)); code == 401 || code == 403 {
				t.Errorf("%s with a %s token: %d %v", op, scope, code, out)
			}
		}
	}
	if got := len(h.auditRows(t, "admin.refused")); got != refused {
		t.Errorf("%d admin.refused rows after the allowed requests, want still %d", got, refused)
	}
	t.Logf("%d operations: %d requests refused, %d allowed", len(ops), refused, allowed)
}

// accessLine is the last access log line (msg "request") in logs.
func accessLine(t *testing.T, logs string) map[string]any {
	t.Helper()
	var last map[string]any
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "request" {
			last = rec
		}
	}
	return last
}

// TestAdminHelpdesk: a helpdesk token unblocks and resets a person: it unlocks a factor,
// has an activation link e-mailed to the user's own address (the answer holds no link),
// deletes a factor and resets the user. A link returned to the caller needs write: the
// refusal names the scope, sends nothing and issues no link.
func TestAdminHelpdesk(t *testing.T) {
	h := newScopeHarness(t)
	desk := h.tokens[lifecycle.ScopeHelpdesk]
	factor := h.aliceWithFactor(t)
	f := "/admin/v1/users/alice/factors/" + factor

	if code, out := h.admin(t, desk, "POST", f+"/unlock", ""); code != 200 || out["id"] != factor {
		t.Errorf("unlock: %d %v", code, out)
	}

	code, out := h.admin(t, desk, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`)
	if e, _ := out["error"].(map[string]any); code != 403 || e["message"] != `token "desk" has scope helpdesk; this needs write` {
		t.Errorf("a link returned to a helpdesk token: %d %v", code, out)
	}
	if n := len(h.smtp.Messages()); n != 0 {
		t.Errorf("%d messages after the refusal", n)
	}
	if rows := h.auditRows(t, "admin.selfservice.link"); len(rows) != 0 {
		t.Errorf("a link issued on the refusal: %+v", rows)
	}
	if rows := h.auditRows(t, "admin.refused"); len(rows) != 1 || rows[0].Actor != "desk" ||
		rows[0].Reason != "insufficient scope: write needed for POST /admin/v1/users/:user/activation-link" || rows[0].Username != "alice" {
		t.Errorf("the refusal's audit rows: %+v", rows)
	}

	code, text, _ := h.do(t, "POST", "/admin/v1/users/alice/activation-link", "", "Authorization", "Bearer "+desk)
	if code != 201 || strings.Contains(text, "self-service/link") || !strings.Contains(text, `"delivered":true`) {
		t.Errorf("a link e-mailed for a helpdesk token: %d %s", code, text)
	}
	if msgs := h.smtp.To("alice@example.com"); len(msgs) != 1 || !strings.Contains(msgs[0].Data, "https://mfa.example.com/self-service/link/") {
		t.Errorf("mail to alice: %+v", msgs)
	}

	if code, _, _ := h.do(t, "DELETE", f, "", "Authorization", "Bearer "+desk); code != 204 {
		t.Errorf("delete factor: %d", code)
	}
	if code, out := h.admin(t, desk, "POST", "/admin/v1/users/alice/reset", `{"mode":"disable"}`); code != 200 || out["mode"] != "disable" {
		t.Errorf("reset: %d %v", code, out)
	}
	for _, action := range []string{"admin.factors.unlock", "admin.factors.delete", "admin.users.reset"} {
		if rows := h.auditRows(t, action); len(rows) != 1 || rows[0].Actor != "desk" {
			t.Errorf("%s rows: %+v", action, rows)
		}
	}
	// A write token still has the link returned.
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"bob"}`); code != 201 {
		t.Fatalf("create bob: %d %v", code, out)
	}
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users/bob/activation-link", `{"deliver":false}`); code != 201 || out["url"] == nil {
		t.Errorf("a link returned to a write token: %d %v", code, out)
	}
	if rows := h.auditRows(t, "admin.selfservice.link"); len(rows) != 2 {
		t.Errorf("admin.selfservice.link rows: %+v, want alice's e-mailed and bob's returned", rows)
	}
}
