package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"

	"github.com/emfa/emfa/internal/secretscan"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// adminHarness is the contract harness with the admin API on a real store, and a write
// and a read token.
type adminHarness struct {
	*harness
	store         store.Store
	write, read   string
	revoked       string
	manager       *lifecycle.Manager
	contractCreds []string
}

func newAdminHarness(t *testing.T) *adminHarness {
	t.Helper()
	return newAdminHarnessOn(t, testdb.SQLite(t))
}

// newAdminHarnessOn is newAdminHarness on st.
func newAdminHarnessOn(t *testing.T, st store.Store) *adminHarness {
	t.Helper()
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Capabilities: []string{"totp"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{engine},
		Capabilities: map[string][]string{"acme": {"totp", "smsOTP"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := &adminHarness{store: st, manager: m}
	ctx := context.Background()
	if h.write, err = m.CreateToken(ctx, "cli", "provisioning", lifecycle.ScopeWrite); err != nil {
		t.Fatal(err)
	}
	if h.read, err = m.CreateToken(ctx, "cli", "auditor", lifecycle.ScopeRead); err != nil {
		t.Fatal(err)
	}
	if h.revoked, err = m.CreateToken(ctx, "cli", "old", lifecycle.ScopeWrite); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeToken(ctx, "cli", "old"); err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = m; o.MaxBodyBytes = 64 << 10 })
	return h
}

// admin sends a request with a bearer token ("" for none).
func (h *adminHarness) admin(t *testing.T, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	hdr := []string{"X-None", "1"}
	if token != "" {
		hdr = []string{"Authorization", "Bearer " + token}
	}
	code, text, header := h.do(t, method, path, body, hdr...)
	var out map[string]any
	if text != "" {
		if err := json.Unmarshal([]byte(text), &out); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", method, path, code, text)
		}
	}
	if !strings.HasPrefix(header.Get("Content-Type"), "application/json") && code != http.StatusNoContent {
		t.Errorf("%s %s: Content-Type %q", method, path, header.Get("Content-Type"))
	}
	return code, out
}

// adminRouter is the admin API's document as a router, read once.
var adminRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(AdminOpenAPI())
	if err != nil {
		return nil, err
	}
	doc.Servers = openapi3.Servers{{URL: "http://example.com" + AdminPrefix}}
	return legacyrouter.NewRouter(doc)
})

// checkDocumentedStatus fails t when the admin API answered method path with a status its
// document does not list for the operation: a client generated from the document would
// have no branch for it. Every admin call of the tests' harness goes through it.
func checkDocumentedStatus(t *testing.T, method, path string, code int) {
	t.Helper()
	// 405 is the router's, for any path; 501 idempotency_key_unavailable only a server
	// built without a keyring or an idempotency store answers, which emfa serve never is.
	if !strings.HasPrefix(path, AdminPrefix+"/") || code == http.StatusMethodNotAllowed || code == http.StatusNotImplemented {
		return
	}
	router, err := adminRouter()
	if err != nil {
		t.Fatal(err)
	}
	route, _, err := router.FindRoute(httptest.NewRequest(method, "http://example.com"+path, nil))
	if err != nil {
		if code != http.StatusNotFound {
			t.Errorf("%s %s answered %d: no operation in the document", method, path, code)
		}
		return
	}
	if route.Operation.Responses.Status(code) == nil && route.Operation.Responses.Default() == nil {
		t.Errorf("%s %s answered %d, which the document's responses for %s %s do not list", method, path, code, route.Method, route.Path)
	}
}

func errorCode(out map[string]any) (code, field string) {
	e, _ := out["error"].(map[string]any)
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	return code, field
}

