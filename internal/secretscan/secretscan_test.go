package secretscan

import "testing"

// TestHoldsSecret: Holds finds a short code logged as a value, however it is
// quoted, and not the same digits inside a random id or a timestamp.
func TestHoldsSecret(t *testing.T) {
	for _, c := range []struct {
		text string
		want bool
	}{
		{`{"passvalue":"918273"}`, true},
		{`code=918273 user=alice`, true},
		{`POST /v1/otp/918273/verify`, true},
		{`"body":"{\"passvalue\":\"918273\"}"`, true},
		{`"err":"quoted:\n918273"`, true},
		{`918273`, true},
		{`"time":"2026-01-01T00:00:00.918273412Z"`, false},
		{`"time":"2026-01-01T00:00:00.412918273Z"`, false},
		{`"request_id":"9182735f0c1d2e3f4a5b6c7d"`, false},
		{`"request_id":"a1b2c3d4e5f6a7b8c9918273"`, false},
		{`"txid":"9254c129-fae9-4b79-ab70-e147918273ec"`, false},
		{`"total":19182730`, false},
	} {
		if got := Holds(c.text, "918273"); got != c.want {
			t.Errorf("Holds(%s, 918273) = %v, want %v", c.text, got, c.want)
		}
	}
	if !Holds("x-sim-password-0123y", "sim-password-0123") {
		t.Error("a long secret inside a longer word is not found")
	}
}
