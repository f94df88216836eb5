package adapter

import (
	"fmt"
	"strings"
	"testing"
)

// TestRefusalEchoesNoPayload: a payload refused whole, or an event of a batch
// refused, is answered and logged with why, but never with the payload's values (a
// number's digits, a string that should have been a number, a key of kilobytes) and
// never with emfa's Go types; a key named twice is quoted, at most its first 100 bytes: "No payload body and no secret is logged", and a log line
// of megabytes is one a source chose.
func TestRefusalEchoesNoPayload(t *testing.T) {
	marker := "PAYLOAD" + strings.Repeat("q", 300)
	digits := "1" + strings.Repeat("7", 300)
	key := "k" + strings.Repeat("K", 300)
	okta := []string{"X-Okta-Secret", testSecret}
	auth0 := []string{"Authorization", testSecret}
	for _, tc := range []struct {
		name, path, body string
		hdr              []string
		code             int
	}{
		{"verify time not a number", VerifyPath, `{"id":"n1","event_type":"management","time":"` + marker + `","data":{}}`,
			[]string{"X-Verify-Secret", testSecret}, 400},
		{"verify time too large", VerifyPath, `{"id":"n1","event_type":"management","time":` + digits + `,"data":{}}`,
			[]string{"X-Verify-Secret", testSecret}, 400},
		{"verify id of the wrong type", VerifyPath, `{"id":` + digits + `,"event_type":"management","data":{}}`,
			[]string{"X-Verify-Secret", testSecret}, 400},
		{"auth0 status code too large", Auth0Path, `{"log_id":"1","type":"sapi","date":"2026-05-01T09:00:00Z","details":{"request":{"method":"POST","path":"/api/v2/users"},"response":{"statusCode":` + digits + `,"body":{"username":"a"}}}}` + "\n" +
			`{"log_id":"2","type":"ss","date":"2026-05-01T09:00:00Z","user_name":"b"}`, auth0, 204},
		{"auth0 entry of the wrong type", Auth0Path, `{"log_id":` + digits + `,"type":"ss"}`, auth0, 400},
		{"okta key named twice", OktaPath, oktaBatch(okEv("o1", "user.lifecycle.create", "alice@example.com", 1),
			`{"uuid":"o2","debugContext":{"`+key+`":1,"`+key+`":2}}`), okta, 204},
		{"okta envelope key named twice", OktaPath, `{"data":{"events":[]},"x":{"` + key + `":1,"` + key + `":2}}`, okta, 400},
		{"okta event of the wrong type", OktaPath, oktaBatch(okEv("o1", "user.lifecycle.create", "alice@example.com", 1),
			`{"uuid":`+digits+`}`), okta, 204},
		// An eventId that is not a string refuses nothing, and is never logged.
		{"okta eventId of the wrong type", OktaPath, `{"eventId":` + digits + `,"data":{"events":[` +
			okEv("o1", "user.lifecycle.create", "alice@example.com", 1) + `,{"uuid":` + digits + `}]}}`, okta, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newSyncHarness(t)
			code, body, _ := h.do("POST", tc.path, tc.body, tc.hdr...)
			if code != tc.code {
				t.Fatalf("%d %v, want %d", code, body, tc.code)
			}
			answer, log := fmt.Sprint(body), h.logs.String()
			for what, text := range map[string]string{"answer": answer, "log": log} {
				for _, s := range []string{marker[:100], digits[:100], key[:101], "Go struct", "Go value", "adapter.", "oktaEvent", "auth0Entry", "verifyNotification"} {
					if strings.Contains(text, s) {
						t.Errorf("the %s holds %.40q:\n%.2000s", what, s, text)
					}
				}
			}
			if !strings.Contains(log, "refused") {
				t.Errorf("nothing logged of the refusal:\n%s", log)
			}
		})
	}
}
