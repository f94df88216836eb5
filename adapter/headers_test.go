package adapter

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestWebhookIDKeyAllocs: X-Webhook-ID is read by its canonical key,
// X-Webhook-Id, the header it names: Header.Get canonicalized Verify's spelling into a new
// string on every initiate, validate and result call, an allocation.
func TestWebhookIDKeyAllocs(t *testing.T) {
	if headerWebhookID != http.CanonicalHeaderKey(HeaderWebhookID) {
		t.Errorf("%q is not %q's canonical form %q", headerWebhookID, HeaderWebhookID, http.CanonicalHeaderKey(HeaderWebhookID))
	}
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	c := webhookCall("wh-1")
	got := testing.AllocsPerRun(200, func() {
		c.n = 0
		if id, err := webhookID(c); id != "wh-1" || err != nil {
			t.Fatalf("webhookID: %q %v", id, err)
		}
	})
	t.Logf("reading X-Webhook-ID: %v allocations", got)
	if got > 1 { // its value boxed for the echo context
		t.Errorf("reading X-Webhook-ID allocates %v times, want at most 1 (2 before)", got)
	}
}

// TestWebhookIDUnboxed: X-Webhook-ID is kept for the handler and the access log in
// the call's context unboxed (a string boxed into the context's any was an allocation
// on every initiate, validate and result call), and both still have it.
func TestWebhookIDUnboxed(t *testing.T) {
	h, _, _ := idemHarness(t)
	code, _, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody, "Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Webhook-ID", "wh-unboxed")
	if code != http.StatusOK || !strings.Contains(h.logs.String(), `"webhook_id":"wh-unboxed"`) {
		t.Errorf("%d; the access log lacks the X-Webhook-ID:\n%s", code, h.logs.String())
	}
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	c := webhookCall("wh-1")
	got := testing.AllocsPerRun(200, func() {
		*c = callContext{Context: c.Context}
		if id, err := webhookID(c); id != "wh-1" || err != nil {
			t.Fatalf("webhookID: %q %v", id, err)
		}
		if id, ok := callWebhookID(c); id != "wh-1" || !ok {
			t.Fatalf("callWebhookID: %q %v", id, ok)
		}
	})
	if got > 0 {
		t.Errorf("reading and keeping X-Webhook-ID allocates %v times, want none (1 before)", got)
	}
}

// webhookCall is a contract call's context whose request carries the X-Webhook-ID id.
func webhookCall(id string) *callContext {
	req := httptest.NewRequest("POST", "/", nil)
	req.Header.Set(HeaderWebhookID, id)
	return &callContext{Context: New(Options{}).echo.NewContext(req, httptest.NewRecorder())}
}
