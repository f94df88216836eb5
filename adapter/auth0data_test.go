package adapter

import (
	"strings"
	"testing"
)

// TestAuth0DataNotObject: a wrapper whose data is not an object ({"log_id":
// "d1","data":null}, a string, an array) was refused with "log_id and type are
// required" (null was read as an empty entry) or "body is not the JSON expected", though
// the wrapper had its log_id and it was data that was wrong. The refusal says so.
func TestAuth0DataNotObject(t *testing.T) {
	h := newSyncHarness(t)
	for _, data := range []string{`null`, `"x"`, `[]`, `1`} {
		entry := `{"log_id":"d1","data":` + data + `}`
		code, out, _ := h.do("POST", Auth0Path, entry, "Authorization", testSecret)
		if msg, _ := out["messageDescription"].(string); code != 400 || msg != "entry 0.data: not a JSON object" {
			t.Errorf("data %s: %d %v, want 400 entry 0.data: not a JSON object", data, code, out)
		}
	}
	// An object still reads, an empty one naming what it lacks.
	code, out, _ := h.do("POST", Auth0Path, `{"log_id":"d2","data":{}}`, "Authorization", testSecret)
	if msg, _ := out["messageDescription"].(string); code != 400 || !strings.Contains(msg, "type") {
		t.Errorf("data {}: %d %v, want 400 naming type", code, out)
	}
}
