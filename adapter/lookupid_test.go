package adapter

import (
	"strings"
	"testing"
)

// TestLookupLogsWebhookID: Verify sends X-Webhook-ID with every call, lookups and
// connection tests too (contract §12), and the README has the access log carry it as
// webhook_id, which is how an operator finds, in emfa's log, the call Verify's own log
// names. A lookup and a test were logged without it. They keep no record, and an ID the
// record could not take is not refused there (nor logged): they answer as before.
func TestLookupLogsWebhookID(t *testing.T) {
	h := newHarness(t, nil)
	basic := []string{"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA=="}
	for _, call := range []struct{ method, path, body string }{
		{"POST", "/v1/providers/acme/enrollments", `{"username":"alice"}`},
		{"GET", "/v1/providers/acme/enrollments?username=alice", ""},
		{"GET", "/v1/providers/acme/test", ""},
	} {
		h.logs.mu.Lock()
		h.logs.b.Reset()
		h.logs.mu.Unlock()
		code, body, _ := h.do(t, call.method, call.path, call.body, append(basic, "X-Webhook-ID", "wh-lookup-1")...)
		if code != 200 {
			t.Errorf("%s %s: %d %s", call.method, call.path, code, body)
		}
		if !strings.Contains(h.logs.String(), `"webhook_id":"wh-lookup-1"`) {
			t.Errorf("%s %s: the access log has no webhook_id:\n%s", call.method, call.path, h.logs.String())
		}
		// An ID too long for a record: answered as ever, not logged.
		h.logs.mu.Lock()
		h.logs.b.Reset()
		h.logs.mu.Unlock()
		long := strings.Repeat("x", 300)
		if code, body, _ := h.do(t, call.method, call.path, call.body, append(basic, "X-Webhook-ID", long)...); code != 200 {
			t.Errorf("%s %s with a long X-Webhook-ID: %d %s", call.method, call.path, code, body)
		}
		if strings.Contains(h.logs.String(), long) {
			t.Errorf("%s %s: a refused X-Webhook-ID is logged", call.method, call.path)
		}
	}
}
