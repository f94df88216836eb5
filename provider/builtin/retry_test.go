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

// TestTerminalResultOutlivesARefusal: contract §7, "once terminal, every later poll returns
// the same terminal status (until the transaction is purged)", even after the factor was
// locked or the user disabled; a transaction still pending then gets the refusal.
func TestTerminalResultOutlivesARefusal(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, func(c *engineConfig) { c.set("lockout.maxFailures", 2) })
		id := f.enrollSMS(t, "alice", "+15551230123")
		// T1 validated: SUCCESS.
		t1 := f.initiate(t, "alice", "smsotp", id).TransactionID
		if out := f.validate(t, "alice", "smsotp", id, t1, f.sms.last(t).Code); out.Status != provider.StatusSuccess {
			t.Fatalf("validate: %+v", out)
		}
		// T2 left to expire: TIMEOUT.
		t2 := f.initiate(t, "alice", "smsotp", id).TransactionID
		f.clock.Advance(6 * time.Minute)
		r1, r2 := f.result(t, "alice", "smsotp", id, t1), f.result(t, "alice", "smsotp", id, t2)
		if r1.Status != provider.StatusSuccess || r2.Status != provider.StatusTimeout {
			t.Fatalf("results before: %s %s", r1.Status, r2.Status)
		}
		// Two wrong codes on a third transaction lock the factor.
		t3 := f.initiate(t, "alice", "smsotp", id).TransactionID
		code := f.sms.last(t).Code
		f.validate(t, "alice", "smsotp", id, t3, otherCode(code))
		f.validate(t, "alice", "smsotp", id, t3, otherCode(code))
		a1, a2 := f.result(t, "alice", "smsotp", id, t1), f.result(t, "alice", "smsotp", id, t2)
		if a1.Status != r1.Status || a2.Status != r2.Status {
			t.Errorf("after a lockout: result(T1) %s (%q), result(T2) %s (%q); first polls said %s and %s",
				a1.Status, a1.Reason, a2.Status, a2.Reason, r1.Status, r2.Status)
		}
		// And a user disabled after approving; a challenge still pending is refused.
		f.clock.Advance(time.Hour)
		t4 := f.initiate(t, "alice", "smsotp", id).TransactionID
		if err := st.SetUserDisabled(context.Background(), "alice", true); err != nil {
			t.Fatal(err)
		}
		if d := f.result(t, "alice", "smsotp", id, t1); d.Status != provider.StatusSuccess {
			t.Errorf("after the user is disabled: result(T1) %s (%q), first polls said SUCCESS", d.Status, d.Reason)
		}
		if p := f.result(t, "alice", "smsotp", id, t4); p.Status != provider.StatusFailed || p.Reason != "user disabled" {
			t.Errorf("a pending challenge of a disabled user: %s (%q)", p.Status, p.Reason)
		}
	})
}
