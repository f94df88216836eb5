package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestNewLookAlikeNameRefusedOnEveryPath: a user is not created under a name holding an
// invisible or bidirectional control character, nor one not in NFC, by the admin API
// (400 naming the code point), SCIM (400 naming it) or a directory's event (Okta's, Verify's: skipped,
// logged with the reason).
func TestNewLookAlikeNameRefusedOnEveryPath(t *testing.T) {
	t.Run("admin", func(t *testing.T) {
		h := newAdminHarness(t)
		for name, want := range map[string]string{"alice\u200b": "U+200B, at character 6", "jose\u0301": "U+0065 U+0301 is U+00E9"} {
			body, _ := json.Marshal(map[string]string{"name": name})
			code, out := h.admin(t, h.write, "POST", AdminPrefix+"/users", string(body))
			e, _ := out["error"].(map[string]any)
			if msg, _ := e["message"].(string); code != http.StatusBadRequest || e["field"] != "name" || !strings.Contains(msg, want) {
				t.Errorf("POST /users %q: %d %v, want 400 saying %q", name, code, out, want)
			}
		}
	})
	t.Run("scim", func(t *testing.T) {
		h := newSyncHarness(t)
		code, out, _ := h.scim("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice\u202e"}`)
		if detail, _ := out["detail"].(string); code != http.StatusBadRequest || !strings.Contains(detail, "U+202E") {
			t.Errorf("SCIM POST of alice\\u202e: %d %v, want 400 naming U+202E", code, out)
		}
		if _, ok := h.user("alice\u202e"); ok {
			t.Error("SCIM created alice\\u202e")
		}
	})
	t.Run("okta", func(t *testing.T) {
		h := newSyncHarness(t)
		code, _, _ := h.do("POST", OktaPath, oktaBatch(okEv("e1", "user.lifecycle.create", "alice\u2066@example.com", 1)), "X-Okta-Secret", testSecret)
		if code/100 != 2 {
			t.Fatalf("event hook: %d", code)
		}
		h.drain()
		if _, ok := h.user("alice\u2066@example.com"); ok {
			t.Fatal("Okta's event created alice\\u2066@example.com")
		}
		if !strings.Contains(h.logs.String(), `msg="sync event skipped" source=okta event_id=e1 type=user.create seq=1 reason="invalid_field: name: holds a bidirectional control, U+2066, at character 6`) {
			t.Errorf("the refused creation is not logged with its reason:\n%s", h.logs)
		}
	})
	t.Run("verify", func(t *testing.T) {
		h := newSyncHarness(t)
		body := `{"id":"n1","event_type":"management","tenantid":"t","time":1777626000000,"data":{"resource":"user","action":"created","targetid":"6000","username":"bob\u200d","result":"success"}}`
		if code, _, _ := h.do("POST", VerifyPath, body, "X-Verify-Secret", testSecret, "X-Webhook-ID", "n1"); code/100 != 2 {
			t.Fatalf("notification: %d", code)
		}
		h.drain()
		if _, ok := h.user("bob\u200d"); ok {
			t.Fatal("Verify's notification created bob\\u200d")
		}
		if !strings.Contains(h.logs.String(), `reason="invalid_field: name: holds an invisible character, U+200D, at character 4`) {
			t.Errorf("the refused creation is not logged with its reason:\n%s", h.logs)
		}
	})
}

// TestStoredLookAlikeNameKeepsWorking: a user stored under such a name before emfa
// refused them is found by the contract under the name Verify sends (the contract's
// username is held to the contract's rule alone), suspended by its directory's event,
// and deleted by the admin API.
func TestStoredLookAlikeNameKeepsWorking(t *testing.T) {
	const name = "alice\u200b"
	st := testdb.SQLite(t)
	u := store.User{ID: "legacy1", Name: name, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := st.ApplyUserChanges(context.Background(), []store.UserChange{{Name: name, Create: &u, Now: u.CreatedAt}})[0]; err != nil {
		t.Fatal(err)
	}
	t.Run("contract and admin", func(t *testing.T) {
		keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
		if err != nil {
			t.Fatal(err)
		}
		engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Capabilities: []string{"totp"}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{engine}, Capabilities: map[string][]string{"acme": {"totp"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.EnrollFactor(context.Background(), "test", name, lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationImmediate}); err != nil {
			t.Fatalf("enroll %q: %v", name, err)
		}
		token, err := m.CreateToken(context.Background(), "cli", "provisioning", lifecycle.ScopeWrite)
		if err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, func(o *Options) { o.Admin = m; o.Providers[0].Engine = engine; o.MaxBodyBytes = 64 << 10 })
		body, _ := json.Marshal(map[string]string{"username": name})
		code, text, _ := h.do(t, "POST", "/v1/providers/acme/enrollments", string(body))
		if code != http.StatusOK || !strings.Contains(text, `"capability":"totp"`) {
			t.Errorf("enrollments of %q: %d %s, want its TOTP factor", name, code, text)
		}
		code, text, _ = h.do(t, "DELETE", AdminPrefix+"/users/"+url.PathEscape(name), "", "Authorization", "Bearer "+token)
		if code != http.StatusNoContent {
			t.Errorf("DELETE %q: %d %s", name, code, text)
		}
	})
	t.Run("okta", func(t *testing.T) {
		st := testdb.SQLite(t)
		if err := st.ApplyUserChanges(context.Background(), []store.UserChange{{Name: name, Create: &u, Now: u.CreatedAt}})[0]; err != nil {
			t.Fatal(err)
		}
		h := newSyncHarnessOn(t, st)
		code, _, _ := h.do("POST", OktaPath, oktaBatch(okEv("e1", "user.lifecycle.create", name, 1), okEv("e2", "user.lifecycle.suspend", name, 2)), "X-Okta-Secret", testSecret)
		if code/100 != 2 {
			t.Fatalf("event hook: %d", code)
		}
		h.drain()
		if got, ok := h.user(name); !ok || got.State != lifecycle.StateDisabled {
			t.Errorf("%q after Okta's create and suspend: %+v %v, want it disabled", name, got, ok)
		}
	})
}
