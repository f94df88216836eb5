package builtin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// outbox is a Sender that keeps what it is given, or refuses with err.
type outbox struct {
	channels []delivery.Channel
	mu       sync.Mutex
	msgs     []delivery.Message
	err      error
	hook     func() // called by Send first
}

func (o *outbox) Kind() string { return "outbox" }
func (o *outbox) Serves(c delivery.Channel) bool {
	for _, s := range o.channels {
		if s == c {
			return true
		}
	}
	return false
}
func (o *outbox) Send(_ context.Context, m delivery.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.hook != nil {
		o.hook()
	}
	if o.err != nil {
		return o.err
	}
	o.msgs = append(o.msgs, m)
	return nil
}
func (o *outbox) fail(err error) { o.mu.Lock(); o.err = err; o.mu.Unlock() }
func (o *outbox) count() int     { o.mu.Lock(); defer o.mu.Unlock(); return len(o.msgs) }
func (o *outbox) last(t *testing.T) delivery.Message {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.msgs) == 0 {
		t.Fatal("nothing sent")
	}
	return o.msgs[len(o.msgs)-1]
}

// engineFixture is an engine with recording senders, a fake clock and two users, for the
// factors of hotp.go, the code factors and question.go.
type engineFixture struct {
	engine            *builtin.Engine
	store             store.Store
	clock             *clock
	sms, email, voice *outbox
}

// engineConfig is what a fixture's engine is built from: a builtin section as
// configuration loading leaves it, the senders it names, the capabilities exposed.
type engineConfig struct {
	section map[string]any
	senders map[string]delivery.Sender
	caps    []string
	// observer, when set, is the engine's (metrics).
	observer builtin.Observer
}

// set sets a key of the section by its dotted path ("lockout.maxFailures").
func (c *engineConfig) set(path string, v any) {
	m := c.section
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		sub, ok := m[k].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[k] = sub
		}
		m = sub
	}
	m[keys[len(keys)-1]] = v
}

// unlimited lets any number of codes out, for tests that are not about send limits.
func unlimited() map[string]any { return map[string]any{"perUser": []any{}, "perDestination": []any{}} }

