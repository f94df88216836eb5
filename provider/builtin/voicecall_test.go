package builtin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// voiceFixture is an engine whose voicecall factor calls through f.voice; alice has one.
func voiceFixture(t *testing.T, st store.Store, configure func(*engineConfig)) (*engineFixture, string) {
	t.Helper()
	f := newEngineFixture(t, st, configure)
	enrolled := f.enroll(t, "voicecall", "alice", "phone", "+15551230123")
	if enrolled.Output["deliveryAddress"] != "+1 ***-***-0123" || enrolled.Output["phone"] != "+15551230123" || enrolled.Factor.Label != "Phone" {
		t.Fatalf("enrolled %+v", enrolled)
	}
	return f, enrolled.Factor.ID
}

func TestVoiceCallFlow(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f, id := voiceFixture(t, st, nil)
		ctx := context.Background()
		list, err := f.engine.Enrollments(ctx, "alice")
		if err != nil || len(list) != 1 || list[0].Capability != "voicecall" || list[0].Attributes["authExecutionFlow"] != "init_then_validate" ||
			list[0].Attributes["deliveryAddress"] != "+1 ***-***-0123" || list[0].Attributes["deviceName"] != "Phone" {
			t.Fatalf("enrollments: %+v %v", list, err)
		}
		out := f.initiate(t, "alice", "voicecall", id)
		if out.Status != provider.StatusPending || out.Attributes["deliveryAddress"] != "+1 ***-***-0123" ||
			!strings.Contains(out.Reason, "code sent by outbox to +1 ***-***-0123") {
			t.Fatalf("initiate: %+v", out)
		}
		m := f.voice.last(t)
		// The code is said digit by digit: "1, 2, 3, 4, 5, 6", never "123456".
		spoken := strings.Join(strings.Split(m.Code, ""), ", ")
		if m.Channel != delivery.Voice || m.To != "+15551230123" || len(m.Code) != 6 || m.Text != "Your sign-in code is "+spoken+"." ||
			strings.Contains(m.Text, m.Code) || f.sms.count() != 0 {
			t.Fatalf("message: %+v", m)
		}
		expect(t, "wrong code", f.validate(t, "alice", "voicecall", id, out.TransactionID, otherCode(m.Code)), provider.StatusFailed, "wrong code (attempt 1 of 3)")
		expect(t, "the code said", f.validate(t, "alice", "voicecall", id, out.TransactionID, m.Code), provider.StatusSuccess, "attempt 2 of 3")
		expect(t, "once", f.validate(t, "alice", "voicecall", id, out.TransactionID, m.Code), provider.StatusFailed, "already SUCCESS")
		expect(t, "result", f.result(t, "alice", "voicecall", id, out.TransactionID), provider.StatusSuccess, "")
		// A voicecall transaction does not answer for the SMS factor of the same phone.
		sms := f.enrollSMS(t, "alice", "+15551230123")
		tx := f.initiate(t, "alice", "voicecall", id).TransactionID
		expect(t, "on the sms factor", f.validate(t, "alice", "smsotp", sms, tx, f.voice.last(t).Code), provider.StatusFailed, "another")
	})
}

