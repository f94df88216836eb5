package adapter

import (
	"strings"
	"testing"
)

// TestWebhookIDLimitInBytes: X-Webhook-ID's limit counts bytes (the record's
// key, PostgreSQL's index entry), not characters. An ID of 86 euro signs, 86 characters
// and 258 bytes, is refused, and the refusal said it was "longer than 256 characters",
// which an operator reading it could not reconcile with the 86 Verify sent.
func TestWebhookIDLimitInBytes(t *testing.T) {
	h := newHarness(t, nil)
	id := strings.Repeat("€", 86)
	code, body, _ := h.do(t, "POST", "/v1/providers/acme/initiate", `{"username":"alice","capability":"totp","id":"f1"}`,
		"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Webhook-ID", id)
	if code != 400 || !strings.Contains(body, "longer than 256 bytes") || strings.Contains(body, "characters") {
		t.Errorf("an ID of 86 characters, 258 bytes: %d %s; want 400 saying it is longer than 256 bytes", code, body)
	}
	// 85 of them, 255 bytes, are taken.
	code, body, _ = h.do(t, "POST", "/v1/providers/acme/initiate", `{"username":"alice","capability":"totp","id":"f1"}`,
		"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Webhook-ID", id[:255])
	if strings.Contains(body, "X-Webhook-ID") {
		t.Errorf("an ID of 255 bytes refused: %d %s", code, body)
	}
}
