package adapter

import (
	"strings"
	"testing"
)

// TestVerifyTimeNamed: a notification whose time is not a number of epoch
// milliseconds (a string of letters, an object, true) was answered "a value is not of
// the kind expected", naming no field: json.Number's error is not one jsonFault reads.
// The answer names time, as it does for a negative or fractional one; a time given as a
// string of digits, or null, is still read as before.
func TestVerifyTimeNamed(t *testing.T) {
	h := newSyncHarness(t)
	for _, tm := range []string{`"abc"`, `{}`, `true`, `[1]`, `1.5`, `-1`} {
		body := `{"id":"v1","event_type":"management","time":` + tm + `,"data":{"resource":"user","action":"created","username":"vv"}}`
		code, out, _ := h.do("POST", VerifyPath, body, "X-Verify-Secret", testSecret)
		if msg, _ := out["messageDescription"].(string); code != 400 || !strings.Contains(msg, "time") {
			t.Errorf("time %s: %d %v, want 400 naming time", tm, code, out)
		}
	}
	for i, tm := range []string{`"1777626000000"`, `null`, `1777626000000`} {
		body := `{"id":"ok` + itoa(i) + `","event_type":"management","time":` + tm + `,"data":{"resource":"user","action":"created","username":"vv"}}`
		if code, out, _ := h.do("POST", VerifyPath, body, "X-Verify-Secret", testSecret); code != 204 {
			t.Errorf("time %s: %d %v, want 204", tm, code, out)
		}
	}
}