func newEngineFixture(t testing.TB, st store.Store, configure func(*engineConfig)) *engineFixture {
	t.Helper()
	f := &engineFixture{
		store: st, clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		sms: &outbox{channels: []delivery.Channel{delivery.SMS}}, email: &outbox{channels: []delivery.Channel{delivery.Email}},
		voice: &outbox{channels: []delivery.Channel{delivery.Voice}},
	}
	c := &engineConfig{
		section: map[string]any{
			"lockout":    map[string]any{"maxFailures": 5, "duration": "15m"},
			"smsotp":     map[string]any{"sender": "sms", "template": "{{user}}: your code is {{code}} ({{minutes}} min)"},
			"emailotp":   map[string]any{"sender": "email", "length": 8, "lifetime": "90s"},
			"voicecall":  map[string]any{"sender": "voice"},
			"sendLimits": unlimited(),
			"question":   map[string]any{"enabled": true},
		},
		senders: map[string]delivery.Sender{"sms": f.sms, "email": f.email, "voice": f.voice},
	}
	if configure != nil {
		configure(c)
	}
	f.engine = newEngine(t, st, f.clock.Now, c)
	for _, name := range []string{"alice", "bob"} {
		if err := st.CreateUser(context.Background(), store.User{ID: "u-" + name, Name: name, CreatedAt: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// newEngine builds an engine from c, with cheap argon2 parameters.
func newEngine(t testing.TB, st store.Store, now func() time.Time, c *engineConfig) *builtin.Engine {
	t.Helper()
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: now, Config: c.section, Capabilities: c.caps,
		Senders: func(name string) (delivery.Sender, error) { return c.senders[name], nil }, Observer: c.observer})
	if err != nil {
		t.Fatal(err)
	}
	builtin.SetArgon2(e, builtin.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1})
	return e
}

// enroll enrolls a factor of typ for user with values given as name, value pairs.
func (f *engineFixture) enroll(t testing.TB, typ, user string, nameValues ...string) builtin.Enrolled {
	t.Helper()
	enrolled, err := f.engine.Enroll(context.Background(), enrollment(typ, user, nameValues...))
	if err != nil {
		t.Fatal(err)
	}
	return enrolled
}

// enrollment is a request to enroll typ for user, with values as name, value pairs.
func enrollment(typ, user string, nameValues ...string) builtin.Enrollment {
	v := url.Values{}
	for i := 0; i+1 < len(nameValues); i += 2 {
		v.Add(nameValues[i], nameValues[i+1])
	}
	return builtin.Enrollment{Type: typ, User: user, Values: v}
}

func (f *engineFixture) call(t testing.TB, step func(*builtin.Engine, context.Context, provider.Request) (provider.Outcome, error), user, capability, id, txid, passvalue string) provider.Outcome {
	t.Helper()
	out, err := step(f.engine, context.Background(), provider.Request{
		Capability: capability, ID: id, TransactionID: txid, Username: user, Passvalue: passvalue,
		Attributes: map[string]any{"username": user},
	})
	if err != nil {
		t.Fatalf("%s %s: %v", capability, id, err)
	}
	if passvalue != "" && strings.Contains(out.Reason, passvalue) {
		t.Errorf("reason %q holds the passvalue", out.Reason)
	}
	return out
}

func (f *engineFixture) initiate(t testing.TB, user, capability, id string) provider.Outcome {
	t.Helper()
	return f.call(t, (*builtin.Engine).Initiate, user, capability, id, "", "")
}

func (f *engineFixture) validate(t testing.TB, user, capability, id, txid, code string) provider.Outcome {
	t.Helper()
	return f.call(t, (*builtin.Engine).Validate, user, capability, id, txid, code)
}

func (f *engineFixture) result(t testing.TB, user, capability, id, txid string) provider.Outcome {
	t.Helper()
	return f.call(t, (*builtin.Engine).Result, user, capability, id, txid, "")
}

func (f *engineFixture) enrollSMS(t testing.TB, user, phone string) string {
	t.Helper()
	return f.enroll(t, "smsotp", user, "phone", phone).Factor.ID
}

func (f *engineFixture) enrollEmail(t testing.TB, user, address string) string {
	t.Helper()
	return f.enroll(t, "emailotp", user, "email", address).Factor.ID
}

// expect checks an outcome's status and that its reason mentions reason.
func expect(t *testing.T, what string, out provider.Outcome, status provider.Status, reason string) {
	t.Helper()
	if out.Status != status || !strings.Contains(out.Reason, reason) {
		t.Errorf("%s: %s (%q), want %s (%q)", what, out.Status, out.Reason, status, reason)
	}
}

// otherCode is a code of the same length that is not code.
func otherCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func TestSMSOTPFlow(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		ctx := context.Background()
		id := f.enrollSMS(t, "alice", "+15551230123")

		list, err := f.engine.Enrollments(ctx, "alice")
		if err != nil || len(list) != 1 || list[0].Capability != "smsotp" || list[0].ID != id ||
			list[0].Attributes["authExecutionFlow"] != "init_then_validate" ||
			list[0].Attributes["deliveryAddress"] != "+1 ***-***-0123" || list[0].Attributes["deviceName"] != "Mobile" {
			t.Fatalf("enrollments: %+v %v", list, err)
		}

		out := f.initiate(t, "alice", "smsotp", id)
		if out.Status != provider.StatusPending || len(out.TransactionID) < 26 || out.Attributes["deliveryAddress"] != "+1 ***-***-0123" {
			t.Fatalf("initiate: %+v", out)
		}
		txid := out.TransactionID
		m := f.sms.last(t)
		if m.To != "+15551230123" || len(m.Code) != 6 || !allDigits(m.Code) || m.User != "alice" ||
			m.Text != "alice: your code is "+m.Code+" (5 min)" || m.Subject != "" {
			t.Fatalf("message: %+v", m)
		}
		// Only a keyed hash is kept.
		tx, err := st.GetTransaction(ctx, "b:"+txid)
		if err != nil || bytes.Contains(tx.Secret, []byte(m.Code)) || bytes.Contains(tx.Data, []byte(m.Code)) || tx.Status != "PENDING" {
			t.Fatalf("stored transaction: %+v %v", tx, err)
		}

		expect(t, "result before validate", f.result(t, "alice", "smsotp", id, txid), provider.StatusPending, "waiting")
		expect(t, "wrong code", f.validate(t, "alice", "smsotp", id, txid, otherCode(m.Code)), provider.StatusFailed, "wrong code (attempt 1 of 3)")
		expect(t, "malformed code", f.validate(t, "alice", "smsotp", id, txid, "12ab"), provider.StatusFailed, "wrong code (attempt 2 of 3)")
		expect(t, "no transactionId", f.validate(t, "alice", "smsotp", id, "", m.Code), provider.StatusFailed, "needs the transactionId")
		expect(t, "right code", f.validate(t, "alice", "smsotp", id, txid, m.Code), provider.StatusSuccess, "attempt 3 of 3")
		expect(t, "replayed", f.validate(t, "alice", "smsotp", id, txid, m.Code), provider.StatusFailed, "already SUCCESS")
		expect(t, "result after success", f.result(t, "alice", "smsotp", id, txid), provider.StatusSuccess, "already SUCCESS")
		// The success cleared the factor's failures.
		if fac, _ := st.GetFactor(ctx, id); fac.Failures != 0 {
			t.Errorf("failures after success: %d", fac.Failures)
		}
	})
}

