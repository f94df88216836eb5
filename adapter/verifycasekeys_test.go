package adapter

import (
	"strings"
	"testing"
)

// TestVerifyCaseKeys: the same for a Verify notification: only the
// notification's object and its data are read into fields.
func TestVerifyCaseKeys(t *testing.T) {
	h := newSyncHarness(t)
	body := `{"id":"vc1","event_type":"management","time":1777626000000,"data":{"resource":"user","action":"created",` +
		`"username":"vera","origin":{"Host":"a","host":"b"}},"meta":{"X":1,"x":2}}`
	if code, out, _ := h.do("POST", VerifyPath, body, "X-Verify-Secret", testSecret); code != 204 {
		t.Fatalf("keys differing in case outside the fields: %d %v", code, out)
	}
	for name, tc := range map[string]struct{ body, key string }{
		"username in two cases": {`{"id":"vc2","event_type":"management","data":{"resource":"user","action":"created","username":"a","UserName":"b"}}`, `"data.UserName"`},
		"id in two cases":       {`{"id":"vc3","ID":"vc4","event_type":"management","data":{}}`, `"ID"`},
		"exact, deeper":         {`{"id":"vc5","event_type":"management","data":{"origin":{"h":1,"h":2}}}`, `"data.origin.h"`},
	} {
		code, out, _ := h.do("POST", VerifyPath, tc.body, "X-Verify-Secret", testSecret)
		if msg, _ := out["messageDescription"].(string); code != 400 || !strings.Contains(msg, tc.key+" is named twice") {
			t.Errorf("%s: %d %v, want 400 naming %s", name, code, out, tc.key)
		}
	}
}