// A phone that receives SMS and calls counts once per destination: the same to: key.
func TestVoiceCallSendLimits(t *testing.T) {
	t.Run("shared with sms", func(t *testing.T) {
		testdb.ForEach(t, func(t *testing.T, st store.Store) {
			f, id := voiceFixture(t, st, func(c *engineConfig) {
				c.set("sendLimits.perUser", []any{map[string]any{"window": "1h", "max": 10}})
				c.set("sendLimits.perDestination", []any{map[string]any{"window": "1h", "max": 2}})
			})
			sms := f.enrollSMS(t, "bob", "+15551230123") // bob's SMS, alice's calls: one phone
			expect(t, "call", f.initiate(t, "alice", "voicecall", id), provider.StatusPending, "")
			expect(t, "sms", f.initiate(t, "bob", "smsotp", sms), provider.StatusPending, "")
			expect(t, "second call", f.initiate(t, "alice", "voicecall", id), provider.StatusFailed, "send limit reached for destination +1 ***-***-0123; nothing sent")
			if f.voice.count() != 1 || f.sms.count() != 1 {
				t.Errorf("%d calls, %d SMS", f.voice.count(), f.sms.count())
			}
			f.clock.Advance(time.Hour)
			expect(t, "an hour later", f.initiate(t, "alice", "voicecall", id), provider.StatusPending, "")
		})
	})
	t.Run("defaults", func(t *testing.T) {
		testdb.ForEach(t, func(t *testing.T, st store.Store) {
			f, id := voiceFixture(t, st, func(c *engineConfig) { delete(c.section, "sendLimits") }) // the defaults
			expect(t, "call", f.initiate(t, "alice", "voicecall", id), provider.StatusPending, "")
			expect(t, "within 30s", f.initiate(t, "alice", "voicecall", id), provider.StatusFailed, "send limit reached for user alice or destination")
		})
	})
}

func TestVoiceCallExpiry(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f, id := voiceFixture(t, st, func(c *engineConfig) { c.set("voicecall.lifetime", "2m") })
		out := f.initiate(t, "alice", "voicecall", id)
		code := f.voice.last(t).Code
		f.clock.Advance(2*time.Minute - time.Second)
		expect(t, "result in time", f.result(t, "alice", "voicecall", id, out.TransactionID), provider.StatusPending, "")
		f.clock.Advance(time.Second)
		expect(t, "expired", f.validate(t, "alice", "voicecall", id, out.TransactionID, code), provider.StatusTimeout, "")
		expect(t, "result", f.result(t, "alice", "voicecall", id, out.TransactionID), provider.StatusTimeout, "")
	})
}

func TestVoiceCallLockout(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f, id := voiceFixture(t, st, func(c *engineConfig) {
			c.set("lockout.maxFailures", 3)
			c.set("voicecall.maxAttempts", 2)
		})
		tx := f.initiate(t, "alice", "voicecall", id).TransactionID
		code := f.voice.last(t).Code
		expect(t, "wrong 1", f.validate(t, "alice", "voicecall", id, tx, otherCode(code)), provider.StatusFailed, "attempt 1 of 2")
		expect(t, "wrong 2", f.validate(t, "alice", "voicecall", id, tx, otherCode(code)), provider.StatusFailed, "transaction failed")
		tx = f.initiate(t, "alice", "voicecall", id).TransactionID
		expect(t, "wrong 3 locks", f.validate(t, "alice", "voicecall", id, tx, otherCode(f.voice.last(t).Code)), provider.StatusFailed, "factor locked until")
		calls := f.voice.count()
		expect(t, "locked", f.initiate(t, "alice", "voicecall", id), provider.StatusFailed, "locked until")
		if f.voice.count() != calls {
			t.Error("a locked factor was called")
		}
		f.clock.Advance(15 * time.Minute)
		tx = f.initiate(t, "alice", "voicecall", id).TransactionID
		expect(t, "after the lockout", f.validate(t, "alice", "voicecall", id, tx, f.voice.last(t).Code), provider.StatusSuccess, "")
	})
}

// A sender that cannot call is refused at configuration, at the factor's path.
func TestVoiceCallSettings(t *testing.T) {
	_, err := check(t, `
providers:
  - {name: A, credentialPrefix: a, capabilities: [voicecall], builtin: {voicecall: {sender: mail, template: "no code"}}}
`)
	assertErrors(t, err, []string{
		"providers[0].builtin.voicecall.sender: a smtp sender cannot deliver voicecall",
		"providers[0].builtin.voicecall.template: must contain {{code}}",
	})
	_, err = check(t, `
providers:
  - {name: A, credentialPrefix: a, capabilities: [voicecall]}
`)
	assertErrors(t, err, []string{"providers[0].builtin.voicecall.sender: voicecall needs a sender"})
	if fields, ok := builtin.FieldsOf("voicecall"); !ok || len(fields) != 2 || fields[0].Name != "phone" || !fields[0].Required {
		t.Errorf("fields %+v", fields)
	}
}