// TestAdminOpenAPI checks that the document is valid OpenAPI 3 and that every route the
// admin API serves is in it, and every operation in it is served.
func TestAdminOpenAPI(t *testing.T) {
	h := newAdminHarness(t)
	code, text, _ := h.do(t, http.MethodGet, AdminPrefix+"/openapi.json", "", "X-None", "1")
	if code != http.StatusOK {
		t.Fatalf("GET openapi.json: %d", code)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData([]byte(text))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3: %v", err)
	}
	served := map[string]bool{}
	for _, r := range h.srv.echo.Routes() {
		path, ok := strings.CutPrefix(r.Path, AdminPrefix)
		if !ok {
			continue
		}
		parts := strings.Split(path, "/")
		for i, p := range parts {
			if name, ok := strings.CutPrefix(p, ":"); ok {
				parts[i] = "{" + name + "}"
			}
		}
		path = strings.Join(parts, "/")
		served[r.Method+" "+path] = true
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("served but not documented: %s %s", r.Method, path)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("documented but not served: %s %s", method, path)
			}
		}
	}
	if len(served) < 20 {
		t.Errorf("only %d admin routes found", len(served))
	}
}

// TestAdminAuth: admin tokens open only the admin API, Verify's credentials only the
// contract; a read token cannot write; a revoked or missing token is refused.
func TestAdminAuth(t *testing.T) {
	h := newAdminHarness(t)
	for _, tc := range []struct {
		name, token, method, path, body string
		want                            int
		code                            string
	}{
		{"no token", "", "GET", "/admin/v1/users", "", 401, "unauthorized"},
		{"revoked", h.revoked, "GET", "/admin/v1/users", "", 401, "unauthorized"},
		{"garbage", "emfa_at_nope", "GET", "/admin/v1/users", "", 401, "unauthorized"},
		{"read token reads", h.read, "GET", "/admin/v1/users", "", 200, ""},
		{"read token writes", h.read, "POST", "/admin/v1/users", `{"name":"x"}`, 403, "insufficient_scope"},
		{"write token writes", h.write, "POST", "/admin/v1/users", `{"name":"x"}`, 201, ""},
		{"unknown admin route", h.write, "GET", "/admin/v1/nothing", "", 404, "not_found"},
		{"wrong method", h.write, "PUT", "/admin/v1/users", "", 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := h.admin(t, tc.token, tc.method, tc.path, tc.body)
			if got, _ := errorCode(out); code != tc.want || got != tc.code {
				t.Errorf("%d %q, want %d %q (%v)", code, got, tc.want, tc.code, out)
			}
		})
	}
	// Verify's Basic credentials never open the admin API...
	code, text, _ := h.do(t, "GET", "/admin/v1/users", "")
	if code != http.StatusUnauthorized || !strings.Contains(text, `"unauthorized"`) {
		t.Errorf("Verify's credentials on the admin API: %d %s", code, text)
	}
	// ...and an admin token never opens the contract.
	code, _, _ = h.do(t, "POST", "/v1/providers/acme/enrollments", `{"username":"x"}`, "Authorization", "Bearer "+h.write)
	if code != http.StatusUnauthorized {
		t.Errorf("an admin token on the contract: %d", code)
	}
}