func TestEmailOTPFlow(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		id := f.enrollEmail(t, "alice", "Alice.Smith@Example.COM")
		list, _ := f.engine.Enrollments(context.Background(), "alice")
		if len(list) != 1 || list[0].Attributes["deliveryAddress"] != "A***@example.com" || list[0].Attributes["deviceName"] != "E-mail" {
			t.Fatalf("enrollments: %+v", list)
		}
		out := f.initiate(t, "alice", "emailotp", id)
		m := f.email.last(t)
		if out.Status != provider.StatusPending || m.To != "Alice.Smith@example.com" || len(m.Code) != 8 ||
			m.Subject != "Your sign-in code" || !strings.Contains(m.Text, m.Code) || !strings.Contains(m.Text, "2 minutes") {
			t.Fatalf("initiate %+v, message %+v", out, m)
		}
		if f.sms.count() != 0 {
			t.Error("an e-mail code went out by SMS")
		}
		expect(t, "right code", f.validate(t, "alice", "emailotp", id, out.TransactionID, m.Code), provider.StatusSuccess, "")
	})
}

func TestCodeMaxAttempts(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		id := f.enrollSMS(t, "alice", "+15551230123")
		out := f.initiate(t, "alice", "smsotp", id)
		code := f.sms.last(t).Code
		for i := 1; i <= 3; i++ {
			expect(t, "wrong code", f.validate(t, "alice", "smsotp", id, out.TransactionID, otherCode(code)), provider.StatusFailed, "wrong code")
		}
		expect(t, "right code after the last attempt", f.validate(t, "alice", "smsotp", id, out.TransactionID, code), provider.StatusFailed, "already FAILED")
		expect(t, "result", f.result(t, "alice", "smsotp", id, out.TransactionID), provider.StatusFailed, "")
		// Each wrong code also counted toward the factor's lockout.
		if fac, _ := st.GetFactor(context.Background(), id); fac.Failures != 3 {
			t.Errorf("factor failures %d, want 3", fac.Failures)
		}
	})
}

func TestCodeExpiry(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		id := f.enrollEmail(t, "alice", "alice@example.com")
		out := f.initiate(t, "alice", "emailotp", id)
		code := f.email.last(t).Code
		f.clock.Advance(90 * time.Second) // the e-mail lifetime
		expect(t, "expired", f.validate(t, "alice", "emailotp", id, out.TransactionID, code), provider.StatusTimeout, "TIMEOUT")
		expect(t, "result", f.result(t, "alice", "emailotp", id, out.TransactionID), provider.StatusTimeout, "")
		expect(t, "again", f.validate(t, "alice", "emailotp", id, out.TransactionID, code), provider.StatusTimeout, "")
	})
}

func TestCodeForeignTransactions(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		aliceSMS := f.enrollSMS(t, "alice", "+15551230123")
		aliceMail := f.enrollEmail(t, "alice", "alice@example.com")
		bobSMS := f.enrollSMS(t, "bob", "+15551230124")
		aliceTx := f.initiate(t, "alice", "smsotp", aliceSMS).TransactionID
		aliceCode := f.sms.last(t).Code
		bobTx := f.initiate(t, "bob", "smsotp", bobSMS).TransactionID
		bobCode := f.sms.last(t).Code

		expect(t, "alice presents bob's transaction", f.validate(t, "alice", "smsotp", aliceSMS, bobTx, bobCode), provider.StatusFailed, "another user")
		expect(t, "bob names alice's factor", f.validate(t, "bob", "smsotp", aliceSMS, aliceTx, aliceCode), provider.StatusFailed, "another user")
		expect(t, "alice's sms transaction on her e-mail factor", f.validate(t, "alice", "emailotp", aliceMail, aliceTx, aliceCode), provider.StatusFailed, "another capability")
		expect(t, "unknown transaction", f.validate(t, "alice", "smsotp", aliceSMS, "nope", aliceCode), provider.StatusFailed, "unknown transaction")
		expect(t, "result of bob's transaction", f.result(t, "alice", "smsotp", aliceSMS, bobTx), provider.StatusFailed, "another user")
		// None of these consumed an attempt: both still validate, alice's under her name
		// in another case, which is hers (store.FoldName).
		expect(t, "Alice", f.validate(t, "Alice", "smsotp", aliceSMS, aliceTx, aliceCode), provider.StatusSuccess, "attempt 1 of 3")
		expect(t, "bob", f.validate(t, "bob", "smsotp", bobSMS, bobTx, bobCode), provider.StatusSuccess, "attempt 1 of 3")
	})
}

