package adapter

import (
	"encoding/json"
	"testing"

	"github.com/emfa/emfa/lifecycle"
)

// TestAnswerFieldsDocumented: the answers of the admin API have no field the
// document does not name (strictAdmin): an enrollment's warnings, an invite's error with
// its field, an import's rows.
func TestAnswerFieldsDocumented(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	h.strictAdmin(t, "POST", "/users", `{"name":"alice","email":"alice@example.com","phone":"+14155550100","displayName":"A","groups":["g"],"attributes":{"a":"b"}}`)
	h.strictAdmin(t, "POST", "/users", `{"name":"bob","email":"bob@example.com","invite":true}`) // no mailer: inviteError
	h.strictAdmin(t, "GET", "/users", ``)
	h.strictAdmin(t, "GET", "/users/alice", ``)
	h.strictAdmin(t, "PATCH", "/users/alice", `{"displayName":"B"}`)
	// hotp: no builtin provider here exposes it, so the answer warns that Verify is not offered it.
	_, out := h.strictAdmin(t, "POST", "/users/alice/factors", `{"type":"hotp","activation":"immediate","params":{"secret":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}}`)
	if w, _ := out["warnings"].([]any); len(w) == 0 {
		t.Errorf("an hotp factor no provider exposes: no warnings in %v", out)
	}
	h.strictAdmin(t, "POST", "/users/alice/factors", `{"type":"totp"}`)
	h.strictAdmin(t, "POST", "/users/alice/factors", `{"type":"question","params":{"question":["q1?","q2?"],"answer":["a1","a2"]}}`)
	h.strictAdmin(t, "GET", "/users/alice/factors", ``)
	h.strictAdmin(t, "POST", "/users/alice/reset", `{"mode":"disable"}`)
	h.strictAdmin(t, "GET", "/switches", ``)
	h.strictAdmin(t, "POST", "/switches/acme/totp/disable", `{"reason":"outage"}`)
	h.strictAdmin(t, "POST", "/switches/acme/totp/enable", ``)
	h.strictAdmin(t, "POST", "/users/alice/activation-link", `{"deliver":false}`)
	h.strictAdmin(t, "POST", "/import?invite=true", "username,email,factors\ncarol,c@example.com,emailotp\ndave,,\nerin,not-an-address,\n")
	h.strictAdmin(t, "POST", "/import?full=true&dryRun=true", "username\ncarol\n")
	h.strictAdmin(t, "GET", "/audit?limit=5", ``)
	h.strictAdmin(t, "GET", "/users/nobody", ``)
	h.strictAdmin(t, "POST", "/users", `{"name":"x","nope":1}`)
}

// TestInviteErrorSchema: POST /users answers an invite that could not go with
// inviteError, a lifecycle.Error as it marshals (code, field, message): the document's
// schema of it names each key, as an import row's inviteError does.
func TestInviteErrorSchema(t *testing.T) {
	b, err := json.Marshal(&lifecycle.Error{Code: "no_email", Field: "email", Msg: "m"})
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema struct {
						AllOf []struct {
							Properties map[string]struct {
								Properties map[string]any `json:"properties"`
							} `json:"properties"`
						} `json:"allOf"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(AdminOpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var props map[string]any
	for _, part := range doc.Paths["/users"]["post"].Responses["201"].Content["application/json"].Schema.AllOf {
		if p, ok := part.Properties["inviteError"]; ok {
			props = p.Properties
		}
	}
	if props == nil {
		t.Fatal("POST /users 201: no inviteError in the document")
	}
	for k := range keys {
		if _, ok := props[k]; !ok {
			t.Errorf("POST /users 201 inviteError: the document does not name %q, which the answer may have (%s)", k, b)
		}
	}
}
