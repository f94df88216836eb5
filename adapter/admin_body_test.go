package adapter

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestAdminDuplicateKeys: a body that names a key twice is refused, as the contract's
// are; encoding/json would keep the last, and a proxy that read the first would have
// approved another request.
func TestAdminDuplicateKeys(t *testing.T) {
	h := newAdminHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create alice: %d %v", code, out)
	}
	h.checkRefusals(t, []adminRefusal{
		{"a name twice", "POST", "/admin/v1/users", `{"name":"x1","name":"x2"}`, 400, "duplicate_field", "name", nil},
		{"a key twice in another case", "POST", "/admin/v1/users", `{"name":"d","state":"disabled","STATE":"active"}`, 400, "duplicate_field", "STATE", nil},
		{"a nested key twice", "POST", "/admin/v1/users", `{"name":"e","attributes":{"a":"1","a":"2"}}`, 400, "duplicate_field", "attributes.a", nil},
		{"on an update", "PATCH", "/admin/v1/users/alice", `{"displayName":"A","displayName":"B"}`, 400, "duplicate_field", "displayName", nil},
		{"in an optional body", "POST", "/admin/v1/users/alice/reset", `{"mode":"disable","mode":"delete"}`, 400, "duplicate_field", "mode", nil},
		{"a factor's params", "POST", "/admin/v1/users/alice/factors", `{"type":"totp","params":{"digits":6,"digits":8}}`, 400, "duplicate_field", "params.digits", nil},
	})
	users, err := h.store.ListUserRecords(context.Background(), store.UserQuery{})
	if err != nil || len(users) != 1 {
		t.Errorf("after the refusals: %d users, %v; want alice alone", len(users), err)
	}
}

// TestAdminErrorMessages: a refusal names the field at fault and says what to send.
func TestAdminErrorMessages(t *testing.T) {
	h := newAdminHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create alice: %d %v", code, out)
	}
	h.checkRefusals(t, []adminRefusal{
		{"groups not a list", "POST", "/admin/v1/users", `{"name":"bob","groups":"g"}`, 400, "invalid_field", "groups", []string{"must be a list of strings"}},
		{"a group not a string", "POST", "/admin/v1/users", `{"name":"bob","groups":["g",1]}`, 400, "invalid_field", "groups", []string{"must be a list of strings"}},
		{"params not an object", "POST", "/admin/v1/users/alice/factors", `{"type":"totp","params":[]}`, 400, "invalid_field", "params", []string{"must be an object"}},
		{"attributes not an object", "POST", "/admin/v1/users", `{"name":"bob","attributes":["a"]}`, 400, "invalid_field", "attributes", []string{"must be an object"}},
		{"an attribute not a string", "POST", "/admin/v1/users", `{"name":"bob","attributes":{"a":"x","b":1}}`, 400, "invalid_field", "attributes.b", []string{"must be a string"}},
		{"invite not a boolean", "POST", "/admin/v1/users", `{"name":"bob","invite":"yes"}`, 400, "invalid_field", "invite", []string{"must be true or false"}},
		{"a name not a string", "POST", "/admin/v1/users", `{"name":7}`, 400, "invalid_field", "name", []string{"must be a string"}},
		{"an empty group name", "POST", "/admin/v1/users", `{"name":"bob","groups":["a",""]}`, 400, "invalid_field", "groups", []string{"empty"}},
		{"an unknown field close to one", "POST", "/admin/v1/users", `{"name":"bob","emial":"b@example.com"}`, 400, "unknown_field", "emial", []string{`"email"`}},
	})
}

// TestAdminQuestionMismatch: questions without as many answers are refused in words that
// fit the API, not the CLI's flags.
func TestAdminQuestionMismatch(t *testing.T) {
	st := testdb.SQLite(t)
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Capabilities: []string{"totp", "question"},
		Config: map[string]any{"question": map[string]any{"enabled": true}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{engine}})
	if err != nil {
		t.Fatal(err)
	}
	write, err := m.CreateToken(t.Context(), "cli", "provisioning", lifecycle.ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	h := &adminHarness{store: st, manager: m, write: write,
		harness: newHarness(t, func(o *Options) { o.Admin = m })}
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create alice: %d %v", code, out)
	}
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/factors",
		`{"type":"question","params":{"question":["first pet?","first street?"],"answer":["rex"]}}`)
	e, _ := out["error"].(map[string]any)
	msg, _ := e["message"].(string)
	if c, _ := errorCode(out); code != 400 || c != "invalid_field" || strings.Contains(msg, "--") || !strings.Contains(msg, "2 questions, 1 answer") {
		t.Errorf("%d %v", code, out)
	}
}