func TestCodeNewInitiateCancelsOlder(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		id := f.enrollSMS(t, "alice", "+15551230123")
		other := f.enrollEmail(t, "alice", "alice@example.com")
		first := f.initiate(t, "alice", "smsotp", id).TransactionID
		firstCode := f.sms.last(t).Code
		mail := f.initiate(t, "alice", "emailotp", other).TransactionID
		f.clock.Advance(10 * time.Second)
		out := f.initiate(t, "alice", "smsotp", id)
		expect(t, "second initiate", out, provider.StatusPending, "1 earlier code(s) canceled")
		expect(t, "first code", f.validate(t, "alice", "smsotp", id, first, firstCode), provider.StatusFailed, "already CANCELED")
		expect(t, "first result", f.result(t, "alice", "smsotp", id, first), provider.StatusCanceled, "")
		expect(t, "second code", f.validate(t, "alice", "smsotp", id, out.TransactionID, f.sms.last(t).Code), provider.StatusSuccess, "")
		// Another factor's transaction is left alone.
		expect(t, "e-mail transaction", f.result(t, "alice", "emailotp", other, mail), provider.StatusPending, "")
	})
}

func TestCodeSendFailureLeavesNothingUsable(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		ctx := context.Background()
		id := f.enrollSMS(t, "alice", "+15551230123")
		earlier := f.initiate(t, "alice", "smsotp", id).TransactionID
		earlierCode := f.sms.last(t).Code

		f.sms.fail(&delivery.StatusError{Status: 400, Code: 21211, Message: "Invalid 'To' Phone Number: +1 ***-***-0123"})
		out := f.initiate(t, "alice", "smsotp", id)
		expect(t, "failed send", out, provider.StatusFailed, "send by outbox to +1 ***-***-0123: status 400 code 21211")
		if out.TransactionID != "" {
			t.Errorf("a failed send answered transaction %q", out.TransactionID)
		}
		pending, err := st.ListPendingTransactions(ctx, id, f.clock.Now())
		if err != nil || len(pending) != 1 || pending[0].ID != "b:"+earlier {
			t.Fatalf("pending after a failed send: %+v %v", pending, err)
		}
		// The code the user already holds still works: a failed resend canceled nothing.
		expect(t, "earlier code", f.validate(t, "alice", "smsotp", id, earlier, earlierCode), provider.StatusSuccess, "")

		// A request cancelled during the send (Verify gave up) still fails its transaction.
		cctx, cancel := context.WithCancel(ctx)
		f.sms.mu.Lock()
		f.sms.hook, f.sms.err = cancel, context.Canceled
		f.sms.mu.Unlock()
		out, err = f.engine.Initiate(cctx, provider.Request{Capability: "smsotp", ID: id, Username: "alice"})
		if err != nil || out.Status != provider.StatusFailed || out.TransactionID != "" {
			t.Fatalf("send cancelled: %+v %v", out, err)
		}
		if pending, _ := st.ListPendingTransactions(ctx, id, f.clock.Now()); len(pending) != 0 {
			t.Errorf("pending after a cancelled send: %+v", pending)
		}
	})
}

