package adapter

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// releaseFails is a store whose idempotency records cannot be released.
type releaseFails struct{ *sqlite.Store }

func (releaseFails) ReleaseIdempotency(context.Context, store.IdempotencyKey, string) error {
	return errors.New("disk full")
}

// TestUnreleasedFaultIsAnswered: a call that answers a server fault releases its
// X-Webhook-ID record; when that release fails too, Verify is answered 503 (the store
// is unavailable), never an empty 200.
func TestUnreleasedFaultIsAnswered(t *testing.T) {
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := &countingEngine{}
	eng.fail.Store(true)
	h := newHarness(t, func(o *Options) {
		o.Providers[0].Engine = eng
		o.Idempotency = &provider.Idempotency{Store: releaseFails{st}, TTL: time.Minute, Lease: 5 * time.Second, Poll: time.Millisecond}
	})
	code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody,
		"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Webhook-ID", "wh-1")
	if code != 503 || !strings.Contains(body, `"messageId"`) {
		t.Fatalf("answered %d %q, want 503 with an error body", code, body)
	}
}
