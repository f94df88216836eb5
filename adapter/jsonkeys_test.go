package adapter

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestDuplicateKeysRefused is issue 15 item 6: last-wins JSON is refused with 400 JSON
// on the contract and the device API alike, before any engine sees it.
func TestDuplicateKeysRefused(t *testing.T) {
	h, d := deviceHarness(t)
	for _, c := range []struct{ path, body string }{
		{"/v1/providers/acme/enrollments", `{"username":"nobody","username":"alice"}`},
		{"/v1/providers/acme/validate", `{"capability":"totp","id":"f1","attributes":{"username":"nobody","passvalue":"1","username":"alice"}}`},
		{"/v1/providers/acme/initiate", `{"capability":"totp","id":"f1","id":"f2","attributes":{"username":"alice"}}`},
		{"/v1/devices/register", `{"activationCode":"a","activationCode":"b","publicKey":"MFkw","alg":"ES256"}`},
	} {
		h.engine.last.Username = ""
		code, body, _ := h.do(t, "POST", c.path, c.body)
		var eb errorBody
		if err := json.Unmarshal([]byte(body), &eb); err != nil || code != http.StatusBadRequest || !strings.Contains(eb.MessageDescription, "duplicate key") {
			t.Errorf("%s %s: %d %s, want 400 naming the duplicate key", c.path, c.body, code, body)
		}
		if h.engine.last.Username != "" || d.reg.ActivationCode != "" {
			t.Errorf("%s: the request reached the engine", c.path)
		}
	}
	code, body, _ := h.do(t, "POST", "/v1/devices/challenges/ch1", `{"decision":"deny","decision":"approve"}`, signedHeaders...)
	if code != http.StatusBadRequest || errorID(t, body) != "invalid_request" || d.answered != [3]string{} {
		t.Errorf("device answer with a duplicate decision: %d %s (service saw %v)", code, body, d.answered)
	}
}