func TestCodeSendLimits(t *testing.T) {
	t.Run("same limits per user and destination", func(t *testing.T) {
		testdb.ForEach(t, func(t *testing.T, st store.Store) {
			f := newEngineFixture(t, st, func(c *engineConfig) { delete(c.section, "sendLimits") }) // the defaults
			id := f.enrollSMS(t, "alice", "+15551230123")
			expect(t, "first", f.initiate(t, "alice", "smsotp", id), provider.StatusPending, "")
			out := f.initiate(t, "alice", "smsotp", id)
			expect(t, "second within 30s", out, provider.StatusFailed, "send limit reached for user alice or destination +1 ***-***-0123; nothing sent")
			if f.sms.count() != 1 || out.TransactionID != "" {
				t.Errorf("sent %d, transaction %q", f.sms.count(), out.TransactionID)
			}
			pending, _ := st.ListPendingTransactions(context.Background(), id, f.clock.Now())
			if len(pending) != 1 {
				t.Errorf("a refused send left %d pending transactions", len(pending))
			}
			f.clock.Advance(30 * time.Second)
			expect(t, "after 30s", f.initiate(t, "alice", "smsotp", id), provider.StatusPending, "")
			// Ten per hour: eight more, 30 s apart, then refused.
			for range 8 {
				f.clock.Advance(30 * time.Second)
				expect(t, "within the hourly limit", f.initiate(t, "alice", "smsotp", id), provider.StatusPending, "")
			}
			f.clock.Advance(30 * time.Second)
			expect(t, "eleventh in the hour", f.initiate(t, "alice", "smsotp", id), provider.StatusFailed, "send limit")
			if f.sms.count() != 10 {
				t.Errorf("sent %d, want 10", f.sms.count())
			}
		})
	})
	t.Run("per destination", func(t *testing.T) {
		testdb.ForEach(t, func(t *testing.T, st store.Store) {
			f := newEngineFixture(t, st, func(c *engineConfig) {
				c.set("sendLimits.perUser", []any{map[string]any{"window": "1h", "max": 10}})
				c.set("sendLimits.perDestination", []any{map[string]any{"window": "1h", "max": 1}})
			})
			// Two users share a phone; addresses differ only in case.
			alice := f.enrollSMS(t, "alice", "+447911123456")
			bob := f.enrollSMS(t, "bob", "+447911123456")
			aliceMail := f.enrollEmail(t, "alice", "desk@example.com")
			bobMail := f.enrollEmail(t, "bob", "DESK@example.com")
			expect(t, "alice", f.initiate(t, "alice", "smsotp", alice), provider.StatusPending, "")
			expect(t, "bob, same phone", f.initiate(t, "bob", "smsotp", bob), provider.StatusFailed, "send limit reached for destination +44 ******3456")
			expect(t, "alice, mail", f.initiate(t, "alice", "emailotp", aliceMail), provider.StatusPending, "")
			expect(t, "bob, same mailbox", f.initiate(t, "bob", "emailotp", bobMail), provider.StatusFailed, "destination D***@example.com")
			if f.sms.count() != 1 || f.email.count() != 1 {
				t.Errorf("sent %d SMS and %d e-mails", f.sms.count(), f.email.count())
			}
		})
	})
	t.Run("per user", func(t *testing.T) {
		testdb.ForEach(t, func(t *testing.T, st store.Store) {
			f := newEngineFixture(t, st, func(c *engineConfig) {
				c.set("sendLimits.perUser", []any{map[string]any{"window": "1h", "max": 2}})
				c.set("sendLimits.perDestination", []any{map[string]any{"window": "1h", "max": 10}})
			})
			phone := f.enrollSMS(t, "alice", "+15551230123")
			mail := f.enrollEmail(t, "alice", "alice@example.com")
			expect(t, "sms", f.initiate(t, "alice", "smsotp", phone), provider.StatusPending, "")
			expect(t, "mail", f.initiate(t, "alice", "emailotp", mail), provider.StatusPending, "")
			expect(t, "third", f.initiate(t, "alice", "smsotp", phone), provider.StatusFailed, "send limit reached for user alice; nothing sent")
			// The name in another case is the same user (store.FoldName), with the same count.
			expect(t, "third, as ALICE", f.initiate(t, "ALICE", "smsotp", phone), provider.StatusFailed, "send limit reached for user ALICE; nothing sent")
			bob := f.enrollSMS(t, "bob", "+15551230124")
			expect(t, "another user", f.initiate(t, "bob", "smsotp", bob), provider.StatusPending, "")
			f.clock.Advance(time.Hour)
			expect(t, "an hour later", f.initiate(t, "alice", "smsotp", phone), provider.StatusPending, "")
		})
	})
}

func TestCodeLockout(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, func(c *engineConfig) { c.set("lockout.maxFailures", 4) })
		id := f.enrollSMS(t, "alice", "+15551230123")
		// Wrong codes across transactions lock the factor.
		for range 2 {
			tx := f.initiate(t, "alice", "smsotp", id).TransactionID
			code := f.sms.last(t).Code
			f.validate(t, "alice", "smsotp", id, tx, otherCode(code))
			f.validate(t, "alice", "smsotp", id, tx, otherCode(code))
		}
		sent := f.sms.count()
		expect(t, "locked initiate", f.initiate(t, "alice", "smsotp", id), provider.StatusFailed, "locked until")
		if f.sms.count() != sent {
			t.Error("a locked factor was sent a code")
		}
		f.clock.Advance(15 * time.Minute)
		tx := f.initiate(t, "alice", "smsotp", id).TransactionID
		expect(t, "after the lockout", f.validate(t, "alice", "smsotp", id, tx, f.sms.last(t).Code), provider.StatusSuccess, "")
	})
}