// TestAdminBadInput: each refusal is a 4xx JSON error with a stable code and the field at
// fault, and changes nothing.
func TestAdminBadInput(t *testing.T) {
	h := newAdminHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice","phone":"+15550100100"}`); code != 201 {
		t.Fatalf("create alice: %d %v", code, out)
	}
	for _, tc := range []struct {
		name, method, path, body string
		want                     int
		code, field              string
	}{
		{"malformed JSON", "POST", "/admin/v1/users", `{"name":`, 400, "invalid_json", ""},
		{"empty body", "POST", "/admin/v1/users", ``, 400, "invalid_json", ""},
		{"trailing data", "POST", "/admin/v1/users", `{"name":"bob"} {}`, 400, "invalid_json", ""},
		{"unknown field", "POST", "/admin/v1/users", `{"name":"bob","nick":"b"}`, 400, "unknown_field", "nick"},
		{"wrong type", "POST", "/admin/v1/users", `{"name":"bob","groups":"g"}`, 400, "invalid_field", "groups"},
		{"missing name", "POST", "/admin/v1/users", `{"email":"b@example.com"}`, 400, "missing_field", "name"},
		{"control character", "POST", "/admin/v1/users", `{"name":"bo\u0000b"}`, 400, "invalid_field", "name"},
		{"invalid phone", "POST", "/admin/v1/users", `{"name":"bob","phone":"555-0100"}`, 400, "invalid_phone", "phone"},
		{"invalid email", "POST", "/admin/v1/users", `{"name":"bob","email":"not an address"}`, 400, "invalid_email", "email"},
		{"duplicate", "POST", "/admin/v1/users", `{"name":"alice"}`, 409, "user_exists", "name"},
		{"rename a user", "PATCH", "/admin/v1/users/alice", `{"name":"alicia"}`, 400, "immutable_field", "name"},
		{"bad phone on update", "PATCH", "/admin/v1/users/alice", `{"phone":"0"}`, 400, "invalid_phone", "phone"},
		{"unknown state", "POST", "/admin/v1/users", `{"name":"bob","state":"suspended"}`, 400, "invalid_field", "state"},
		{"state not a string", "POST", "/admin/v1/users", `{"name":"bob","state":false}`, 400, "invalid_field", "state"},
		{"invite a disabled user", "POST", "/admin/v1/users", `{"name":"bob","email":"b@example.com","state":"disabled","invite":true}`, 400, "invalid_field", "invite"},
		{"unknown state on update", "PATCH", "/admin/v1/users/alice", `{"phone":"+15550100999","state":"off"}`, 400, "invalid_field", "state"},
		{"unknown user", "GET", "/admin/v1/users/nobody", "", 404, "not_found", "user"},
		{"bad state filter", "GET", "/admin/v1/users?state=gone", "", 400, "invalid_parameter", "state"},
		{"bad cursor", "GET", "/admin/v1/users?cursor=***", "", 400, "invalid_parameter", "cursor"},
		{"unknown type", "POST", "/admin/v1/users/alice/factors", `{"type":"fax"}`, 400, "unknown_type", "type"},
		{"unknown param", "POST", "/admin/v1/users/alice/factors", `{"type":"totp","params":{"colour":"red"}}`, 400, "unknown_field", "params.colour"},
		{"missing phone", "POST", "/admin/v1/users/alice/factors", `{"type":"smsotp"}`, 400, "missing_field", "params.phone"},
		{"bad activation", "POST", "/admin/v1/users/alice/factors", `{"type":"totp","activation":"onFirstUse"}`, 400, "invalid_activation", "activation"},
		{"short seed", "POST", "/admin/v1/users/alice/factors", `{"type":"totp","params":{"secret":"JBSWY3DP"}}`, 400, "invalid_field", "params"},
		{"digits", "POST", "/admin/v1/users/alice/factors", `{"type":"totp","params":{"digits":"7"}}`, 400, "invalid_field", "params"},
		{"period", "POST", "/admin/v1/users/alice/factors", `{"type":"totp","params":{"period":"5"}}`, 400, "invalid_field", "params"},
		{"algorithm", "POST", "/admin/v1/users/alice/factors", `{"type":"totp","params":{"algorithm":"MD5"}}`, 400, "invalid_field", "params"},
		{"unknown factor", "POST", "/admin/v1/users/alice/factors/nope/activate", `{"passcode":"123456"}`, 404, "not_found", "factor"},
		{"bad reset mode", "POST", "/admin/v1/users/alice/reset", `{"mode":"wipe"}`, 400, "invalid_parameter", "mode"},
		{"switch unknown provider", "POST", "/admin/v1/switches/nope/totp/disable", `{"reason":"x"}`, 404, "not_found", "provider"},
		{"switch without reason", "POST", "/admin/v1/switches/acme/totp/disable", `{}`, 400, "missing_field", "reason"},
		{"import without format", "POST", "/admin/v1/import", "username\nbob\n", 400, "invalid_format", "format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := h.admin(t, h.write, tc.method, tc.path, tc.body)
			c, f := errorCode(out)
			if code != tc.want || c != tc.code || f != tc.field {
				t.Errorf("%d %s %s, want %d %s %s (%v)", code, c, f, tc.want, tc.code, tc.field, out)
			}
		})
	}
	users, err := h.store.ListUserRecords(context.Background(), store.UserQuery{})
	if err != nil || len(users) != 1 {
		t.Errorf("after the refusals: %d users, %v; want alice alone", len(users), err)
	}
	u, _ := h.store.GetUserRecord(context.Background(), "alice")
	fs, _ := h.store.ListFactors(context.Background(), u.ID)
	if u.Profile.Phone != "+15550100100" || u.Disabled || len(fs) != 0 {
		t.Errorf("alice changed by refusals: %+v, %d factors", u.Profile, len(fs))
	}
	// Refusals are audited with the token's name.
	page, err := h.manager.QueryAudit(context.Background(), lifecycle.AuditQuery{Action: "admin.users.create", Outcome: "FAILED"})
	if err != nil || len(page.Events) == 0 || page.Events[0].Actor != "provisioning" {
		t.Errorf("audit of refused creations: %+v, %v", page.Events, err)
	}
}

