package adapter

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
)

// syncFuzzRoutes are what FuzzSyncRequest sends its body to (by index): SCIM's writes, on
// a user and a group that exist, and each event source.
var syncFuzzRoutes = []struct{ method, path string }{
	{"POST", SCIMPrefix + "/Users"},
	{"PATCH", SCIMPrefix + "/Users/{user}"},
	{"PUT", SCIMPrefix + "/Users/{user}"},
	{"POST", SCIMPrefix + "/Groups"},
	{"PATCH", SCIMPrefix + "/Groups/{group}"},
	{"POST", OktaPath},
	{"POST", VerifyPath},
	{"POST", Auth0Path},
}

// FuzzSyncRequest: whatever a directory sends, with the right secret, the answer is a 2xx
// or a 4xx in JSON, and applying what was queued does not panic.
func FuzzSyncRequest(f *testing.F) {
	for i, body := range []string{
		`{"userName":"dana@example.com","active":true,"emails":[{"value":"d@example.com","primary":true}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{"userName":"fuzz@example.com","active":false,"name":{"givenName":"F"}}`,
		`{"displayName":"sms-allowed","externalId":"g-1","members":[{"value":"x"}]}`,
		`{"Operations":[{"op":"add","path":"members","value":[{"value":"x"}]},{"op":"remove","path":"members[value eq \"x\"]"}]}`,
		oktaBatch(okEv("e1", "user.lifecycle.create", "alice@example.com", 1), okEv("e2", "group.user_membership.add", "alice@example.com", 2, "eng")),
		`{"id":"n1","event_type":"user_management","data":{"username":"alice","operation":"delete"}}`,
		`[{"log_id":"1","data":{"type":"sapi","description":"Create a User","details":{"request":{"method":"POST","path":"/api/v2/users"},"response":{"body":{"user_id":"auth0|1","email":"a@x"}}}}}]`,
		`{"Operations":[{"op":"replace","value":{"emails[type eq \"work\"].value":"e@x","active":"TRUE"}}]}`,
	} {
		f.Add(uint8(i%len(syncFuzzRoutes)), body)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		h := newSyncHarnessOn(t, testdb.Memory(t))
		code, u, _ := h.scim("POST", "/Users", `{"userName":"alice@example.com","active":true}`)
		if code != 201 {
			t.Fatalf("create the user: %d %v", code, u)
		}
		code, g, _ := h.scim("POST", "/Groups", `{"displayName":"eng"}`)
		if code != 201 {
			t.Fatalf("create the group: %d %v", code, g)
		}
		r := syncFuzzRoutes[int(route)%len(syncFuzzRoutes)]
		path := strings.NewReplacer("{user}", u["id"].(string), "{group}", g["id"].(string)).Replace(r.path)
		req := httptest.NewRequest(r.method, path, strings.NewReader(body))
		switch {
		case strings.HasPrefix(path, SCIMPrefix):
			req.Header.Set("Authorization", "Bearer "+testSCIMToken)
			req.Header.Set("Content-Type", "application/scim+json")
		case path == OktaPath:
			req.Header.Set("X-Okta-Secret", testSecret)
		case path == VerifyPath:
			req.Header.Set("X-Verify-Secret", testSecret)
			req.Header.Set("X-Webhook-ID", "fuzz-1")
		case path == Auth0Path:
			req.Header.Set("Authorization", testSecret)
		}
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", r.method, path, body, rec.Code, rec.Body)
		}
		if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s %q: answer is not JSON: %s", r.method, path, body, rec.Body)
		}
		// What was queued is applied (or dead-lettered), never a panic.
		_, _ = h.q.Drain(context.Background())
	})
}