// One success per transaction: twenty parallel validations of the right code.
func TestCodeConcurrentValidations(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		id := f.enrollSMS(t, "alice", "+15551230123")
		tx := f.initiate(t, "alice", "smsotp", id).TransactionID
		code := f.sms.last(t).Code
		var wg sync.WaitGroup
		var successes atomic.Int32
		for range 20 {
			wg.Go(func() {
				out, err := f.engine.Validate(context.Background(), provider.Request{
					Capability: "smsotp", ID: id, TransactionID: tx, Username: "alice", Passvalue: code,
				})
				if err != nil {
					t.Error(err)
				}
				if out.Status == provider.StatusSuccess {
					successes.Add(1)
				} else if out.Status != provider.StatusFailed {
					t.Errorf("status %s", out.Status)
				}
			})
		}
		wg.Wait()
		if n := successes.Load(); n != 1 {
			t.Fatalf("%d successes, want exactly 1", n)
		}
		expect(t, "result", f.result(t, "alice", "smsotp", id, tx), provider.StatusSuccess, "")
		// Duplicates of the right code are not failures of the factor.
		if fac, _ := st.GetFactor(context.Background(), id); fac.Failures != 0 {
			t.Errorf("factor failures %d", fac.Failures)
		}
	})
}

func TestEnrollCodeRefusals(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		ctx := context.Background()
		f.enrollSMS(t, "alice", "+15551230123")
		f.enrollEmail(t, "alice", "alice@example.com")
		cases := []struct {
			name string
			err  error
			want error
		}{
			{"national number", second(f.engine.Enroll(ctx, enrollment("smsotp", "alice", "phone", "555-0123"))), builtin.ErrInvalidDestination},
			{"spaces", second(f.engine.Enroll(ctx, enrollment("smsotp", "alice", "phone", "+1 555 123 0123"))), builtin.ErrInvalidDestination},
			{"a digit short", second(f.engine.Enroll(ctx, enrollment("smsotp", "alice", "phone", "+1555123012"))), builtin.ErrInvalidDestination},
			{"no calling code", second(f.engine.Enroll(ctx, enrollment("smsotp", "alice", "phone", "+2812345678"))), builtin.ErrInvalidDestination},
			{"display name", second(f.engine.Enroll(ctx, enrollment("emailotp", "alice", "email", "Alice <alice@example.com>"))), builtin.ErrInvalidDestination},
			{"no domain", second(f.engine.Enroll(ctx, enrollment("emailotp", "alice", "email", "alice"))), builtin.ErrInvalidDestination},
			{"duplicate phone", second(f.engine.Enroll(ctx, enrollment("smsotp", "alice", "phone", "+15551230123"))), builtin.ErrDuplicate},
			{"duplicate address", second(f.engine.Enroll(ctx, enrollment("emailotp", "alice", "email", "ALICE@example.com"))), builtin.ErrDuplicate},
			{"duplicate voice phone", second(f.engine.Enroll(ctx, enrollment("voicecall", "alice", "phone", "+15551230123"))), nil},
			{"duplicate voice phone again", second(f.engine.Enroll(ctx, enrollment("voicecall", "alice", "phone", "+15551230123"))), builtin.ErrDuplicate},
			{"unknown user", second(f.engine.Enroll(ctx, enrollment("smsotp", "zed", "phone", "+15551230123"))), store.ErrNotFound},
			{"unknown type", second(f.engine.Enroll(ctx, enrollment("fax", "alice", "phone", "+15551230123"))), builtin.ErrUnknownType},
		}
		for _, c := range cases {
			if !errors.Is(c.err, c.want) || (c.want == nil) != (c.err == nil) {
				t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
			}
		}
		list, _ := st.ListFactors(ctx, "u-alice")
		if len(list) != 3 { // sms, e-mail, voice
			t.Errorf("refusals wrote factors: %d", len(list))
		}
		// Bob may use alice's phone: a duplicate is per user.
		f.enrollSMS(t, "bob", "+15551230123")
	})
}

func second[T any](_ T, err error) error { return err }

func TestCodeWithoutSender(t *testing.T) {
	f := newEngineFixture(t, testdb.SQLite(t), func(c *engineConfig) { c.set("smsotp.sender", "") })
	id := f.enrollSMS(t, "alice", "+15551230123")
	expect(t, "initiate", f.initiate(t, "alice", "smsotp", id), provider.StatusFailed, "no sender configured for smsotp")
}