// TestAdminUserState: a user may be created disabled, and PATCH may set the state alone or
// with the profile.
func TestAdminUserState(t *testing.T) {
	h := newAdminHarness(t)
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"dee","email":"dee@example.com","state":"disabled"}`)
	if code != 201 || out["state"] != "disabled" {
		t.Fatalf("create disabled: %d %v", code, out)
	}
	code, out = h.admin(t, h.write, "PATCH", "/admin/v1/users/dee", `{"state":"active"}`)
	if code != 200 || out["state"] != "active" || out["email"] != "dee@example.com" {
		t.Fatalf("enable by PATCH: %d %v", code, out)
	}
	code, out = h.admin(t, h.write, "PATCH", "/admin/v1/users/dee", `{"displayName":"Dee","state":"disabled"}`)
	if code != 200 || out["state"] != "disabled" || out["displayName"] != "Dee" || out["email"] != "dee@example.com" {
		t.Fatalf("profile and state by PATCH: %d %v", code, out)
	}
}

// TestAdminUserETag: a user's answers carry its ETag, and a PATCH with If-Match applies
// only to that version: 412 user_changed, audited, when another change came since.
func TestAdminUserETag(t *testing.T) {
	h := newAdminHarness(t)
	auth := []string{"Authorization", "Bearer " + h.write}
	code, _, hdr := h.do(t, "POST", "/admin/v1/users", `{"name":"ivy","groups":["a"]}`, auth...)
	created := hdr.Get("ETag")
	if code != 201 || !strings.HasPrefix(created, `"`) {
		t.Fatalf("create: %d, ETag %q", code, created)
	}
	if _, _, hdr := h.do(t, "GET", "/admin/v1/users/IVY", "", auth...); hdr.Get("ETag") != created {
		t.Fatalf("GET's ETag %q, the create's %q", hdr.Get("ETag"), created)
	}
	patch := func(body string, ifMatch string) (int, string, string) {
		t.Helper()
		code, text, hdr := h.do(t, "PATCH", "/admin/v1/users/ivy", body, append(slices.Clone(auth), "If-Match", ifMatch)...)
		return code, text, hdr.Get("ETag")
	}
	code, text, next := patch(`{"groups":["a","b"]}`, created)
	if code != 200 || next == created || next == "" {
		t.Fatalf("PATCH on the current version: %d %s, ETag %q", code, text, next)
	}
	// The read before it, a version gone: refused, nothing changed.
	code, text, _ = patch(`{"groups":["a","c"]}`, created)
	var out map[string]any
	_ = json.Unmarshal([]byte(text), &out)
	if c, _ := errorCode(out); code != 412 || c != lifecycle.CodeChanged {
		t.Fatalf("PATCH on a stale version: %d %s", code, text)
	}
	for _, tag := range []string{`W/` + next, `"other.2"`, `"x"`, next[:len(next)-1]} {
		if code, text, _ := patch(`{"groups":[]}`, tag); code != 412 {
			t.Errorf("If-Match %s: %d %s", tag, code, text)
		}
	}
	if code, text, _ := patch(`{"displayName":"Ivy"}`, "*"); code != 200 {
		t.Errorf("If-Match *: %d %s", code, text)
	}
	u, _ := h.manager.GetUser(t.Context(), "ivy")
	if !slices.Equal(u.Groups, []string{"a", "b"}) || u.DisplayName != "Ivy" {
		t.Errorf("after the refusals: %+v", u)
	}
	page, err := h.manager.QueryAudit(t.Context(), lifecycle.AuditQuery{User: "ivy"})
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, ev := range page.Events {
		if ev.Outcome == "FAILED" && strings.HasPrefix(ev.Reason, lifecycle.CodeChanged+": ") {
			refused++
		}
	}
	if refused != 5 {
		t.Errorf("%d refusals recorded, want 5", refused)
	}
}

