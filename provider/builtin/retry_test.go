package builtin_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestCanceledInitiateRetrySendsOnce: Verify drops its connection just as the SMS gateway
// accepts the code, and retries with the same X-Webhook-ID (contract §12: "without a
// second execution (no second code sent …)"). Once the code has gone out, its decision is
// recorded whatever became of the request, and the retry gets the first answer.
func TestCanceledInitiateRetrySendsOnce(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		id := f.enrollSMS(t, "alice", "+15551230123")
		p := &provider.Provider{Name: "A", CredentialPrefix: "acme", Enabled: true, Capabilities: []string{"smsotp"},
			Engine: f.engine, Audit: st}
		srv := adapter.New(adapter.Options{Providers: []*provider.Provider{p}, Auth: adapter.Auth{AllowAnonymous: true},
			RequestTimeout: 5 * time.Second,
			Idempotency:    &provider.Idempotency{Store: st, TTL: 10 * time.Minute, Lease: 7 * time.Second, Poll: time.Millisecond}})
		body := `{"capability":"smsotp","id":"` + id + `","attributes":{"username":"alice"}}`
		send := func(ctx context.Context) (int, string) {
			req := httptest.NewRequest("POST", "/v1/providers/acme/initiate", strings.NewReader(body)).WithContext(ctx)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Webhook-ID", "wh-cancel")
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			return rec.Code, strings.TrimSpace(rec.Body.String())
		}
		ctx, cancel := context.WithCancel(context.Background())
		f.sms.hook = cancel // the gateway takes the code as Verify's connection goes
		code1, body1 := send(ctx)
		f.sms.hook = nil
		code2, body2 := send(context.Background()) // Verify's retry
		if f.sms.count() != 1 || code1 != 200 || code2 != code1 || body2 != body1 || !strings.Contains(body1, `"PENDING"`) {
			t.Errorf("first attempt %d %s; retry %d %s; %d codes sent, want one PENDING answered twice", code1, body1, code2, body2, f.sms.count())
		}
	})
}