// The codes are uniform: over many draws every digit turns up about as often in every
// position (a chi-squared bound loose enough never to fail by chance).
func TestCodeDigitsUniform(t *testing.T) {
	f := newEngineFixture(t, testdb.SQLite(t), nil)
	id := f.enrollSMS(t, "alice", "+15551230123")
	var counts [10]int
	const draws = 300
	for range draws {
		f.initiate(t, "alice", "smsotp", id)
		for _, c := range f.sms.last(t).Code {
			counts[c-'0']++
		}
	}
	expected := float64(draws*6) / 10
	chi := 0.0
	for _, n := range counts {
		d := float64(n) - expected
		chi += d * d / expected
	}
	if chi > 40 { // 9 degrees of freedom: p < 1e-5
		t.Errorf("digit counts %v: chi-squared %.1f", counts, chi)
	}
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// codeCapture is a slog.Handler that keeps the codes the log sender writes, by recipient.
type codeCapture struct {
	mu    sync.Mutex
	codes map[string]string
}

func (c *codeCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *codeCapture) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *codeCapture) WithGroup(string) slog.Handler            { return c }
func (c *codeCapture) Handle(_ context.Context, r slog.Record) error {
	var to, code string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "to":
			to = a.Value.String()
		case "code":
			code = a.Value.String()
		}
		return true
	})
	c.mu.Lock()
	c.codes[to] = code
	c.mu.Unlock()
	return nil
}

func (c *codeCapture) code(to string) string { c.mu.Lock(); defer c.mu.Unlock(); return c.codes[to] }

// benchStores runs a benchmark on SQLite and, when configured, PostgreSQL.
func benchStores(b *testing.B, fn func(b *testing.B, st store.Store)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, testdb.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, testdb.Postgres(b)) })
}

// smsBench is an engine whose SMS go to the log sender, with n users each holding one
// smsotp factor (phones +1555000000i).
func smsBench(b *testing.B, st store.Store, n int, limits map[string]any, capture *codeCapture) (*engineFixture, []string) {
	b.Helper()
	var handler slog.Handler = slog.DiscardHandler
	if capture != nil {
		handler = capture
	}
	f := newEngineFixture(b, st, func(c *engineConfig) {
		c.senders["sms"] = delivery.NewLog(slog.New(handler))
		c.section["sendLimits"] = limits
	})
	ctx := context.Background()
	ids := make([]string, n)
	for i := range n {
		user := fmt.Sprintf("user%d", i)
		if err := st.CreateUser(ctx, store.User{ID: "u-" + user, Name: user, CreatedAt: f.clock.Now()}); err != nil {
			b.Fatal(err)
		}
		ids[i] = f.enrollSMS(b, user, fmt.Sprintf("+1555%07d", i))
	}
	return f, ids
}

// The default-shaped limit (one per 30 s per user and per number), met by moving the
// clock 31 s per initiate: every initiate reserves, stores, sends and cancels for real.
var benchLimits = map[string]any{"perUser": []any{map[string]any{"window": "30s", "max": 1}}, "perDestination": []any{map[string]any{"window": "30s", "max": 1}}}

func BenchmarkSMSInitiate(b *testing.B) {
	benchStores(b, func(b *testing.B, st store.Store) {
		f, ids := smsBench(b, st, 1, benchLimits, nil)
		ctx := context.Background()
		req := provider.Request{Capability: "smsotp", ID: ids[0], Username: "user0"}
		b.ReportAllocs()
		for b.Loop() {
			f.clock.Advance(31 * time.Second)
			if out, err := f.engine.Initiate(ctx, req); err != nil || out.Status != provider.StatusPending {
				b.Fatalf("%+v %v", out, err)
			}
		}
	})
}

func BenchmarkSMSInitiateParallel(b *testing.B) {
	benchStores(b, func(b *testing.B, st store.Store) {
		const users = 64
		f, ids := smsBench(b, st, users, benchLimits, nil)
		var next atomic.Int32
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			// A user and number per goroutine; every initiate moves the shared clock, so
			// a goroutine's own initiates are always 31 s apart or more.
			i := int(next.Add(1)-1) % users
			req := provider.Request{Capability: "smsotp", ID: ids[i], Username: fmt.Sprintf("user%d", i)}
			for pb.Next() {
				f.clock.Advance(31 * time.Second)
				if out, err := f.engine.Initiate(context.Background(), req); err != nil || out.Status != provider.StatusPending {
					b.Errorf("%+v %v", out, err)
					return
				}
			}
		})
	})
}