// TestAdminUserETagStateAndDelete: disable, enable and DELETE with If-Match apply only to
// that version of the user, as PATCH does: 412 user_changed, nothing done, otherwise.
func TestAdminUserETagStateAndDelete(t *testing.T) {
	h := newAdminHarness(t)
	auth := []string{"Authorization", "Bearer " + h.write}
	do := func(method, path, ifMatch string) (int, string, string) {
		t.Helper()
		code, text, hdr := h.do(t, method, "/admin/v1/users/jo"+path, "", append(slices.Clone(auth), "If-Match", ifMatch)...)
		return code, text, hdr.Get("ETag")
	}
	_, _, hdr := h.do(t, "POST", "/admin/v1/users", `{"name":"jo"}`, auth...)
	created := hdr.Get("ETag")
	code, text, disabled := do("POST", "/disable", created)
	if code != 200 || disabled == created || disabled == "" {
		t.Fatalf("disable on the current version: %d %s, ETag %q", code, text, disabled)
	}
	for _, req := range [][2]string{{"POST", "/enable"}, {"POST", "/disable"}, {"DELETE", ""}} {
		code, text, _ := do(req[0], req[1], created)
		var out map[string]any
		_ = json.Unmarshal([]byte(text), &out)
		if c, _ := errorCode(out); code != 412 || c != lifecycle.CodeChanged {
			t.Errorf("%s %s on a stale version: %d %s", req[0], req[1], code, text)
		}
	}
	if u, err := h.manager.GetUser(t.Context(), "jo"); err != nil || u.State != lifecycle.StateDisabled {
		t.Fatalf("after the refusals: %+v, %v", u, err)
	}
	if code, text, _ := do("DELETE", "", `"other.1"`); code != 412 {
		t.Errorf("DELETE with another user's tag: %d %s", code, text)
	}
	if code, text, _ := do("DELETE", "", disabled); code != 204 {
		t.Fatalf("DELETE on the current version: %d %s", code, text)
	}
	if code, text, _ := do("DELETE", "", disabled); code != 404 {
		t.Errorf("DELETE of a user gone: %d %s", code, text)
	}
	page, err := h.manager.QueryAudit(t.Context(), lifecycle.AuditQuery{User: "jo"})
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]int{}
	for _, ev := range page.Events {
		if ev.Outcome == "FAILED" && strings.HasPrefix(ev.Reason, lifecycle.CodeChanged+": ") {
			refused[ev.Action]++
		}
	}
	if want := map[string]int{"admin.users.enable": 1, "admin.users.disable": 1, "admin.users.delete": 2}; !maps.Equal(refused, want) {
		t.Errorf("refusals recorded %v, want %v", refused, want)
	}
}

