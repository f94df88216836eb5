package builtin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestCanceledInitiateRetrySendsOnce: Verify drops its connection just as the SMS gateway
// accepts the code, and retries with the same X-Webhook-ID (contract §12: "without a
// second execution (no second code sent …)"). Once the code has gone out, its decision is
// recorded whatever became of the request, and the retry gets the first answer. This is
// the engine's part, under provider.Idempotency as the adapter drives it; the same over
// HTTP is adapter's TestCanceledInitiateRetrySendsOnceOverHTTP.
func TestCanceledInitiateRetrySendsOnce(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		id := f.enrollSMS(t, "alice", "+15551230123")
		p := &provider.Provider{Name: "A", CredentialPrefix: "acme", Enabled: true, Capabilities: []string{"smsotp"},
			Engine: f.engine, Audit: st}
		idem := &provider.Idempotency{Store: st, TTL: 10 * time.Minute, Lease: 7 * time.Second, Poll: time.Millisecond}
		body := `{"capability":"smsotp","id":"` + id + `","attributes":{"username":"alice"}}`
		key := store.IdempotencyKey{Provider: "acme", WebhookID: "wh-cancel",
			Fingerprint: provider.FingerprintKey(nil).Fingerprint(provider.ResourceInitiate, []byte(body))}
		send := func(ctx context.Context) (provider.Answer, provider.Served, error) {
			ans, served, _, err := idempotentInitiate(ctx, idem, p, key,
				provider.Request{Capability: "smsotp", ID: id, Username: "alice", WebhookID: key.WebhookID})
			return ans, served, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		f.sms.hook = cancel // the gateway takes the code as Verify's connection goes
		ans1, served1, err1 := send(ctx)
		f.sms.hook = nil
		ans2, served2, err2 := send(context.Background()) // Verify's retry
		if err1 != nil || err2 != nil || served1 != provider.Executed || served2 != provider.Replayed {
			t.Fatalf("first attempt %v (%v); retry %v (%v)", served1, err1, served2, err2)
		}
		if f.sms.count() != 1 || ans1.Status != 200 || ans2.Status != ans1.Status || string(ans2.Body) != string(ans1.Body) ||
			!strings.Contains(string(ans1.Body), `"PENDING"`) {
			t.Errorf("first attempt %d %s; retry %d %s; %d codes sent, want one PENDING answered twice",
				ans1.Status, ans1.Body, ans2.Status, ans2.Body, f.sms.count())
		}
	})
}

// idempotentInitiate runs an initiate under idem as the adapter's idempotent middleware
// does (Do, or DoLate when the engine decides in one unit), its answer rendered as JSON
// both for the deciding unit's record and for the caller; a fault is a 503.
func idempotentInitiate(ctx context.Context, idem *provider.Idempotency, p *provider.Provider, key store.IdempotencyKey, req provider.Request) (provider.Answer, provider.Served, bool, error) {
	render := func(out provider.Outcome) (provider.Answer, bool) {
		b, err := json.Marshal(out)
		return provider.Answer{Status: 200, Body: b}, err == nil
	}
	do := idem.Do
	if p.ClaimsLate(provider.ResourceInitiate) {
		do = idem.DoLate
	}
	return do(ctx, key, func(ctx context.Context) (provider.Answer, error) {
		provider.RenderAnswers(ctx, render)
		out, err := p.Initiate(ctx, req)
		switch {
		case errors.Is(err, provider.ErrSuperseded):
			return provider.Answer{}, nil // DoLate answers the attempt that decided
		case err != nil:
			return provider.Answer{Status: 503, Body: []byte(`{"error":"unavailable"}`)}, nil
		}
		ans, ok := render(out)
		if !ok {
			return provider.Answer{}, fmt.Errorf("encode the outcome: %v", out.Status)
		}
		return ans, nil
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

// TestTerminalResultOutlivesAProviderRefusal: the Provider's own refusals of a result
// (the capability switched off org-wide, the provider disabled) come after the engine's
// transactions: a transaction that ended SUCCESS is answered SUCCESS at every later poll
// (contract §7), and one still pending gets the refusal. Before, the poll after a switch
// turned the SUCCESS already polled into FAILED.
func TestTerminalResultOutlivesAProviderRefusal(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newEngineFixture(t, st, nil)
		id := f.enrollSMS(t, "alice", "+15551230123")
		p := &provider.Provider{CredentialPrefix: "acme", Enabled: true, Capabilities: []string{"smsotp"},
			Engine: f.engine, Now: f.clock.Now, Switches: &provider.SwitchCache{Store: st, Now: f.clock.Now}}
		req := provider.Request{Capability: "smsotp", ID: id, Username: "alice"}
		first, _ := p.Initiate(ctx, req)
		req.TransactionID = first.TransactionID
		v := req
		v.Passvalue = f.sms.last(t).Code
		if out, _ := p.Validate(ctx, v); out.Status != provider.StatusSuccess {
			t.Fatalf("validate: %+v", out)
		}
		if out, _ := p.Result(ctx, req); out.Status != provider.StatusSuccess {
			t.Fatalf("first result: %+v", out)
		}
		still, _ := p.Initiate(ctx, provider.Request{Capability: "smsotp", ID: id, Username: "alice"})
		sw := store.CapabilitySwitch{Provider: "acme", Capability: "smsotp", Disabled: true, Reason: "fraud wave", UpdatedAt: f.clock.Now()}
		if err := st.SetCapabilitySwitch(ctx, sw, store.AuditEvent{Time: f.clock.Now(), Resource: "switch"}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(provider.DefaultSwitchTTL)
		if out, err := p.Result(ctx, req); out.Status != provider.StatusSuccess {
			t.Errorf("result after the switch: %s (%q) %v; the first poll said SUCCESS", out.Status, out.Reason, err)
		}
		open := provider.Request{Capability: "smsotp", ID: id, Username: "alice", TransactionID: still.TransactionID}
		if out, _ := p.Result(ctx, open); out.Status != provider.StatusFailed || !strings.Contains(out.Reason, "switched off") {
			t.Errorf("result of a pending challenge after the switch: %+v, want the switch's refusal", out)
		}
		p.Enabled = false
		if out, err := p.Result(ctx, req); out.Status != provider.StatusSuccess {
			t.Errorf("result with the provider disabled: %s (%q) %v; the first poll said SUCCESS", out.Status, out.Reason, err)
		}
		// Ended FAILED by the switch's refusal above: answered so again.
		if out, _ := p.Result(ctx, open); out.Status != provider.StatusFailed {
			t.Errorf("result of a pending challenge with the provider disabled: %+v", out)
		}
	})
}