// smsValidations prepares n pending transactions, one per factor (a new code cancels the
// previous one of its factor), and returns the validate requests that complete them.
func smsValidations(b *testing.B, st store.Store, n int) (*engineFixture, []provider.Request) {
	b.Helper()
	capture := &codeCapture{codes: map[string]string{}}
	f, ids := smsBench(b, st, 1, unlimited(), capture)
	ctx := context.Background()
	fac, _ := st.GetFactor(ctx, ids[0])
	reqs := make([]provider.Request, n)
	for i := range n {
		phone := fmt.Sprintf("+1556%07d", i)
		id := fmt.Sprintf("bench-%d", i)
		if err := st.CreateFactor(ctx, store.Factor{ID: id, UserID: fac.UserID, Type: "smsotp", Label: "Mobile",
			State: store.FactorActive, Params: map[string]string{"phone": phone}, Counter: -1, CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}); err != nil {
			b.Fatal(err)
		}
		out, err := f.engine.Initiate(ctx, provider.Request{Capability: "smsotp", ID: id, Username: "user0"})
		if err != nil || out.Status != provider.StatusPending {
			b.Fatalf("%+v %v", out, err)
		}
		reqs[i] = provider.Request{Capability: "smsotp", ID: id, Username: "user0", TransactionID: out.TransactionID, Passvalue: capture.code(phone)}
	}
	return f, reqs
}

func BenchmarkSMSValidate(b *testing.B) {
	benchStores(b, func(b *testing.B, st store.Store) {
		f, reqs := smsValidations(b, st, b.N)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if out, err := f.engine.Validate(ctx, reqs[i]); err != nil || out.Status != provider.StatusSuccess {
				b.Fatalf("%+v %v", out, err)
			}
		}
	})
}

func BenchmarkSMSValidateParallel(b *testing.B) {
	benchStores(b, func(b *testing.B, st store.Store) {
		f, reqs := smsValidations(b, st, b.N)
		var next atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := reqs[next.Add(1)-1]
				if out, err := f.engine.Validate(context.Background(), req); err != nil || out.Status != provider.StatusSuccess {
					b.Errorf("%+v %v", out, err)
					return
				}
			}
		})
	})
}

// gatedSender holds its first Send until release is closed, as a slow gateway does.
type gatedSender struct {
	mu               sync.Mutex
	codes            []string
	entered, release chan struct{}
}

func (g *gatedSender) Kind() string                   { return "gated" }
func (g *gatedSender) Serves(c delivery.Channel) bool { return c == delivery.SMS }
func (g *gatedSender) Send(_ context.Context, m delivery.Message) error {
	g.mu.Lock()
	g.codes = append(g.codes, m.Code)
	first := len(g.codes) == 1
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.release
	}
	return nil
}

// TestResendWhileTheFirstCodeIsOnItsWay: a second initiate (the user asks for the code
// again) starts while the gateway still holds the first code. The newer code goes out
// and withdraws the older challenge; when the older code's send returns, its own unit
// withdraws only challenges older than it, so the newer code works. Before, that unit
// withdrew every other pending challenge, the newer one too, and neither code worked.
func TestResendWhileTheFirstCodeIsOnItsWay(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		gw := &gatedSender{entered: make(chan struct{}), release: make(chan struct{})}
		f := newEngineFixture(t, st, func(c *engineConfig) { c.senders["sms"] = gw })
		id := f.enrollSMS(t, "alice", "+15551230123")
		var first provider.Outcome
		done := make(chan struct{})
		go func() {
			defer close(done)
			first, _ = f.engine.Initiate(context.Background(), provider.Request{Capability: "smsotp", ID: id, Username: "alice",
				Attributes: map[string]any{"username": "alice"}})
		}()
		testwait.Recv(t, "the first initiate to reach the SMS gateway", gw.entered) // the older challenge exists; its code is on its way
		f.clock.Advance(time.Second)
		second := f.initiate(t, "alice", "smsotp", id)
		close(gw.release)
		testwait.Recv(t, "the first initiate to end once the gateway answered", done)
		if first.Status != provider.StatusPending || second.Status != provider.StatusPending {
			t.Fatalf("initiates: %+v, %+v", first, second)
		}
		older, _ := st.GetTransaction(context.Background(), "b:"+first.TransactionID)
		newer, _ := st.GetTransaction(context.Background(), "b:"+second.TransactionID)
		if older.Status != string(provider.StatusCanceled) || newer.Status != string(provider.StatusPending) {
			t.Errorf("older challenge %s, newer %s; want CANCELED, PENDING", older.Status, newer.Status)
		}
		expect(t, "the older code", f.validate(t, "alice", "smsotp", id, first.TransactionID, gw.codes[0]), provider.StatusFailed, "CANCELED")
		expect(t, "the newer code", f.validate(t, "alice", "smsotp", id, second.TransactionID, gw.codes[1]), provider.StatusSuccess, "")
	})
}
