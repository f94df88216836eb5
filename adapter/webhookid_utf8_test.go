package adapter

import (
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestWebhookIDNotUTF8: an X-Webhook-ID whose bytes are not UTF-8 (a header may carry
// any byte above 0x7f) is answered as a malformed request, 400, whatever the store. It
// passed the header's checks, and PostgreSQL refused to record it (its text holds only
// UTF-8): every attempt, and every retry on every replica, answered 503, where SQLite ran
// the call.
func TestWebhookIDNotUTF8(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		eng := &countingEngine{}
		h := newHarness(t, func(o *Options) {
			o.Providers[0].Engine = eng
			o.Idempotency = &provider.Idempotency{Store: st, TTL: time.Minute, Lease: 5 * time.Second, Poll: time.Millisecond}
		})
		code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody,
			"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Webhook-ID", "wh-\xff")
		if code != 400 {
			t.Errorf("X-Webhook-ID wh-\\xff: %d %s; want 400", code, body)
		}
		if n := eng.calls.Load(); n != 0 {
			t.Errorf("the engine ran %d times; want none", n)
		}
	})
}