// TestAdminSecretsNotLogged: tokens, seeds and activation codes never reach the log.
func TestAdminSecretsNotLogged(t *testing.T) {
	h := newAdminHarness(t)
	h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`)
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/factors", `{"type":"totp"}`)
	if code != 201 {
		t.Fatalf("enroll: %d %v", code, out)
	}
	enr := out["enrollment"].(map[string]any)
	secret := enr["secret"].(string)
	if qr, _ := enr["qrCode"].(string); !strings.HasPrefix(qr, "data:image/png;base64,") {
		t.Errorf("qrCode %.40q", qr)
	}
	if f := out["factor"].(map[string]any); f["state"] != "pending_activation" {
		t.Errorf("an API-enrolled TOTP factor is %v", f["state"])
	}
	h.admin(t, h.write, "POST", "/admin/v1/users/alice/factors/"+out["factor"].(map[string]any)["id"].(string)+"/activate", `{"passcode":"987654"}`)
	h.admin(t, h.revoked, "GET", "/admin/v1/users", "")
	logs := h.logs.String()
	for _, s := range []string{h.write, h.read, h.revoked, secret, "987654"} {
		if secretscan.Holds(logs, s) { // the passcode as a word: timestamps and request ids hold random digits
			t.Errorf("the log holds a secret %.12q...", s)
		}
	}
	if !slices.ContainsFunc(strings.Split(logs, "\n"), func(l string) bool { return strings.Contains(l, "admin authentication failed") }) {
		t.Error("a refused token is not logged at all")
	}
}

// TestAdminResyncHOTP: an HOTP token that ran ahead is found again from two consecutive
// codes; every refusal says why, changes nothing and is recorded, and no record names a
// code.
func TestAdminResyncHOTP(t *testing.T) {
	h := newAdminHarness(t)
	seed := []byte("12345678901234567890")
	code := func(c uint64) string { return builtin.HOTP(builtin.SHA1, seed, c, 6) }
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create alice: %d %v", code, out)
	}
	enroll := func(body string) string {
		t.Helper()
		code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/factors", body)
		f, _ := out["factor"].(map[string]any)
		id, _ := f["id"].(string)
		if code != 201 || id == "" {
			t.Fatalf("enroll %s: %d %v", body, code, out)
		}
		return id
	}
	hotp := enroll(`{"type":"hotp","activation":"immediate","params":{"secret":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}}`)
	totp := enroll(`{"type":"totp","activation":"immediate"}`)
	path := func(id string) string { return "/admin/v1/users/alice/factors/" + id + "/resync" }
	body := func(codes ...string) string {
		b, _ := json.Marshal(map[string]any{"codes": codes})
		return string(b)
	}
	for _, tc := range []struct {
		name, token, path, body string
		want                    int
		code                    string
	}{
		{"a gap between the codes", h.write, path(hotp), body(code(300), code(302)), 422, "not_synchronised"},
		{"the codes swapped", h.write, path(hotp), body(code(301), code(300)), 422, "not_synchronised"},
		{"beyond the window", h.write, path(hotp), body(code(5000), code(5001)), 422, "not_synchronised"},
		{"one code", h.write, path(hotp), body(code(300)), 400, "invalid_field"},
		{"three codes", h.write, path(hotp), body(code(300), code(301), code(302)), 400, "invalid_field"},
		{"not digits", h.write, path(hotp), body("abcdef", "ghijkl"), 400, "invalid_field"},
		{"a TOTP factor", h.write, path(totp), body(code(300), code(301)), 409, "not_hotp"},
		{"truncated JSON", h.write, path(hotp), `{"codes":["1`, 400, "invalid_json"},
		{"an unknown field", h.write, path(hotp), `{"codes":[],"code":"1"}`, 400, "unknown_field"},
		{"no such factor", h.write, path("nope"), body(code(300), code(301)), 404, "not_found"},
		{"a read token", h.read, path(hotp), body(code(300), code(301)), 403, "insufficient_scope"},
	} {
		if code, out := h.admin(t, tc.token, "POST", tc.path, tc.body); code != tc.want {
			t.Errorf("%s: %d %v, want %d %s", tc.name, code, out, tc.want, tc.code)
		} else if got, _ := errorCode(out); got != tc.code {
			t.Errorf("%s: code %q, want %q (%v)", tc.name, got, tc.code, out)
		}
	}
	if f, err := h.store.GetFactor(context.Background(), hotp); err != nil || f.Counter != -1 {
		t.Fatalf("after the refusals the counter is %d (%v), want -1: unmoved", f.Counter, err)
	}
	code200, out := h.admin(t, h.write, "POST", path(hotp), body(code(300), code(301)))
	if f, _ := out["factor"].(map[string]any); code200 != 200 || out["nextCounter"] != float64(302) || f["id"] != hotp {
		t.Fatalf("resync: %d %v", code200, out)
	}
	if code, out := h.admin(t, h.write, "POST", path(hotp), body(code(300), code(301))); code != 422 {
		t.Errorf("the same codes again: %d %v, want 422", code, out)
	}
	_, page := h.admin(t, h.read, "GET", "/admin/v1/audit?action=admin.factors.resync", "")
	events, _ := page["events"].([]any)
	var outcomes []string
	for _, e := range events {
		ev := e.(map[string]any)
		outcomes = append(outcomes, ev["outcome"].(string))
		for _, c := range []string{code(300), code(301), code(302), code(5000)} {
			if strings.Contains(fmt.Sprint(ev), c) {
				t.Errorf("a record names a code: %v", ev)
			}
		}
		if ev["actor"] != "provisioning" || ev["user"] != "alice" || ev["capability"] != map[bool]string{true: "totp", false: "hotp"}[ev["factorId"] == totp] {
			t.Errorf("record %v", ev)
		}
	}
	// Newest first: the refused repeat, the success, then the seven refusals of a factor
	// that exists (the unknown one and the read token's are no resynchronisation).
	if want := "FAILED SUCCESS FAILED FAILED FAILED FAILED FAILED FAILED FAILED"; strings.Join(outcomes, " ") != want {
		t.Errorf("records %v, want %s", outcomes, want)
	}
}

// TestAdminAnswersMatchOpenAPI: the answers of a walk through the admin API, refusals
// included, each validated against the document (status listed, body of its schema).
func TestAdminAnswersMatchOpenAPI(t *testing.T) {
	h := newAdminHarness(t)
	_, text, _ := h.do(t, http.MethodGet, AdminPrefix+"/openapi.json", "", "X-None", "1")
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: "http://example.com" + AdminPrefix}}
	router, err := legacyrouter.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	long := `{"username":"zed","displayName":"` + strings.Repeat("z", 1<<20) + `"}`
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/users", `{"name":"alice","email":"alice@example.com"}`},
		{"POST", "/users", `{"name":"alice"}`}, // 409
		{"GET", "/users/alice", ""},
		{"GET", "/users/nobody", ""}, // 404
		{"POST", "/users/alice/factors", `{"type":"totp"}`},
		{"GET", "/users/alice/factors", ""},
		{"POST", "/users/alice/reset", `{"mode":"disable"}`},
		{"POST", "/import?format=csv", "username\n"},                                // no rows
		{"POST", "/import?format=csv&invite=true", "username\nbob\n"},               // 409: self-service off
		{"POST", "/import?format=jsonl", long + "\n" + `{"username":"yan"}` + "\n"}, // a row too long, refused alone
		{"GET", "/users?limit=1", ""},
		{"GET", "/users/alice?expand=factors", ""},             // 400 unknown_parameter
		{"GET", "/audit?outcome=failed", ""},                   // 400 invalid_parameter
		{"POST", "/users", `{"name":"x1","name":"x2"}`},        // 400 duplicate_field
		{"DELETE", "/users/alice/factors/nope?force=true", ""}, // 400 unknown_parameter
	} {
		req := httptest.NewRequest(tc.method, "http://example.com"+AdminPrefix+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		if strings.Contains(tc.path, "format=csv") {
			req.Header.Set("Content-Type", "text/csv")
		}
		req.Header.Set("Authorization", "Bearer "+h.write)
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		if strings.Contains(tc.path, "jsonl") && (rec.Code != 200 || !strings.Contains(rec.Body.String(), `"created":1,`) || !strings.Contains(rec.Body.String(), `"refused":1,`)) {
			t.Errorf("a row too long should be refused alone: %d %.300s", rec.Code, rec.Body.String())
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s: no route in the document: %v", tc.method, tc.path, err)
			continue
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(rec.Body.Bytes())
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s %s: %d %.300s\ndoes not match the document: %v", tc.method, tc.path, rec.Code, rec.Body.String(), err)
		}
	}
}
